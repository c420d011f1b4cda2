"""Mini-transactions: the atomic groups of redo records in which every page change is made.

A mini-transaction (MTR) packs each record into one buffer as it is generated and applies it to
the caller's in-memory page through the reference applier, so the bytes the writer holds and the
bytes storage materializes come from the same code. ``finish`` marks the last record as the CPL
(consistency point); readers and recovery never see part of an MTR.

LSNs are handed out by an ``LsnAllocator`` (the volume client owns one): it returns the LSN and
the back-link to the previous record of the same protection group.
"""

from __future__ import annotations

import struct
from typing import Protocol

from aurora_lite.page._layout import NO_PAGE, PageType
from aurora_lite.redo import _apply
from aurora_lite.redo._record import FLAG_CPL, FLAG_TXN_END, RecordType, append_record, set_flags

_U16 = struct.Struct("<H")
_TWO_U16 = struct.Struct("<HH")
_INIT = struct.Struct("<BBBxIII")
_TWO_U64 = struct.Struct("<QQ")
_U64 = struct.Struct("<Q")


class LsnAllocator(Protocol):
    def allocate(self, page_id: int) -> tuple[int, int]:
        """Return (lsn, prev_lsn) for the next record, which changes ``page_id``."""


class MiniTransaction:
    """Builds one MTR. Not thread-safe: only the holder of the write lock builds MTRs."""

    __slots__ = ("buffer", "allocator", "last_offset", "first_lsn", "last_lsn", "records",
                 "pages")

    def __init__(self, allocator: LsnAllocator) -> None:
        self.buffer = bytearray()
        self.allocator = allocator
        self.last_offset = -1
        self.first_lsn = 0
        self.last_lsn = 0
        self.records = 0
        self.pages: set[int] = set()

    def _emit(self, page_id: int, rtype: int, payload: bytes | bytearray) -> int:
        lsn, prev_lsn = self.allocator.allocate(page_id)
        self.last_offset = append_record(self.buffer, lsn, prev_lsn, page_id, rtype, 0, payload)
        if not self.records:
            self.first_lsn = lsn
        self.last_lsn = lsn
        self.records += 1
        self.pages.add(page_id)
        return lsn

    def init_page(self, page: bytearray, page_id: int, page_type: int, *, level: int = 0,
                  flags: int = 0, tree_id: int = 0, link0: int = NO_PAGE,
                  link1: int = NO_PAGE) -> int:
        lsn = self._emit(page_id, RecordType.INIT_PAGE,
                         _INIT.pack(page_type, level, flags, tree_id, link0, link1))
        _apply.op_init_page(page, lsn, page_id, page_type, level, flags, tree_id, link0, link1)
        return lsn

    def insert_cell(self, page: bytearray, page_id: int, slot: int, cell: bytes) -> int:
        lsn = self._emit(page_id, RecordType.INSERT_CELL, _U16.pack(slot) + cell)
        _apply.op_insert_cell(page, lsn, slot, cell)
        return lsn

    def delete_cells(self, page: bytearray, page_id: int, slot: int, count: int = 1) -> int:
        lsn = self._emit(page_id, RecordType.DELETE_CELLS, _TWO_U16.pack(slot, count))
        _apply.op_delete_cells(page, lsn, slot, count)
        return lsn

    def replace_cell(self, page: bytearray, page_id: int, slot: int, cell: bytes) -> int:
        lsn = self._emit(page_id, RecordType.REPLACE_CELL, _U16.pack(slot) + cell)
        _apply.op_replace_cell(page, lsn, slot, cell)
        return lsn

    def insert_cells(self, page: bytearray, page_id: int, slot: int, cells: list[bytes]) -> int:
        parts = [_TWO_U16.pack(slot, len(cells))]
        for cell in cells:
            parts.append(_U16.pack(len(cell)))
            parts.append(cell)
        lsn = self._emit(page_id, RecordType.INSERT_CELLS, b"".join(parts))
        _apply.op_insert_cells(page, lsn, slot, cells)
        return lsn

    def write_bytes(self, page: bytearray, page_id: int, offset: int, data: bytes) -> int:
        lsn = self._emit(page_id, RecordType.WRITE_BYTES, _U16.pack(offset) + data)
        _apply.op_write_bytes(page, lsn, offset, data)
        return lsn

    def write_u32(self, page: bytearray, page_id: int, offset: int, value: int) -> int:
        return self.write_bytes(page, page_id, offset, struct.pack("<I", value))

    def write_u64(self, page: bytearray, page_id: int, offset: int, value: int) -> int:
        return self.write_bytes(page, page_id, offset, _U64.pack(value))

    def commit_record(self, meta_page: bytearray, txn_id: int, commit_time_us: int) -> int:
        """The COMMIT record of a transaction; the caller finishes the MTR with txn_end=True."""
        if meta_page[7] != PageType.META:
            raise ValueError("COMMIT goes to the meta page")
        lsn = self._emit(0, RecordType.COMMIT, _TWO_U64.pack(txn_id, commit_time_us))
        _apply.op_commit(meta_page, lsn, txn_id, commit_time_us)
        return lsn

    def void(self, anchor_page_id: int, from_lsn: int) -> int:
        """Declare every record with from_lsn < lsn < this one void (rollback); no page changes."""
        return self._emit(anchor_page_id, RecordType.VOID, _U64.pack(from_lsn))

    def finish(self, *, txn_end: bool = False) -> bytearray:
        """Mark the last record as the CPL (and TXN_END) and return the packed buffer."""
        if self.records:
            set_flags(self.buffer, self.last_offset, FLAG_CPL | (FLAG_TXN_END if txn_end else 0))
        return self.buffer
