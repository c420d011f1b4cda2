"""Valid random redo streams for the differential tests, built with MiniTransaction.

A stream is described by a list of operations (hypothesis draws them, see ``operations``);
``build`` interprets each one against the writer's own pages, bending it until it is legal
(a slot inside the page, a cell that fits), so every record in the result is one a writer
could have produced. The builder keeps those pages: with no ``upto_lsn`` they are exactly what
both appliers must produce.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import strategies as st

from aurora_lite.page import (
    FIRST_WRITABLE, HEADER_SIZE, PAGE_SIZE, PageType, slot_array, slot_count, usable_space,
)
from aurora_lite.redo import MiniTransaction, record_offsets, void_ranges

# Page ids the streams use: the meta page, a few dense ids, and one far away so the
# kernel's binary-search page lookup (sparse ids) is exercised too.
PAGE_IDS = (1, 2, 3, 100_000)


class Allocator:
    """Consecutive LSNs from ``start``; prev_lsn links each record to the previous one."""

    def __init__(self, start: int = 1) -> None:
        self.lsn = start - 1

    def allocate(self, page_id: int) -> tuple[int, int]:
        self.lsn += 1
        return self.lsn, self.lsn - 1


@dataclass
class Stream:
    buffer: bytearray
    pages: dict[int, bytearray]           # the writer's pages after the whole stream
    voids: list[tuple[int, int]]
    last_lsn: int
    offsets: list[int] = field(default_factory=list)


_sizes = st.one_of(st.integers(0, 48), st.integers(49, 3000))
_fraction = st.floats(0, 1)
_page = st.sampled_from(PAGE_IDS)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("init"), _page,
                  st.sampled_from([PageType.LEAF, PageType.INTERNAL, PageType.OVERFLOW,
                                   PageType.FREE]),
                  st.integers(0, 255), st.integers(0, 2**32 - 1)),
        st.tuples(st.just("insert"), _page, _fraction, _sizes),
        st.tuples(st.just("insert_cells"), _page, _fraction, st.lists(_sizes, max_size=6)),
        st.tuples(st.just("delete"), _page, _fraction, st.integers(0, 6)),
        st.tuples(st.just("replace"), _page, _fraction, st.integers(-60, 300)),
        st.tuples(st.just("write"), st.sampled_from((0,) + PAGE_IDS), _fraction,
                  st.binary(max_size=40), st.booleans()),
        st.tuples(st.just("fill"), _page, st.integers(1, 600), st.integers(0, 2**32)),
        st.tuples(st.just("commit"), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
        st.tuples(st.just("savepoint")),
        st.tuples(st.just("rollback")),
    ),
    max_size=40,
)


class Builder:
    """Interprets operations into records; see the module docstring."""

    def __init__(self, seed: int, first_lsn: int = 1) -> None:
        self.rng = random.Random(seed)
        self.allocator = Allocator(first_lsn)
        self.pages: dict[int, bytearray] = {0: bytearray(PAGE_SIZE)}
        self.buffer = bytearray()
        self.savepoints: list[tuple[int, dict[int, bytearray]]] = []
        mtr = self._mtr()
        mtr.init_page(self.pages[0], 0, PageType.META)
        self._finish(mtr, txn_end=True)

    def _mtr(self) -> MiniTransaction:
        return MiniTransaction(self.allocator)

    def _finish(self, mtr: MiniTransaction, txn_end: bool = False) -> None:
        self.buffer += mtr.finish(txn_end=txn_end)

    def _page(self, mtr: MiniTransaction, page_id: int) -> bytearray:
        page = self.pages.get(page_id)
        if page is None:
            page = self.pages[page_id] = bytearray(PAGE_SIZE)
            mtr.init_page(page, page_id, PageType.LEAF, tree_id=7)
        return page

    def _page_with_cells(self, mtr: MiniTransaction, page_id: int) -> tuple[int, bytearray]:
        """``page_id``, or when it has no cells the first page that has some."""
        page = self._page(mtr, page_id)
        if not slot_count(page):
            for other in PAGE_IDS:
                if other in self.pages and slot_count(self.pages[other]):
                    return other, self.pages[other]
        return page_id, page

    def _insert(self, mtr: MiniTransaction, page_id: int, fraction: float, size: int) -> None:
        page = self._page(mtr, page_id)
        size = min(size, usable_space(page) - 4)
        if size < 0:
            return
        slot = min(int(fraction * (slot_count(page) + 1)), slot_count(page))
        mtr.insert_cell(page, page_id, slot, self.rng.randbytes(size))

    def apply(self, operation: tuple) -> None:
        kind = operation[0]
        mtr = self._mtr()
        if kind == "init":
            _, page_id, page_type, level, link = operation
            page = self.pages.setdefault(page_id, bytearray(PAGE_SIZE))
            mtr.init_page(page, page_id, page_type, level=level, flags=level ^ 0x5A,
                          tree_id=link ^ 0xFFFF, link0=link, link1=link // 3)
        elif kind == "insert":
            self._insert(mtr, operation[1], operation[2], operation[3])
        elif kind == "insert_cells":
            _, page_id, fraction, sizes = operation
            page = self._page(mtr, page_id)
            room = usable_space(page)
            cells = []
            for size in sizes:
                size = min(size, room - 4)
                if size < 0:
                    break
                cells.append(self.rng.randbytes(size))
                room -= size + 4
            slot = min(int(fraction * (slot_count(page) + 1)), slot_count(page))
            mtr.insert_cells(page, page_id, slot, cells)
        elif kind == "delete":
            _, page_id, fraction, number = operation
            page_id, page = self._page_with_cells(mtr, page_id)
            count = slot_count(page)
            slot = min(int(fraction * (count + 1)), count)
            mtr.delete_cells(page, page_id, slot, min(number, count - slot))
        elif kind == "replace":
            _, page_id, fraction, delta = operation
            page_id, page = self._page_with_cells(mtr, page_id)
            count = slot_count(page)
            if count:
                slot = min(int(fraction * count), count - 1)
                old = slot_array(page)[2 * slot + 1]
                # A longer cell is a delete then an insert: it needs usable + old bytes.
                size = max(0, min(old + delta, old + usable_space(page)))
                mtr.replace_cell(page, page_id, slot, self.rng.randbytes(size))
        elif kind == "write":
            _, page_id, fraction, data, in_header = operation
            page = self._page(mtr, page_id)
            if in_header:
                low, high = FIRST_WRITABLE, HEADER_SIZE - len(data)
            else:
                # Past the live slot array: the free gap and the cells (any bytes are fine
                # there). The slot array itself is left alone, or the stream stops being
                # one a writer could produce.
                low, high = HEADER_SIZE + 4 * slot_count(page), PAGE_SIZE - len(data)
            if high >= low:
                mtr.write_bytes(page, page_id, low + int(fraction * (high - low)), data)
        elif kind == "fill":
            _, page_id, size, seed = operation
            rng = random.Random(seed)
            page = self._page(mtr, page_id)
            for _ in range(400):
                if rng.random() < 0.25 and slot_count(page):
                    slot = rng.randrange(slot_count(page))
                    mtr.delete_cells(page, page_id, slot,
                                     min(rng.randint(1, 3), slot_count(page) - slot))
                elif usable_space(page) >= size + 4:
                    self._insert(mtr, page_id, rng.random(), size)
                elif usable_space(page) >= 8:
                    # Small cells into whatever is left: this is where compaction happens.
                    self._insert(mtr, page_id, rng.random(), usable_space(page) - 4)
                else:
                    break
        elif kind == "commit":
            mtr.commit_record(self.pages[0], operation[1], operation[2])
            self._finish(mtr, txn_end=True)
            return
        elif kind == "savepoint":
            self.savepoints.append((self.allocator.lsn,
                                    {k: bytearray(v) for k, v in self.pages.items()}))
            return
        elif kind == "rollback":
            if self.savepoints:
                from_lsn, snapshot = self.savepoints.pop()
                mtr.void(0, from_lsn)
                self._finish(mtr, txn_end=True)
                self.pages = snapshot
            return
        self._finish(mtr)

    def stream(self) -> Stream:
        offsets = record_offsets(self.buffer)
        return Stream(self.buffer, self.pages, void_ranges(self.buffer, offsets),
                      self.allocator.lsn, offsets)


def build(ops: list[tuple], seed: int = 0, first_lsn: int = 1) -> Stream:
    builder = Builder(seed, first_lsn)
    for operation in ops:
        builder.apply(operation)
    return builder.stream()


def random_ops(rng: random.Random, count: int) -> list[tuple]:
    """Operations without hypothesis (for seeded tests and the NUMBA_DISABLE_JIT run)."""
    ops: list[tuple] = []
    for _ in range(count):
        page = rng.choice(PAGE_IDS)
        roll = rng.random()
        if roll < 0.05:
            ops.append(("init", page, rng.choice([PageType.LEAF, PageType.INTERNAL]),
                        rng.randrange(256), rng.randrange(2**32)))
        elif roll < 0.40:
            ops.append(("insert", page, rng.random(), rng.choice([rng.randrange(48),
                                                                   rng.randrange(3000)])))
        elif roll < 0.45:
            ops.append(("insert_cells", page, rng.random(),
                        [rng.randrange(200) for _ in range(rng.randrange(5))]))
        elif roll < 0.55:
            ops.append(("delete", page, rng.random(), rng.randrange(5)))
        elif roll < 0.65:
            ops.append(("replace", page, rng.random(), rng.randint(-60, 300)))
        elif roll < 0.72:
            ops.append(("write", rng.choice((0,) + PAGE_IDS), rng.random(),
                        rng.randbytes(rng.randrange(40)), rng.random() < 0.5))
        elif roll < 0.80:
            ops.append(("fill", page, rng.randint(1, 600), rng.randrange(2**32)))
        elif roll < 0.88:
            ops.append(("commit", rng.randrange(2**64), rng.randrange(2**64)))
        elif roll < 0.94:
            ops.append(("savepoint",))
        else:
            ops.append(("rollback",))
    return ops
