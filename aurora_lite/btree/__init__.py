"""B-trees: ordered maps of memcomparable keys to values over 16 KB pages.

Public surface: ``BTree``, ``WriteContext`` (MTRs over the pool, batched shipping),
``LatestView`` / ``SnapshotView`` (what a read sees), ``DuplicateKeyError``, ``MAX_KEY``.
The B-tree never writes page bytes itself: every change is a redo record (Invariant 1).
"""

from aurora_lite.btree._cells import MAX_CELL, MAX_KEY
from aurora_lite.btree._context import WriteContext
from aurora_lite.btree._tree import BTree, DuplicateKeyError, LatestView, SnapshotView

__all__ = ["BTree", "WriteContext", "LatestView", "SnapshotView", "DuplicateKeyError",
           "MAX_KEY", "MAX_CELL"]
