"""The in-memory index of a segment's hot log: where every record is, in a few bytes each.

A 1,000,000-record transaction must fit in a small memory budget, so there is no Python object
per record. Each record is one row of parallel ``array`` columns, in arrival order:

    column  type  bytes  meaning
    lsn     q     8      the record's LSN
    pos     Q     8      file_seq << 40 | byte offset of the record in that hot log file
    length  H     2      record length (a record is at most 16448 bytes)
    page    I     4      the page the record changes
    meta    B     1      flags (bits 0-3: CPL, TXN_END) | type << 4

``get_page`` needs a page's rows above the *floor* (the materialized LSN). They are found in a
sorted run - two numpy arrays, page ids and row numbers sorted by (page, row), 8 bytes per row -
plus a tail of rows added since the run was built, which is scanned with numpy; the run is
rebuilt when the tail grows past a quarter of it. About 31 bytes per record in all, and rows
are added in bulk (one numpy pass per appended batch, not a Python call per record).
"""

from __future__ import annotations

from array import array

import numpy as np

from aurora_lite.redo._record import FLAG_CPL, FLAG_TXN_END, RecordType

POS_SHIFT = 40
POS_MASK = (1 << POS_SHIFT) - 1
META_FLAGS = 0x0F
_MIN_TAIL = 1 << 15


def pack_pos(seq: int, offset: int) -> int:
    return seq << POS_SHIFT | offset


def unpack_pos(pos: int) -> tuple[int, int]:
    return pos >> POS_SHIFT, pos & POS_MASK


# A record header (docs/formats/redo.md) as a numpy record: one row per record.
HEADER_DTYPE = np.dtype([("crc", "<u4"), ("length", "<u4"), ("lsn", "<i8"), ("prev", "<i8"),
                         ("page", "<u4"), ("type", "u1"), ("flags", "u1"), ("version", "u1"),
                         ("reserved", "u1")])
assert HEADER_DTYPE.itemsize == 32
_HEADER_BYTES = np.arange(32, dtype=np.int64)


def header_columns(offsets: np.ndarray, headers: np.ndarray) -> dict:
    """The header fields of records as numpy arrays, from their offsets and their headers as
    the rows of an (n, 32) uint8 array (``aurora_lite.redo.materialize.record_table``)."""
    table = np.ascontiguousarray(headers, dtype=np.uint8).view(HEADER_DTYPE).reshape(-1)
    return {
        "offset": np.asarray(offsets, dtype=np.int64),
        "length": table["length"],
        "lsn": table["lsn"],
        "prev": table["prev"],
        "page": table["page"],
        "type": table["type"],
        "flags": table["flags"],
    }


def parse_headers(data: bytes | bytearray | memoryview, offsets: list[int]) -> dict:
    """The header fields of the records at ``offsets`` (already checked) as numpy arrays."""
    buf = np.frombuffer(data, dtype=np.uint8)
    at = np.asarray(offsets, dtype=np.int64)
    return header_columns(at, buf[at[:, None] + _HEADER_BYTES])


