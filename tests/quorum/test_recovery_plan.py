"""Recovery arithmetic (aurora_lite.volume._recovery): read quorums, truncation caps, VCL, the
durable point D and the first LSN of the new epoch (recovery.md R1-R3)."""

from __future__ import annotations

from aurora_lite.redo import MiniTransaction
from aurora_lite.volume import LsnAllocator
from aurora_lite.volume._recovery import (
    MTR_MARGIN, Scan, effective_states, first_lsn, highest_txn_end, plan, quorum_gaps,
)
from aurora_lite.wire import PgState, SegmentState

SIX = (1, 2, 3, 4, 5, 6)
HOLDERS = {pg: SIX for pg in range(8)}


def state(epoch: int, *pgs: PgState) -> SegmentState:
    return SegmentState(epoch, pgs)


def pg(pg_id: int, scl: int, txn_end: int, max_lsn: int | None = None,
       truncation: tuple[int, int] = (0, 0)) -> PgState:
    return PgState(pg_id, scl, scl if max_lsn is None else max_lsn, txn_end, txn_end,
                   truncation[0], truncation[1], 0)


def test_quorum_gaps_six_nodes():
    assert quorum_gaps([0, 1, 2], 6) == []
    assert quorum_gaps([0, 5], 6) == list(range(6))


def test_quorum_gaps_eight_nodes_cover_every_placement():
    # Placements are positions (g..g+5) mod 8; {0, 1, 2} leaves g = 3 (3..8) with none.
    gaps = quorum_gaps([0, 1, 2], 8)
    assert 3 in gaps and 0 not in gaps        # g = 0 lives on 0..5, g = 3 on 3..7 and 0
    assert quorum_gaps([0, 1, 2, 4, 5, 6, 7], 8) == []
    for first in quorum_gaps([0, 1, 2, 3], 8):
        members = {(first + i) % 8 for i in range(6)}
        assert len(members & {0, 1, 2, 3}) < 3


def test_vcl_takes_the_most_complete_segment_of_each_pg():
    states = {1: state(3, pg(0, 90, 80), pg(1, 70, 0)),
              2: state(3, pg(0, 60, 60), pg(1, 95, 0)),
              3: state(3, pg(0, 40, 40), pg(1, 40, 0))}
    outline = plan(effective_states(states, HOLDERS))
    assert outline.vcl == 90
    assert outline.durable_point == 80 and not outline.scans


def test_txn_end_above_vcl_needs_a_scan():
    # PG 0's best segment knows its last TXN_END only up to SCL 120 > VCL 100.
    states = {1: state(2, pg(0, 120, 110), pg(1, 100, 0)),
              2: state(2, pg(0, 50, 50), pg(1, 100, 0)),
              3: state(2, pg(0, 50, 50), pg(1, 100, 0))}
    outline = plan(effective_states(states, HOLDERS))
    assert outline.vcl == 100
    assert outline.scans == (Scan(0, 50, 100, (1,)),)
    assert outline.resolve({0: 95}) == 95
    assert outline.resolve({0: 0}) == 50


def test_a_segment_that_missed_a_truncation_is_capped():
    # Nodes 1 and 2 were truncated at 70 in epoch 4; node 3 still holds an old writer's
    # records up to 150 (epoch 3's truncation): they belong to no committed transaction.
    states = {1: state(4, pg(0, 70, 70, truncation=(4, 70))),
              2: state(4, pg(0, 60, 60, truncation=(4, 70))),
              3: state(4, pg(0, 150, 140, truncation=(3, 20)))}
    views = effective_states(states, HOLDERS)
    assert views[0][3].scl == 70 and views[0][3].capped
    outline = plan(views)
    assert outline.vcl == 70 and outline.durable_point == 70
    assert outline.max_lsn == 150


def test_a_responder_without_the_pg_counts_as_scl_zero():
    states = {1: state(1, pg(0, 30, 30)), 2: state(1), 3: state(1)}
    views = effective_states(states, HOLDERS)
    assert views[0][2].scl == 0
    assert plan(views).vcl == 30


def test_nothing_anywhere():
    outline = plan(effective_states({1: state(0), 2: state(0), 3: state(0)}, HOLDERS))
    assert (outline.vcl, outline.durable_point, outline.max_lsn, outline.pgs) == (0, 0, 0, ())


def test_first_lsn_is_beyond_the_old_writers_reach():
    assert first_lsn(500, 400, 1000) == 500 + 1000 + MTR_MARGIN + 1


def test_highest_txn_end_reads_the_flags():
    allocator = LsnAllocator(pg_size=16)
    buffer = bytearray()
    for txn_end in (False, True, False, True, False):
        mtr = MiniTransaction(allocator)
        mtr.void(0, 0)
        buffer += mtr.finish(txn_end=txn_end)
    assert highest_txn_end(bytes(buffer), 0, 5, "test") == 4
    assert highest_txn_end(bytes(buffer), 0, 3, "test") == 2
    assert highest_txn_end(bytes(buffer), 4, 5, "test") == 0


def test_random_crashes_keep_every_acknowledged_commit(rng):
    """R2: a writer acknowledged commits while segments of each PG held random prefixes of the
    log (at least four of six of every PG at or above each acknowledged commit); for every read
    quorum of three, D is >= every acknowledged commit, <= VCL, and a transaction end."""
    pgs = list(range(rng.randint(1, 3)))
    for _trial in range(40):
        last = rng.randint(50, 400)
        txn_ends = sorted(rng.sample(range(1, last + 1), rng.randint(1, 20)))
        acknowledged = rng.choice([0] + txn_ends)
        states = {}
        for node in SIX:
            states[node] = []
        for g in pgs:
            strong = set(rng.sample(SIX, 4))
            for node in SIX:
                low = acknowledged if node in strong else 0
                scl = rng.randint(low, last)
                ends = [t for t in txn_ends if t <= scl]
                states[node].append(pg(g, scl, max(ends, default=0), max_lsn=last))
        quorum = rng.sample(SIX, 3)
        views = effective_states({n: state(1, *states[n]) for n in quorum}, HOLDERS)
        outline = plan(views)
        found = {scan.pg: max([t for t in txn_ends if scan.low < t <= scan.high], default=0)
                 for scan in outline.scans}
        point = outline.resolve(found)
        assert point <= outline.vcl
        assert point >= acknowledged, (acknowledged, point, outline)
        assert point == 0 or point in txn_ends
        assert point == max([t for t in txn_ends if t <= outline.vcl], default=0)
