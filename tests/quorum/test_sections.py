"""Per-PG sections with frontier ranges (aurora_lite.volume._sections): quorum.md Q1 and Q3."""

from __future__ import annotations

import pytest

from aurora_lite.errors import InternalError
from aurora_lite.redo import RECORD_HEADER, MiniTransaction, record_offsets
from aurora_lite.volume import LsnAllocator
from aurora_lite.volume._sections import SectionBuilder, split_by_pg

PG_SIZE = 10


def mtr_buffer(allocator: LsnAllocator, pages: list[int]) -> tuple[bytes, int]:
    mtr = MiniTransaction(allocator)
    for page in pages:
        mtr.void(page, 0)
    return bytes(mtr.finish()), mtr.last_lsn


def pages_of(records: bytes) -> list[tuple[int, int]]:
    return [RECORD_HEADER.unpack_from(records, o)[2:5:2] for o in record_offsets(records)]


def test_split_by_pg_keeps_record_order_within_each_pg(rng):
    allocator = LsnAllocator(pg_size=PG_SIZE)
    pages = [rng.randrange(40) for _ in range(200)]
    buffer, _last = mtr_buffer(allocator, pages)
    parts: dict[int, list[bytes]] = {}
    split_by_pg(buffer, PG_SIZE, parts)
    for pg, chunks in parts.items():
        got = pages_of(b"".join(chunks))
        expected = [(lsn, page) for lsn, page in enumerate(pages, 1) if page // PG_SIZE == pg]
        assert got == expected
    assert sum(len(c) for chunks in parts.values() for c in chunks) == len(buffer)


def test_split_refuses_a_bad_buffer():
    with pytest.raises(InternalError):
        split_by_pg(b"\0" * 40, PG_SIZE, {})


def test_every_pg_gets_a_section_every_flush():
    allocator = LsnAllocator(pg_size=PG_SIZE)
    builder = SectionBuilder(PG_SIZE, frontier=0)
    first, last1 = mtr_buffer(allocator, [1, 2, 15])
    sections, new = builder.build([first], last1)
    assert new == [0, 1]
    assert [(s.pg, s.start, s.end) for s in sections] == [(0, 0, 3), (1, 0, 3)]
    second, last2 = mtr_buffer(allocator, [3])
    sections, new = builder.build([second], last2)
    assert new == []
    # PG 1 had nothing in (3, 4]: an empty section keeps its frontier moving (Q3).
    assert [(s.pg, s.start, s.end, len(s.records)) for s in sections] == \
        [(0, 3, 4, len(second)), (1, 3, 4, 0)]
    third, last3 = mtr_buffer(allocator, [25])
    sections, new = builder.build([third], last3)
    assert new == [2]
    # A new PG starts at 0: its new segments have SCL 0 and no gap to fill.
    assert [(s.pg, s.start, s.end) for s in sections] == [(0, 4, 5), (1, 4, 5), (2, 0, 5)]
    assert [(s.pg, s.start, s.end) for s in builder.heartbeat()] == \
        [(0, 5, 5), (1, 5, 5), (2, 5, 5)]


def test_after_recovery_every_known_pg_starts_at_the_durable_point():
    builder = SectionBuilder(PG_SIZE, frontier=70, pgs=[0, 1])
    allocator = LsnAllocator(1_000, pg_size=PG_SIZE)
    buffer, last = mtr_buffer(allocator, [0, 10])
    sections, _new = builder.build([buffer], last)
    assert [(s.pg, s.start, s.end) for s in sections] == [(0, 70, last), (1, 70, last)]


def test_single_pg_hint_skips_parsing():
    allocator = LsnAllocator(pg_size=PG_SIZE)
    builder = SectionBuilder(PG_SIZE)
    builder.single_pg_hint = True
    buffers = [mtr_buffer(allocator, [1, 2])[0], mtr_buffer(allocator, [3])[0]]
    sections, new = builder.build(buffers, 3)
    assert new == [0] and sections[0].records == b"".join(buffers)
