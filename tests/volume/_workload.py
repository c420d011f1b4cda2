"""A seeded random writer for storage tests, and the reference it is checked against.

``Workload`` builds mini-transactions with aurora_lite.redo.MiniTransaction (LSNs from any
allocator: a Volume or a LsnAllocator): it initialises page 0 as the META page, initialises
leaf pages, inserts/replaces/deletes cells, writes bytes, commits (COMMIT on page 0, TXN_END)
and rolls back whole transactions or statements with VOID records. It keeps every record it
shipped (``log``) so a test can ask what any page must look like at any read point:
``reference_page`` runs the reference applier over the records <= the read point, minus the
ones voided by VOIDs <= the read point.
"""

from __future__ import annotations

import random
from typing import Callable

from aurora_lite.page import OFF_AUX, PAGE_SIZE, PageType, empty_page, slot_count, usable_space
from aurora_lite.redo import (
    FLAG_TXN_END, RECORD_HEADER, MiniTransaction, apply_buffer, record_offsets, void_ranges,
)

Submit = Callable[[bytes, int, bool], None]
LEAVES = tuple(range(1, 9))


def reference_pages(log: bytes | bytearray, read_point: int,
                    only: int | None = None) -> dict[int, bytearray]:
    offsets = record_offsets(log)
    voids = [(low, high) for low, high in void_ranges(log, offsets) if high <= read_point]
    if only is not None:
        offsets = [o for o in offsets if RECORD_HEADER.unpack_from(log, o)[4] == only]
    pages: dict[int, bytearray] = {}
    apply_buffer(pages, log, offsets, voids=voids, upto_lsn=read_point)
    return pages


def reference_page(log: bytes | bytearray, page_id: int, read_point: int) -> bytearray:
    return reference_pages(log, read_point, page_id).get(page_id, bytearray(PAGE_SIZE))


def truncate_log(log: bytes | bytearray, lsn: int) -> bytearray:
    """The records of ``log`` with LSN <= lsn (what recovery keeps)."""
    kept = bytearray()
    for offset in record_offsets(log):
        length, record_lsn = RECORD_HEADER.unpack_from(log, offset)[1:3]
        if record_lsn <= lsn:
            kept += log[offset:offset + length]
    return kept


class Workload:
    """Random MTRs and transactions against one allocator + submit function."""

    def __init__(self, allocator: object, submit: Submit, rng: random.Random,
                 log: bytearray | None = None) -> None:
        self.allocator = allocator
        self.submit = submit
        self.rng = rng
        self.log = bytearray(log or b"")
        self.pages: dict[int, bytearray] = {}
        self.txn_ends: list[int] = []
        self.last_lsn = 0
        self.txn_id = 0
        self.mtrs = 0
        if self.log:
            self._rebuild()

    def _rebuild(self) -> None:
        offsets = record_offsets(self.log)
        self.last_lsn = max(RECORD_HEADER.unpack_from(self.log, o)[2] for o in offsets)
        self.txn_ends = [RECORD_HEADER.unpack_from(self.log, o)[2] for o in offsets
                         if self.log[o + 29] & FLAG_TXN_END]
        self.pages = reference_pages(self.log, self.last_lsn)

    @property
    def txn_start(self) -> int:
        return self.txn_ends[-1] if self.txn_ends else 0

    def page(self, page_id: int) -> bytearray:
        return self.pages.setdefault(page_id, empty_page())

    def mtr(self, build: Callable[[MiniTransaction], None], *, txn_end: bool = False) -> int:
        self.allocator.mark()
        mtr = MiniTransaction(self.allocator)
        build(mtr)
        buffer = bytes(mtr.finish(txn_end=txn_end))
        self.submit(buffer, mtr.last_lsn, txn_end)
        self.log += buffer
        self.last_lsn = mtr.last_lsn
        self.mtrs += 1
        if txn_end:
            self.txn_ends.append(mtr.last_lsn)
        return mtr.last_lsn

    # -- building blocks ------------------------------------------------------------------------
    def create(self) -> int:
        """Transaction 1: page 0 becomes the META page (committed)."""
        def build(mtr: MiniTransaction) -> None:
            mtr.init_page(self.page(0), 0, PageType.META)
        self.mtr(build)
        return self.commit()

    def commit(self) -> int:
        self.txn_id += 1
        txn_id = self.txn_id
        return self.mtr(lambda mtr: mtr.commit_record(self.page(0), txn_id, 1000 * txn_id),
                        txn_end=True)

    def rollback(self, savepoint: int | None = None) -> int:
        """VOID everything after ``savepoint`` (default: the transaction start)."""
        whole = savepoint is None
        start = self.txn_start if whole else savepoint
        lsn = self.mtr(lambda mtr: mtr.void(0, start), txn_end=whole)
        self.pages = reference_pages(self.log, lsn)   # the writer reloads voided pages
        return lsn

    def change(self, mtrs: int = 1, records: int = 3) -> int:
        for _ in range(mtrs):
            self.mtr(lambda mtr: self._random_records(mtr, records))
        return self.last_lsn

    def _random_records(self, mtr: MiniTransaction, records: int) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, records)):
            page_id = rng.choice(LEAVES)
            page = self.page(page_id)
            if page[7] == PageType.UNUSED:
                mtr.init_page(page, page_id, PageType.LEAF, tree_id=1)
                continue
            count = slot_count(page)
            roll = rng.random()
            if usable_space(page) < 400 or (count and roll < 0.15):
                mtr.delete_cells(page, page_id, rng.randrange(count), 1)
            elif count and roll < 0.3:
                mtr.replace_cell(page, page_id, rng.randrange(count),
                                 rng.randbytes(rng.randint(1, 120)))
            elif roll < 0.35:
                mtr.write_u64(page, page_id, OFF_AUX, rng.getrandbits(64))
            elif roll < 0.4 and 0 < count < 20:
                mtr.insert_cells(page, page_id, rng.randint(0, count),
                                 [rng.randbytes(rng.randint(1, 40)) for _ in range(3)])
            else:
                mtr.insert_cell(page, page_id, rng.randint(0, count),
                                rng.randbytes(rng.randint(1, 200)))

    def random_history(self, transactions: int) -> list[int]:
        """Committed and rolled-back transactions, some with statement rollbacks; returns the
        transaction ends (the read points a reader could take)."""
        if not self.txn_ends:
            self.create()
        for _ in range(transactions):
            self.change(self.rng.randint(1, 6))
            if self.rng.random() < 0.25:
                savepoint = self.last_lsn
                self.change(self.rng.randint(1, 3))
                self.rollback(savepoint)
                self.change(1)
            if self.rng.random() < 0.2:
                self.rollback()
            else:
                self.commit()
        return list(self.txn_ends)

    def expected(self, page_id: int, read_point: int) -> bytearray:
        return reference_page(self.log, page_id, read_point)
