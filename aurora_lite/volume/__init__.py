"""Volume: the writer's only path to storage (redo in, pages out).

Public surface: ``Volume`` (the interface), ``RecoveredState``, ``LocalVolume`` (one in-process
segment store with group commit), ``LsnAllocator`` / ``AllocatorMark`` (LSNs, per-PG back-links
and back-pressure, shared with the quorum client), ``ClusterVolume`` / ``ClusterOptions`` (the
quorum client of the six-segment storage tier: docs/protocols/quorum.md and recovery.md) and
``open_cluster_volume(directory)`` (a ClusterVolume for ``directory``/cluster.json; starting the
storage processes is the caller's business: aurora_lite.cluster). ``LOCAL_SEGMENT_DIR`` and
``LOCAL_PAGE_COUNT`` describe a local volume's directory (restore builds one).
``PageShipVolume`` / ``PageShipOptions``: page shipping, the mirrored-MySQL baseline of
bench/shipping.py (the one volume that sends page images; never used by a real database).
"""

from aurora_lite.volume._allocator import AllocatorMark, LsnAllocator
from aurora_lite.volume._cluster import ClusterOptions, ClusterVolume, open_cluster_volume
from aurora_lite.volume._interface import RecoveredState, Volume
from aurora_lite.volume._local import PAGE_COUNT as LOCAL_PAGE_COUNT
from aurora_lite.volume._local import SEGMENT_DIR as LOCAL_SEGMENT_DIR
from aurora_lite.volume._local import LocalVolume
from aurora_lite.volume._pageship import PageShipOptions, PageShipVolume

__all__ = ["Volume", "RecoveredState", "LocalVolume", "LsnAllocator", "AllocatorMark",
           "ClusterVolume", "ClusterOptions", "open_cluster_volume", "LOCAL_PAGE_COUNT",
           "LOCAL_SEGMENT_DIR", "PageShipVolume", "PageShipOptions"]
