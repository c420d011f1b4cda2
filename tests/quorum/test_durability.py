"""SCL -> PGCL -> VCL -> VDL (aurora_lite.volume._quorum): quorum.md Q4 and Invariants 2 and 4."""

from __future__ import annotations

import pytest

from aurora_lite.volume._quorum import DurabilityTracker, kth_highest

SIX = (1, 2, 3, 4, 5, 6)


def tracker(pgs=(0,), vdl: int = 0) -> DurabilityTracker:
    result = DurabilityTracker(lambda pg: SIX, vdl=vdl)
    for pg in pgs:
        result.add_pg(pg)
    return result


def test_kth_highest_pads_missing_segments_with_zero():
    assert kth_highest([9, 3, 7, 5, 1, 8], 4, 6) == 5
    assert kth_highest([9, 3, 7], 4, 6) == 0
    assert kth_highest([], 1, 6) == 0


def test_pgcl_is_the_fourth_highest_scl():
    state = tracker()
    for node, scl in zip(SIX, (10, 20, 30, 40, 50, 60)):
        state.observe(node, 0, scl)
    assert state.pgcl(0) == 30


def test_two_slow_segments_do_not_hold_vdl_back():
    state = tracker()
    state.add_cpl(100, True)
    for node in (1, 2, 3, 4):
        state.observe(node, 0, 100)
    assert state.advance()
    assert state.vdl == 100 and state.durable_txn_end == 100


def test_three_acknowledgements_are_not_durable():
    state = tracker()
    state.add_cpl(100, True)
    for node in (1, 2, 3):
        state.observe(node, 0, 100)
    assert not state.advance()
    assert state.vdl == 0


def test_vcl_is_the_minimum_over_protection_groups():
    state = tracker(pgs=(0, 1))
    state.add_cpl(50, False)
    state.add_cpl(100, True)
    for node in SIX:
        state.observe(node, 0, 100)
    for node in (1, 2, 3, 4):
        state.observe(node, 1, 60)
    state.advance()
    assert state.vcl == 60
    assert state.vdl == 50                  # the highest CPL <= VCL, not VCL itself
    assert state.durable_txn_end == 0


def test_a_new_pg_has_its_floor():
    state = tracker(pgs=(0,))
    for node in SIX:
        state.observe(node, 0, 80)
    state.add_pg(1, floor=80)               # created at frontier 80: no records below
    state.add_cpl(80, True)
    assert state.advance() and state.vdl == 80
    state.add_cpl(90, True)
    for node in SIX:
        state.observe(node, 0, 90)
    assert not state.advance()              # PG 1's records up to 90 are not acknowledged
    for node in (2, 3, 5, 6):
        state.observe(node, 1, 90)
    assert state.advance() and state.vdl == 90


def test_scl_reports_only_grow_but_replace_may_lower_without_lowering_vdl():
    state = tracker()
    state.add_cpl(40, True)
    for node in SIX:
        state.observe(node, 0, 40)
    state.advance()
    assert not state.observe(1, 0, 10)      # an old acknowledgement arriving late
    assert state.scl(1, 0) == 40
    for node in (1, 2, 3):
        state.replace(node, 0, 0)           # wiped nodes
    state.advance()
    assert state.pgcl(0) == 0 and state.vcl == 0
    assert state.vdl == 40                  # what was acknowledged stays acknowledged


def test_cpls_must_come_in_lsn_order():
    state = tracker()
    state.add_cpl(10, False)
    with pytest.raises(ValueError):
        state.add_cpl(10, False)


def test_nodes_at_read_point():
    state = tracker()
    for node, scl in zip(SIX, (5, 50, 10, 60, 0, 50)):
        state.observe(node, 0, scl)
    assert sorted(state.nodes_at(0, 50)) == [2, 4, 6]
    assert state.nodes_at(7, 1) == []


def test_random_acknowledgements_against_a_model(rng):
    """VDL is always a submitted CPL that four segments of every PG hold, and the highest one
    (checked against a brute-force model over a random acknowledgement order)."""
    pgs = list(range(rng.randint(1, 4)))
    state = tracker(pgs=pgs)
    cpls, lsn = [], 0
    for _ in range(60):
        lsn += rng.randint(1, 9)
        txn_end = rng.random() < 0.4
        cpls.append((lsn, txn_end))
        state.add_cpl(lsn, txn_end)
    held = {(node, pg): 0 for node in SIX for pg in pgs}
    last_vdl = 0
    for _ in range(400):
        node, pg = rng.choice(SIX), rng.choice(pgs)
        scl = min(lsn, held[node, pg] + rng.randint(0, 40))
        held[node, pg] = scl
        state.observe(node, pg, scl)
        state.advance()
        quorum = min(sorted((held[n, g] for n in SIX), reverse=True)[3] for g in pgs)
        expected = max([c for c, _end in cpls if c <= quorum], default=0)
        assert state.vdl == expected
        assert state.vdl >= last_vdl
        ends = [c for c, end in cpls if end and c <= state.vdl]
        assert state.durable_txn_end == max(ends, default=0)
        last_vdl = state.vdl
