"""An in-memory Volume for fast B-tree and buffer tests (a test double, not a product)."""

from __future__ import annotations

import struct
import threading

from aurora_lite.page import PAGE_SIZE
from aurora_lite.redo import RECORD_HEADER, FLAG_CPL, RecordType, apply, record_offsets
from aurora_lite.volume import RecoveredState, Volume


class MemoryVolume(Volume):
    def __init__(self) -> None:
        self.records: dict[int, list[tuple[int, int, bytes]]] = {}
        self.voids: list[tuple[int, int]] = []
        self._next = 1
        self._last: dict[int, int] = {}
        self._vdl = 0
        self.submitted = 0
        self.lock = threading.Lock()
        self.get_page_calls = 0

    def open(self) -> RecoveredState:
        return RecoveredState(0, 0, 1, 1, True)

    def close(self) -> None:
        pass

    def allocate(self, page_id: int) -> tuple[int, int]:
        lsn = self._next
        self._next += 1
        prev = self._last.get(0, 0)
        self._last[0] = lsn
        return lsn, prev

    def mark(self) -> object:
        return (self._next, dict(self._last))

    def reset(self, token) -> None:
        self._next, self._last = token[0], dict(token[1])

    def next_lsn(self) -> int:
        return self._next

    def submit(self, buffer, last_lsn, *, txn_end) -> None:
        with self.lock:
            for offset in record_offsets(buffer):
                _c, length, lsn, _p, page_id, rtype, flags, _v = RECORD_HEADER.unpack_from(
                    buffer, offset)
                payload = bytes(buffer[offset + 32:offset + length])
                if rtype == RecordType.VOID:
                    self.voids.append((struct.unpack_from("<Q", payload)[0], lsn))
                self.records.setdefault(page_id, []).append((lsn, rtype, payload))
                if flags & FLAG_CPL:
                    self._vdl = lsn
            self.submitted += 1

    def wait_durable(self, lsn, timeout=None) -> int:
        return self._vdl

    @property
    def vdl(self) -> int:
        return self._vdl

    def protection_group_anchors(self) -> list[int]:
        return [0]

    def set_horizon(self, lsn: int) -> None:
        pass

    def get_page(self, page_id: int, read_point: int) -> bytearray:
        self.get_page_calls += 1
        page = bytearray(PAGE_SIZE)
        with self.lock:
            for lsn, rtype, payload in self.records.get(page_id, ()):
                if lsn > read_point or any(low < lsn < high for low, high in self.voids):
                    continue
                apply(page, rtype, lsn, page_id, payload)
        return page

    def statistics(self) -> dict:
        return {"vdl": self._vdl}