class RecordIndex:
    """Rows of (lsn, pos, length, page, meta) and the per-page lookup above the floor."""

    def __init__(self, floor: int = 0) -> None:
        self.floor = floor
        self._clear()

    def _clear(self) -> None:
        self.lsn = array("q")
        self.pos = array("Q")
        self.length = array("H")
        self.page = array("I")
        self.meta = array("B")
        self.max_lsn = 0
        self._run_pages = np.zeros(0, dtype=np.uint32)
        self._run_rows = np.zeros(0, dtype=np.uint32)
        self._run_upto = 0          # rows below this number are covered by the sorted run

    def __len__(self) -> int:
        return len(self.lsn)

    def extend(self, lsn: np.ndarray, pos: np.ndarray, length: np.ndarray, page: np.ndarray,
               flags: np.ndarray, rtype: np.ndarray) -> None:
        """Add rows in bulk."""
        if not len(lsn):
            return
        self.lsn.frombytes(np.asarray(lsn, dtype=np.int64).tobytes())
        self.pos.frombytes(np.asarray(pos, dtype=np.uint64).tobytes())
        self.length.frombytes(np.asarray(length, dtype=np.uint16).tobytes())
        self.page.frombytes(np.asarray(page, dtype=np.uint32).tobytes())
        meta = (np.asarray(flags, dtype=np.uint8) & META_FLAGS) | (
            np.asarray(rtype, dtype=np.uint8) << 4)
        self.meta.frombytes(meta.astype(np.uint8).tobytes())
        self.max_lsn = max(self.max_lsn, int(np.max(lsn)))
        tail = len(self.lsn) - self._run_upto
        if tail > max(_MIN_TAIL, self._run_rows.size // 4):
            self._build_run()

    def extend_columns(self, lsn: np.ndarray, pos: np.ndarray, length: np.ndarray,
                       page: np.ndarray, meta: np.ndarray, max_lsn: int) -> None:
        """``extend`` with columns already in the index's types (int64, uint64, uint16,
        uint32, and the meta byte) and their highest LSN: the write path's bulk add."""
        self.lsn.frombytes(lsn.tobytes())
        self.pos.frombytes(pos.tobytes())
        self.length.frombytes(length.tobytes())
        self.page.frombytes(page.tobytes())
        self.meta.frombytes(meta.tobytes())
        if max_lsn > self.max_lsn:
            self.max_lsn = max_lsn
        tail = len(self.lsn) - self._run_upto
        if tail > max(_MIN_TAIL, self._run_rows.size // 4):
            self._build_run()

    # -- questions ------------------------------------------------------------------------------
    def page_rows(self, page: int, low: int, high: int) -> list[tuple[int, int, int]]:
        """(lsn, pos, length) of the page's records with low < lsn <= high, in LSN order."""
        start = int(np.searchsorted(self._run_pages, page, "left"))
        stop = int(np.searchsorted(self._run_pages, page, "right"))
        rows = self._run_rows[start:stop].tolist()
        if self._run_upto < len(self.page):
            tail_pages = np.array(self.page[self._run_upto:], dtype=np.uint32)
            rows += (np.flatnonzero(tail_pages == page) + self._run_upto).tolist()
        lsn, pos, length, meta = self.lsn, self.pos, self.length, self.meta
        void = RecordType.VOID << 4
        found = [(lsn[r], pos[r], length[r]) for r in rows
                 if low < lsn[r] <= high and meta[r] & 0xF0 != void]
        found.sort()
        return found

    def columns(self) -> dict[str, np.ndarray]:
        """Copies of every column as numpy arrays (copies: a numpy view would pin the arrays,
        which then could not grow)."""
        return {
            "lsn": np.array(self.lsn, dtype=np.int64),
            "pos": np.array(self.pos, dtype=np.uint64),
            "length": np.array(self.length, dtype=np.uint16),
            "page": np.array(self.page, dtype=np.uint32),
            "meta": np.array(self.meta, dtype=np.uint8),
        }

    def select(self, low: int, high: int) -> dict[str, np.ndarray]:
        """The columns of the page-changing records (not VOID) with low < lsn <= high."""
        cols = self.columns()
        keep = (cols["lsn"] > low) & (cols["lsn"] <= high) & (
            (cols["meta"] >> 4) != RecordType.VOID)
        return {name: column[keep] for name, column in cols.items()}

    def last_flagged(self, flag: int, upto: int) -> int:
        """The highest LSN <= upto whose record carries ``flag`` (0 when none is indexed)."""
        if not len(self.lsn):
            return 0
        lsn = np.array(self.lsn, dtype=np.int64)
        meta = np.array(self.meta, dtype=np.uint8)
        hits = lsn[((meta & flag) != 0) & (lsn <= upto)]
        return int(hits.max()) if hits.size else 0

    def last_cpl(self, upto: int) -> int:
        return self.last_flagged(FLAG_CPL, upto)

    def last_txn_end(self, upto: int) -> int:
        return self.last_flagged(FLAG_TXN_END, upto)

    def max_at_or_below(self, upto: int) -> int:
        lsn = np.array(self.lsn, dtype=np.int64)
        below = lsn[lsn <= upto]
        return int(below.max()) if below.size else 0

    def count_above(self, lsn: int) -> int:
        return int(np.count_nonzero(np.array(self.lsn, dtype=np.int64) > lsn))

    def nbytes(self) -> int:
        columns = sum(c.buffer_info()[1] * c.itemsize
                      for c in (self.lsn, self.pos, self.length, self.page, self.meta))
        return columns + self._run_pages.nbytes + self._run_rows.nbytes

    # -- reshaping ------------------------------------------------------------------------------
    def _build_run(self) -> None:
        """Sort every row above the floor by (page, row): the per-page lookup."""
        lsn = np.array(self.lsn, dtype=np.int64)
        rows = np.flatnonzero(lsn > self.floor).astype(np.uint32)
        pages = np.array(self.page, dtype=np.uint32)[rows]
        order = np.argsort(pages, kind="stable")
        self._run_pages = pages[order]
        self._run_rows = rows[order]
        self._run_upto = lsn.size

    def retain(self, keep: np.ndarray, floor: int | None = None) -> None:
        """Keep only the rows where ``keep`` is true (numbering changes), optionally raise the
        floor, and rebuild the per-page lookup."""
        if floor is not None:
            self.floor = floor
        cols = self.columns()
        self._clear()
        for name, column in cols.items():
            getattr(self, name).frombytes(column[keep].tobytes())
        self.max_lsn = int(cols["lsn"][keep].max()) if keep.any() else 0
        self._build_run()
