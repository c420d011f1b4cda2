"""Batch page materialization: apply packed record buffers to many pages at once.

This is the storage side's hot path (segments, the local volume, replicas, restore). Each
public function has one meaning whichever engine runs it: the numba kernels in ``_kernels``
when numba can be imported, the reference applier (``_apply``) otherwise. With
NUMBA_DISABLE_JIT=1 the kernels' Python bodies run, which is slow but identical. The kernel
and the reference produce byte-identical pages and raise the same exception classes at the
same record (Invariant 7; tests/redo/test_differential.py).

Public surface:
  apply_to_pages(pages, buffer, ...)              -- pages in a dict of bytearrays
  apply_to_array(page_array, page_ids, buffer, ...) -- pages as rows of an (n, 16384) array
  record_columns(buffer, ...)                     -- check every record, its header fields as columns
  check_records_at(buffer, offsets, lengths)      -- check records at known offsets
  gather_bytes(buffer, starts, lengths)           -- byte ranges end to end
  kernel_available(), warm_up()

The last three serve the segment's hot log (its write path and its reads): one kernel call per
batch instead of a Python call per record, with the errors of ``record_offsets``.

Both check every record (CRC32C, Invariant 5) before applying any, so a damaged buffer changes
nothing; an error while applying (a page that is full, a slot out of range) stops at that
record, after the records before it were applied, exactly as the reference does. Errors are
CorruptionError (or its subclass PageFullError) naming ``where`` and the absolute offset
``base + offset`` of the bad record.

numba is imported on the first call (it costs about 0.6 s); a segment process calls
``warm_up()`` at start-up so that the first batch does not pay for it (or for compilation,
which numba caches on disk, under NUMBA_CACHE_DIR when that is set). The kernels release the
GIL, so a background materializer thread does not stall the threads that serve the writer.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Sequence

from aurora_lite.errors import CorruptionError
from aurora_lite.page._layout import PAGE_SIZE
from aurora_lite.redo._apply import PageFullError, apply
from aurora_lite.redo._record import HEADER_SIZE, RECORD_HEADER, RecordType, record_offsets

if TYPE_CHECKING:
    import numpy as np

Buffer = bytes | bytearray | memoryview
Voids = Sequence[tuple[int, int]]

_U64_LIMIT = 1 << 64
_BIAS = 1 << 63
_LSN_AT = struct.Struct("<QQI")  # lsn, prev_lsn, page_id at offset 8 of a record

_kernels: Any = None        # the _kernels module once imported
_np: Any = None
_kernel_state: bool | None = None   # None: not tried yet


def kernel_available() -> bool:
    """True if the numba kernels can be used (importing numba on the first call)."""
    global _kernels, _np, _kernel_state
    if _kernel_state is None:
        try:
            import numpy
            from aurora_lite.redo import _kernels as kernels
        except ImportError:
            _kernel_state = False
        else:
            _kernels, _np, _kernel_state = kernels, numpy, True
    return _kernel_state


def warm_up() -> bool:
    """Import numba and compile (or load from the cache) the kernels; return kernel_available.

    The wrappers always pass the same array types (a read-only uint8 buffer, int64 ids), so
    after this no call compiles anything.
    """
    if not kernel_available():
        return False
    from aurora_lite.redo._mtr import MiniTransaction
    from aurora_lite.page._layout import PageType

    class _Counter:
        lsn = 0

        def allocate(self, page_id: int) -> tuple[int, int]:
            self.lsn += 1
            return self.lsn, self.lsn - 1

    page = bytearray(PAGE_SIZE)
    mtr = MiniTransaction(_Counter())
    mtr.init_page(page, 1, PageType.LEAF)
    mtr.insert_cell(page, 1, 0, b"warm")
    buffer = bytes(mtr.finish())
    apply_to_pages({}, buffer, voids=[(0, 0)], upto_lsn=10)
    columns = record_columns(buffer)
    check_records_at(buffer, columns.offset, columns.length.astype(_np.int64))
    gather_bytes(buffer, columns.offset, _np.full(columns.count, HEADER_SIZE, dtype=_np.int64))
    return True


# -- helpers ---------------------------------------------------------------------------------

def _key(lsn: int) -> int:
    """An LSN as the kernels compare it: clamped to u64, minus 2**63 (order-preserving)."""
    return min(max(lsn, 0), _U64_LIMIT - 1) - _BIAS


def _limits(voids: Voids, upto_lsn: int | None) -> tuple[int, Any, Any]:
    """The kernels' view of the skip rules. LSN 0 and 2**64 - 1 are never allocated, so
    clamping void bounds into u64 changes nothing; a negative ``upto_lsn`` is handled by the
    callers (it skips every record)."""
    np = _np
    upto = _key(_U64_LIMIT - 1 if upto_lsn is None else upto_lsn)
    void_lo = np.array([_key(low) for low, _high in voids], dtype=np.int64)
    void_hi = np.array([_key(high) for _low, high in voids], dtype=np.int64)
    return upto, void_lo, void_hi


def _buffer_array(buffer: Buffer | Any) -> Any:
    """A read-only uint8 view of ``buffer`` (one array type, so one compiled kernel)."""
    np = _np
    if isinstance(buffer, np.ndarray):
        array = buffer.reshape(-1).view(np.uint8)
        array = array if array.flags.c_contiguous else np.ascontiguousarray(array)
        array = array.view()
    else:
        array = np.frombuffer(buffer, dtype=np.uint8)
    array.flags.writeable = False
    return array


def _scan_error(buffer_array: Any, status: int, offset: int, detail0: int, detail1: int,
                where: str, base: int) -> CorruptionError:
    """The CorruptionError check_record raises for the same damage, word for word."""
    k = _kernels
    at = f"{where} at offset {base + offset}"
    if status == k.S_TRUNCATED_HEADER:
        return CorruptionError(f"{at}: truncated record header ({detail0} bytes)")
    if status == k.S_BAD_LENGTH:
        return CorruptionError(f"{at}: bad record length {detail0}")
    if status == k.S_BAD_CRC:
        return CorruptionError(f"{at}: record CRC32C mismatch (stored {detail0:#010x}, "
                               f"computed {detail1:#010x})")
    return CorruptionError(f"{at}: unknown record version {detail0} or type {detail1}")


_WHAT = {
    # code name -> message template over (d0, d1, d2), as the reference words it
    "E_PAGE_FULL": "cell of {0} bytes does not fit",
    "E_INSERT_SLOT": "insert at slot {0} of {1}",
    "E_DELETE_SLOTS": "delete of slots {0}..{1} of {2}",
    "E_REPLACE_SLOT": "replace of slot {0} of {1}",
    "E_WRITE_BOUNDS": "write of {0} bytes at offset {1}",
    "E_COMMIT_NOT_META": "COMMIT applied to a page that is not the meta page",
    "E_SHORT_PAYLOAD": "payload of {0} bytes is too short for record type {1}",
    "E_CELLS_PAYLOAD": "INSERT_CELLS payload length does not match its cells",
    "E_SLOT_ARRAY": "slot array of {0} slots exceeds the page",
    "E_CELL_BOUNDS": "cell of slot {0} at offset {1} length {2} lies outside the page",
    "E_COMPACT_OVERFLOW": "live cells ({0} bytes) do not fit after compaction",
    "E_FRAG_OVERFLOW": "frag_bytes overflow ({0})",
    "E_CELL_START": "cell_start {0} is beyond the page",
    "E_UNKNOWN_TYPE": "unknown record type {0}",
}


def _apply_error(buffer_array: Any, code: int, offset: int, details: tuple[int, int, int],
                 where: str, base: int) -> CorruptionError:
    k = _kernels
    name = next(n for n in _WHAT if getattr(k, n) == code)
    lsn, _prev, page_id = _LSN_AT.unpack_from(buffer_array, offset + 8)
    message = (f"{where} at offset {base + offset}: redo record lsn {lsn} for page {page_id}: "
               + _WHAT[name].format(*details))
    return (PageFullError if code == k.E_PAGE_FULL else CorruptionError)(message)


# -- the reference path (no numba) -----------------------------------------------------------

def _apply_reference(pages: dict[int, bytearray], buffer: Buffer, voids: Voids,
                     upto_lsn: int | None, where: str, base: int, create: bool) -> int:
    """apply_buffer with located errors; ``create=False`` skips pages missing from ``pages``."""
    offsets = record_offsets(buffer, where, base)
    view = memoryview(buffer)
    applied = 0
    for offset in offsets:
        _crc, length, lsn, _prev, page_id, rtype, _flags, _v = RECORD_HEADER.unpack_from(
            buffer, offset)
        if upto_lsn is not None and lsn > upto_lsn:
            continue
        if rtype == RecordType.VOID or any(low < lsn < high for low, high in voids):
            continue
        page = pages.get(page_id)
        if page is None:
            if not create:
                continue
            page = pages[page_id] = bytearray(PAGE_SIZE)
        try:
            if apply(page, rtype, lsn, page_id, view[offset + HEADER_SIZE:offset + length]):
                applied += 1
        except CorruptionError as error:
            raise type(error)(f"{where} at offset {base + offset}: {error}") from None
    return applied


# -- public API ------------------------------------------------------------------------------

def apply_to_pages(pages: dict[int, bytearray], buffer: Buffer, *, voids: Voids = (),
                   upto_lsn: int | None = None, where: str = "redo buffer",
                   base: int = 0) -> int:
    """Check every record of ``buffer`` (CRC32C) and apply it to ``pages``; return the count.

    ``pages`` maps page id to a 16 KB bytearray and gains an empty page for every page id it
    lacks. Records in a void range (from_lsn, void_lsn) or above ``upto_lsn`` are skipped;
    records whose LSN is not above the page LSN are skipped (idempotent replay).
    """
    if not kernel_available():
        return _apply_reference(pages, buffer, voids, upto_lsn, where, base, create=True)
    np, k = _np, _kernels
    buf = _buffer_array(buffer)
    upto, void_lo, void_hi = _limits(voids, upto_lsn)
    status, offset, d0, d1, _records, run_pages, run_offsets, runs = k.scan_records(
        buf, upto, void_lo, void_hi)
    if status != k.S_OK:
        raise _scan_error(buf, status, offset, d0, d1, where, base)
    if upto_lsn is not None and upto_lsn < 0:
        return 0
    ids, first_offsets = k.first_records(run_pages, run_offsets, runs)
    array = np.zeros((ids.shape[0], PAGE_SIZE), dtype=np.uint8)
    id_list = ids.tolist()
    for row, page_id in enumerate(id_list):
        page = pages.get(page_id)
        if page is not None:
            if len(page) != PAGE_SIZE:
                raise ValueError(f"page {page_id} is {len(page)} bytes, not {PAGE_SIZE}")
            array[row] = np.frombuffer(page, dtype=np.uint8)
    touched = np.zeros(ids.shape[0], dtype=np.uint8)
    code, offset, applied, d0, d1, d2 = k.apply_records(
        buf, array, ids, np.arange(ids.shape[0], dtype=np.int64), touched, upto, void_lo,
        void_hi)
    # The reference creates a missing page when it reaches the page's first record, so on an
    # error only the pages whose first record is at or before the bad one exist afterwards.
    limit = offset if code != k.E_OK else buf.shape[0]
    for row in np.flatnonzero(touched | (first_offsets <= limit)).tolist():
        page_id = id_list[row]
        page = pages.get(page_id)
        if page is None:
            pages[page_id] = bytearray(array[row])
        elif touched[row]:
            np.frombuffer(page, dtype=np.uint8)[:] = array[row]
    if code != k.E_OK:
        raise _apply_error(buf, code, offset, (d0, d1, d2), where, base)
    return applied


def apply_to_array(page_array: np.ndarray, page_ids: Sequence[int] | np.ndarray,
                   buffer: Buffer, *, voids: Voids = (), upto_lsn: int | None = None,
                   where: str = "redo buffer", base: int = 0) -> int:
    """Apply ``buffer`` to the rows of ``page_array`` in place; return the count applied.

    ``page_array`` is a C-contiguous uint8 array of shape (n, 16384); ``page_ids[i]`` is the
    page id of row i (distinct, any order). Records of pages not in ``page_ids`` are skipped
    and not counted, so a caller materializes exactly the pages it holds (e.g. one page for
    GetPage at a read point). Otherwise the rules are those of ``apply_to_pages``: every record
    is checked first, void ranges, ``upto_lsn`` and page LSNs are honoured, and an error stops
    at the bad record after applying the ones before it.
    """
    import numpy as np
    if (page_array.dtype != np.uint8 or page_array.ndim != 2
            or page_array.shape[1] != PAGE_SIZE or not page_array.flags.c_contiguous
            or not page_array.flags.writeable):
        raise ValueError("page_array must be a writeable C-contiguous uint8 array of shape "
                         f"(n, {PAGE_SIZE})")
    ids = np.asarray(page_ids, dtype=np.int64).reshape(-1)
    if ids.shape[0] != page_array.shape[0]:
        raise ValueError(f"{ids.shape[0]} page ids for {page_array.shape[0]} pages")
    if ids.shape[0] and (int(ids.min()) < 0 or int(ids.max()) > 0xFFFFFFFF):
        raise ValueError("page ids must lie in [0, 2**32)")
    if not kernel_available():
        pages = {int(page_id): bytearray(page_array[row]) for row, page_id in enumerate(ids)}
        if len(pages) != ids.shape[0]:
            raise ValueError("page_ids are not distinct")
        try:
            return _apply_reference(pages, buffer, voids, upto_lsn, where, base, create=False)
        finally:
            for row, page_id in enumerate(ids.tolist()):
                page_array[row] = np.frombuffer(pages[page_id], dtype=np.uint8)
    k = _kernels
    if ids.shape[0] > 1 and bool(np.all(ids[1:] > ids[:-1])):
        sorted_ids, rows = ids, np.arange(ids.shape[0], dtype=np.int64)
    else:
        rows = np.argsort(ids, kind="stable").astype(np.int64)
        sorted_ids = ids[rows]
        if sorted_ids.shape[0] > 1 and bool(np.any(sorted_ids[1:] == sorted_ids[:-1])):
            raise ValueError("page_ids are not distinct")
    buf = _buffer_array(buffer)
    upto, void_lo, void_hi = _limits(voids, upto_lsn)
    status, offset, d0, d1, _records, _pages, _offsets, _runs = k.scan_records(
        buf, upto, void_lo, void_hi)
    if status != k.S_OK:
        raise _scan_error(buf, status, offset, d0, d1, where, base)
    if upto_lsn is not None and upto_lsn < 0:
        return 0
    touched = np.zeros(ids.shape[0], dtype=np.uint8)
    code, offset, applied, d0, d1, d2 = k.apply_records(
        buf, page_array, sorted_ids, rows, touched, upto, void_lo, void_hi)
    if code != k.E_OK:
        raise _apply_error(buf, code, offset, (d0, d1, d2), where, base)
    return applied


# -- record tables (the segment's hot log) ---------------------------------------------------

# A record header (docs/formats/redo.md) as a numpy record, for the pure-Python path.
_HEADER_DTYPE = [("crc", "<u4"), ("length", "<u4"), ("lsn", "<i8"), ("prev", "<i8"),
                 ("page", "<u4"), ("type", "u1"), ("flags", "u1"), ("version", "u1"),
                 ("reserved", "u1")]


class RecordColumns:
    """The header fields of a checked record buffer as numpy columns, in buffer order
    (``record_columns``). ``lsn``/``prev`` are int64, ``length`` uint16, ``page`` uint32,
    ``meta`` uint8 (``flags & 0x0F | type << 4``); the summary fields are Python ints."""

    __slots__ = ("count", "offset", "lsn", "prev", "length", "page", "meta", "min_lsn",
                 "max_lsn", "min_page", "max_page", "voids", "ordered")

    def headers(self) -> dict:
        """The columns as ``aurora_lite.segment._index.parse_headers`` returns them."""
        return {"offset": self.offset, "length": self.length, "lsn": self.lsn,
                "prev": self.prev, "page": self.page, "type": self.meta >> 4,
                "flags": self.meta & 0x0F}


def record_columns(buffer: Buffer, where: str = "redo buffer", base: int = 0
                   ) -> RecordColumns:
    """Check every record of ``buffer`` exactly as ``record_offsets`` does (the same
    CorruptionError at the same record) and return its header fields as columns with a summary
    of the batch (lowest and highest LSN and page, VOID records, whether the records form one
    ascending chain): everything the segment's write path needs, in one kernel call."""
    import numpy
    columns = RecordColumns()
    if not kernel_available():
        offsets = numpy.asarray(record_offsets(buffer, where, base), dtype=numpy.int64)
        raw = numpy.frombuffer(buffer, dtype=numpy.uint8)
        table = raw[offsets[:, None] + numpy.arange(HEADER_SIZE)].reshape(-1).view(_HEADER_DTYPE)
        found = {"offset": offsets, "lsn": table["lsn"], "prev": table["prev"],
                 "length": table["length"], "page": table["page"], "type": table["type"],
                 "flags": table["flags"]}
        columns.count = len(offsets)
        columns.offset, columns.lsn, columns.prev = found["offset"], found["lsn"], found["prev"]
        columns.length = found["length"].astype(numpy.uint16)
        columns.page = found["page"]
        columns.meta = ((found["flags"] & 0x0F) | (found["type"] << 4)).astype(numpy.uint8)
        lsn, prev = columns.lsn, columns.prev
        if columns.count:
            keys = lsn.view(numpy.uint64)
            columns.min_lsn, columns.max_lsn = int(keys.min()), int(keys.max())
            columns.min_page, columns.max_page = int(columns.page.min()), int(columns.page.max())
        else:
            columns.min_lsn = columns.max_lsn = columns.min_page = columns.max_page = 0
        columns.voids = int(numpy.count_nonzero(found["type"] == int(RecordType.VOID)))
        ukeys, uprev = lsn.view(numpy.uint64), prev.view(numpy.uint64)
        columns.ordered = bool(numpy.all(ukeys > uprev) and numpy.all(ukeys[1:] > ukeys[:-1])
                               and numpy.all(uprev[1:] <= ukeys[:-1]))
        return columns
    k = _kernels
    buf = _buffer_array(buffer)
    (status, offset, d0, d1, count, offsets, lsns, prevs, lengths, pages, metas,
     summary) = k.record_columns(buf)
    if status != k.S_OK:
        raise _scan_error(buf, status, offset, d0, d1, where, base)
    columns.count = count
    columns.offset = offsets[:count]
    columns.lsn = lsns[:count]
    columns.prev = prevs[:count]
    columns.length = lengths[:count]
    columns.page = pages[:count]
    columns.meta = metas[:count]
    low, high, min_page, max_page, voids, ordered = summary.tolist()
    columns.min_lsn = low + _BIAS if count else 0
    columns.max_lsn = high + _BIAS if count else 0
    columns.min_page, columns.max_page = min_page, max_page
    columns.voids = voids
    columns.ordered = bool(ordered)
    return columns


