"""Quorum arithmetic of the writer: segment SCLs -> PGCL -> VCL -> VDL (docs/protocols/quorum.md).

``DurabilityTracker`` holds, for every protection group of the volume, the last SCL each of its
six segments reported (WRITE_ACK, SEGMENT_STATE), and the CPLs the writer submitted that are not
yet durable. From them:

* ``PGCL(g)`` = the 4th highest SCL among the six segments of ``g`` (write quorum 4/6), never
  below the PG's *floor*: the LSN below which the PG is known to hold no record the writer has
  not confirmed (a PG created in this epoch had no records at all before its first section);
* ``VCL`` = the minimum PGCL over the PGs of the volume;
* ``VDL`` = the highest submitted CPL ``<= VCL``; it only moves forward. Commits are
  acknowledged only when ``VDL >= commit LSN`` (Q4, Invariant 2 of DESIGN.md).

A slow or dead segment does not hold VDL back while four of six keep up (Q4, Invariant 4): the
4th highest SCL ignores the two lowest. Pure bookkeeping, no I/O and no locks: the volume's I/O
thread owns one instance.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Sequence

from aurora_lite.membership import READ_QUORUM, WRITE_QUORUM

__all__ = ["DurabilityTracker", "READ_QUORUM", "WRITE_QUORUM", "kth_highest"]


def kth_highest(values: Iterable[int], k: int, slots: int) -> int:
    """The ``k``-th highest of ``values`` padded with zeros to ``slots`` entries (0 if fewer)."""
    ordered = sorted(values, reverse=True)
    if len(ordered) < slots:
        ordered.extend([0] * (slots - len(ordered)))
    return ordered[k - 1] if len(ordered) >= k else 0


class DurabilityTracker:
    """Per-segment SCLs, per-PG PGCL, VCL and VDL of one writer epoch. Not thread-safe."""

    def __init__(self, placement: Callable[[int], Sequence[int]], *,
                 write_quorum: int = WRITE_QUORUM, vdl: int = 0) -> None:
        self._placement = placement
        self.write_quorum = write_quorum
        self._scl: dict[int, dict[int, int]] = {}     # pg -> node -> last reported SCL
        self._floor: dict[int, int] = {}
        self._pgcl: dict[int, int] = {}
        self._cpls: deque[tuple[int, bool]] = deque()  # submitted CPLs above VDL, LSN order
        self.vcl = vdl
        self.vdl = vdl
        self.durable_txn_end = vdl

    # -- the PGs of the volume -------------------------------------------------------------------
    @property
    def pgs(self) -> list[int]:
        return sorted(self._scl)

    def has_pg(self, pg: int) -> bool:
        return pg in self._scl

    def add_pg(self, pg: int, floor: int = 0) -> None:
        """``pg`` joins the volume; it holds no record at or below ``floor`` that is not
        already quorum-durable (a PG the writer creates has none: floor = the frontier before
        its first section)."""
        if pg in self._scl:
            return
        self._scl[pg] = {node: 0 for node in self._placement(pg)}
        self._floor[pg] = floor
        self._pgcl[pg] = floor

    # -- evidence from segments ------------------------------------------------------------------
    def observe(self, node: int, pg: int, scl: int) -> bool:
        """A segment reported ``scl`` (an acknowledgement): SCLs only grow this way. Returns
        True when the PG's PGCL moved."""
        segments = self._scl.get(pg)
        if segments is None or node not in segments or scl <= segments[node]:
            return False
        segments[node] = scl
        return self._recompute(pg)

    def replace(self, node: int, pg: int, scl: int) -> None:
        """A segment's SCL as it is now, possibly lower than before (it was truncated, wiped or
        lost a damaged range). PGCL may fall; VDL never does."""
        segments = self._scl.get(pg)
        if segments is not None and node in segments:
            segments[node] = scl
            self._recompute(pg)

    def _recompute(self, pg: int) -> bool:
        segments = self._scl[pg]
        pgcl = max(self._floor[pg], kth_highest(segments.values(), self.write_quorum,
                                                len(segments)))
        if pgcl != self._pgcl[pg]:
            self._pgcl[pg] = pgcl
            return True
        return False

    def scl(self, node: int, pg: int) -> int:
        return self._scl.get(pg, {}).get(node, 0)

    def pgcl(self, pg: int) -> int:
        return self._pgcl[pg]

    def nodes_at(self, pg: int, lsn: int) -> list[int]:
        """The segments of ``pg`` whose last known SCL is >= ``lsn`` (they can serve a read at
        read point ``lsn``: Q7)."""
        return [node for node, scl in self._scl.get(pg, {}).items() if scl >= lsn]

    # -- CPLs and the durable points ---------------------------------------------------------------
    def add_cpl(self, lsn: int, txn_end: bool) -> None:
        """A submitted MTR batch ends with the CPL ``lsn`` (submissions come in LSN order)."""
        if self._cpls and lsn <= self._cpls[-1][0]:
            raise ValueError(f"CPL {lsn} submitted after CPL {self._cpls[-1][0]}")
        self._cpls.append((lsn, txn_end))

    def pending_cpls(self) -> int:
        return len(self._cpls)

    def highest_cpl(self) -> int:
        return self._cpls[-1][0] if self._cpls else self.vdl

    def advance(self) -> bool:
        """Recompute VCL and move VDL to the highest CPL <= VCL; True when VDL moved."""
        self.vcl = min(self._pgcl.values()) if self._pgcl else self.vcl
        cpls = self._cpls
        moved = False
        while cpls and cpls[0][0] <= self.vcl:
            lsn, txn_end = cpls.popleft()
            # Every record <= lsn is on four of six segments of every PG (Q4, Invariant 2).
            self.vdl = lsn
            if txn_end:
                self.durable_txn_end = lsn
            moved = True
        return moved
