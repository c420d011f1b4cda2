"""Writer recovery arithmetic: from fenced segment states to the durable point (recovery.md).

The I/O side (fencing, truncating, fetching records) lives in ``_cluster.py``; this module is
the pure part, so every rule is testable without processes:

* ``quorum_gaps``: the placements that still lack a read quorum (3 of their 6 nodes). With
  placement ``(g + i) mod N`` there are only N distinct placements, so covering all of them
  covers every protection group, including ones no responder reported (a PG no member of a
  read quorum knows of never had a durable record: every durable record is on 4 of its 6).
* ``effective_states``: per PG, the SCL of each responder, capped at the newest truncation any
  responder of that PG reports when its own truncation is older: records above that point on a
  segment that missed the truncation belong to a writer that was already fenced (R3).
* ``plan``: VCL = min over PGs of the highest effective SCL (R2: >= every acknowledged commit);
  the durable point D = the highest TXN_END <= VCL, or the PGs whose TXN_END must be found by
  scanning their records (a responder reports only its highest TXN_END <= its own SCL, which
  may lie above VCL); the first LSN of the new epoch G = (highest LSN seen) + window + margin
  + 1 (the old writer cannot have allocated beyond VDL + window + one MTR).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from aurora_lite.membership import READ_QUORUM, REPLICAS
from aurora_lite.redo import FLAG_TXN_END, iter_records
from aurora_lite.wire import PgState, SegmentState

# LsnAllocator.mark() checks the window before an MTR, whose records are allocated after it:
# the old writer may have gone this many LSNs beyond VDL + window (an MTR's records; a
# rollback VOID has one per PG).
MTR_MARGIN = 1 << 16


def quorum_gaps(responders: Iterable[int], node_count: int,
                read_quorum: int = READ_QUORUM) -> list[int]:
    """Placements (by first node-list position) with fewer than ``read_quorum`` responders
    among their six nodes; ``responders`` are node-list positions."""
    answered = set(responders)
    gaps = []
    for first in range(node_count):
        members = {(first + i) % node_count for i in range(REPLICAS)}
        if len(members & answered) < read_quorum:
            gaps.append(first)
    return gaps


@dataclass(frozen=True)
class SegmentView:
    """One responder's state for one PG, as recovery trusts it."""

    node: int
    scl: int                # effective SCL (capped by a newer truncation it missed)
    reported_scl: int
    max_lsn: int
    last_txn_end: int       # highest TXN_END <= reported_scl
    capped: bool


def effective_states(states: Mapping[int, SegmentState],
                     holders: Mapping[int, Iterable[int]]) -> dict[int, dict[int, SegmentView]]:
    """pg -> node -> SegmentView for every PG any responder reports. ``holders[pg]`` are the
    node ids placed on ``pg``; a responder that holds ``pg`` but reports nothing for it has
    no record of it (SCL 0)."""
    reported: dict[int, dict[int, PgState]] = {}
    for node, state in states.items():
        for pg_state in state.pgs:
            reported.setdefault(pg_state.pg, {})[node] = pg_state
    views: dict[int, dict[int, SegmentView]] = {}
    for pg, by_node in reported.items():
        newest = max(by_node.values(), key=lambda s: (s.truncation_epoch, -s.truncation_lsn))
        views[pg] = {}
        for node in holders[pg]:
            if node not in states:
                continue
            pg_state = by_node.get(node)
            if pg_state is None:
                views[pg][node] = SegmentView(node, 0, 0, 0, 0, False)
                continue
            scl = pg_state.scl
            capped = False
            if pg_state.truncation_epoch < newest.truncation_epoch and \
                    scl > newest.truncation_lsn:
                scl, capped = newest.truncation_lsn, True
            views[pg][node] = SegmentView(node, scl, pg_state.scl, pg_state.max_lsn,
                                          pg_state.last_txn_end, capped)
    return views


@dataclass(frozen=True)
class Scan:
    """Find the highest TXN_END of ``pg`` in (low, high] in the records of ``nodes`` (tried in
    order: the most complete first)."""

    pg: int
    low: int
    high: int
    nodes: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    vcl: int
    durable_point: int                   # valid once every scan is done (see resolve)
    max_lsn: int
    pgs: tuple[int, ...]
    scans: tuple[Scan, ...] = field(default_factory=tuple)

    def resolve(self, found: Mapping[int, int]) -> int:
        """The durable point once ``found[pg]`` (the highest TXN_END in the scanned range, or
        0) is known for every scan."""
        point = self.durable_point
        for scan in self.scans:
            point = max(point, found.get(scan.pg, 0))
        return point


def plan(views: Mapping[int, Mapping[int, SegmentView]]) -> Plan:
    """VCL, the durable point (or the scans that decide it) and the highest LSN seen."""
    pgs = tuple(sorted(views))
    max_lsn = max((v.max_lsn for by_node in views.values() for v in by_node.values()),
                  default=0)
    if not pgs:
        return Plan(0, 0, max_lsn, pgs)
    # R2: an acknowledged commit is on 4 of 6 segments of each PG, so on at least one member of
    # any read quorum: the highest SCL of each PG is >= it, and so is the minimum over PGs.
    vcl = min(max(v.scl for v in by_node.values()) for by_node in views.values())
    # A TXN_END <= VCL that a responder reports is a lower bound of the durable point.
    bound = 0
    for by_node in views.values():
        for view in by_node.values():
            if view.last_txn_end <= min(view.scl, vcl):
                bound = max(bound, view.last_txn_end)
    scans = []
    for pg in pgs:
        ranked = sorted(views[pg].values(), key=lambda v: v.scl, reverse=True)
        best = ranked[0]
        if best.last_txn_end <= vcl and not best.capped:
            # No TXN_END of this PG in (last_txn_end, scl] and scl >= vcl: exact.
            bound = max(bound, best.last_txn_end)
            continue
        scans.append((pg, tuple(v.node for v in ranked if v.scl >= vcl)))
    point = bound
    return Plan(vcl, point, max_lsn, pgs,
                tuple(Scan(pg, point, vcl, nodes) for pg, nodes in scans if vcl > point))


def highest_txn_end(records: bytes, low: int, high: int, where: str) -> int:
    """The highest LSN in (low, high] of a record flagged TXN_END in ``records`` (0 if none);
    every record is checked (Invariant 5)."""
    found = 0
    for record in iter_records(records, where):
        if low < record.lsn <= high and record.flags & FLAG_TXN_END:
            found = max(found, record.lsn)
    return found


def first_lsn(max_lsn: int, vcl: int, window: int) -> int:
    """G: above anything the old writer can have allocated (recovery.md step 5)."""
    return max(max_lsn, vcl) + window + MTR_MARGIN + 1