def check_records_at(buffer: Buffer | Any, offsets: Any, lengths: Any) -> int:
    """Check the record at each ``offsets[i]`` of ``buffer`` (length, CRC32C, version, type)
    and that it is ``lengths[i]`` bytes long; return the index of the first record that fails,
    or -1. The caller words the error (it knows the file and the offsets)."""
    if not kernel_available():
        from aurora_lite.redo._record import check_record
        for i, (offset, length) in enumerate(zip(list(offsets), list(lengths))):
            try:
                if check_record(buffer, int(offset)) != int(length):
                    return i
            except CorruptionError:
                return i
        return -1
    np = _np
    return int(_kernels.check_records_at(_buffer_array(buffer),
                                         np.ascontiguousarray(offsets, dtype=np.int64),
                                         np.ascontiguousarray(lengths, dtype=np.int64)))


def gather_bytes(buffer: Buffer | Any, starts: Any, lengths: Any) -> bytes:
    """``buffer[starts[i]:starts[i] + lengths[i]]`` for every i, end to end (every range
    must lie inside ``buffer``)."""
    if not kernel_available():
        view = memoryview(buffer).cast("B") if not isinstance(buffer, (bytes, bytearray)) \
            else buffer
        return b"".join(view[s:s + n] for s, n in zip(list(starts), list(lengths)))
    np = _np
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    src = _buffer_array(buffer)
    if starts.shape[0] and (int(starts.min()) < 0 or int((starts + lengths).max()) >
                            src.shape[0] or int(lengths.min()) < 0):
        raise ValueError("a range lies outside the buffer")
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    _kernels.gather_bytes(src, starts, lengths, out)
    return out.tobytes()
