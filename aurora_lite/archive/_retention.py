"""Retention: which archived objects of a protection group are older than the window keeps.

The retention window is a duration: targets later than ``now - retention`` must stay
restorable. Its **cut** is the last commit at or before ``now - retention`` (an LSN, from the
commit table of PG 0's chunks). For each PG the base that restores the cut - the newest
snapshot whose pages are all at or below the cut - is kept, so is every chunk that ends at or
above that snapshot's LSN and every newer snapshot; everything older goes. A PG without such a
snapshot keeps everything (it has no other way to restore the oldest kept targets): at least
one snapshot is always kept before the oldest kept chunk.
"""

from __future__ import annotations

from aurora_lite.archive._names import ChunkRef, SnapshotRef


def retention_cut(commits: list[tuple[int, int]], now_us: int, retention_seconds: float) -> int:
    """The LSN of the last commit at or before ``now - retention`` (0: nothing is that old)."""
    limit = now_us - int(retention_seconds * 1_000_000)
    cut = 0
    for lsn, time in commits:
        if time > limit:
            break
        cut = lsn
    return cut


def expired(chunks: list[ChunkRef], snapshots: list[SnapshotRef],
            cut_lsn: int) -> list[str]:
    """Names of one PG's objects that no target at or after ``cut_lsn`` needs."""
    if cut_lsn <= 0:
        return []
    bases = [ref for ref in snapshots if ref.max_page_lsn <= cut_lsn]
    if not bases:
        return []
    keep = max(bases, key=lambda ref: (ref.lsn, ref.max_page_lsn))
    names = [ref.name for ref in snapshots if ref.lsn < keep.lsn]
    # The chunk ending at the snapshot's LSN stays: it holds the commit there (if any), which
    # the commit history needs to offer that point as the oldest restorable one.
    names += [ref.name for ref in chunks if ref.end < keep.lsn]
    return names
