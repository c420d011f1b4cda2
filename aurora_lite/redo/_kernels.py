"""The numba kernels of aurora_lite: CRC32C and the redo materializer (Invariant 7).

Every numba kernel of the project lives in this module, compiled with ``@njit(cache=True)``.
Importing it imports numba (about 0.6 s), so only ``materialize`` imports it, lazily.

Kernels over a packed record buffer (a 1-D uint8 array, docs/formats/redo.md):

* ``scan_records`` checks every record exactly as ``_record.check_record`` does (header
  bounds, CRC32C, version, type; Invariant 5) and lists the page ids of the records that are
  not skipped, with offsets; ``first_records`` reduces that list to each page's first record,
  so a caller learns which pages a buffer needs without a Python loop.
* ``apply_records`` applies the records of a checked buffer to a 2-D page array (n x 16384)
  through a page-id -> row mapping given as ``ids`` (sorted ascending) and ``rows`` (the row of
  ``ids[i]``). It reproduces the reference applier (``_apply``) byte for byte, including the
  deterministic compaction and every corruption check, in the same order, so the two raise at
  the same record and leave the same bytes behind (Invariant 7).
* ``crc32c`` is the Castagnoli CRC the scan uses: the CPU's ``crc32`` instruction where it may
  be used (``HARDWARE_CRC``: x86-64 with SSE4.2, numba compiling for the host CPU), otherwise
  table-driven slicing-by-8 (``crc32c_table``); both give the same values.

The public kernels release the GIL (``nogil``): they touch only the arrays they are given.
Errors are not raised inside kernels: a kernel stops at the bad record and returns an error code
and the record's offset; ``materialize`` turns that into the same exception class as the
reference. LSNs are u64 in the format; the kernels compare them as ``lsn - 2**63`` in an int64
(``_lsn_key``), which preserves order and never overflows, in numba and in plain Python
(NUMBA_DISABLE_JIT=1) alike. Values are int64 for the same reason: mixing signed and unsigned
integers would make numba fall back to floats.

Speed notes (bench/materializer.py measures them): bytes move through ``_move`` and ``_zero``
(LLVM's memmove and memset, see below); loops index with uint64 where it matters, because a
signed index makes numba emit a negative-index check per access (not for the small
fixed-offset reads, where the conversions cost more than the check). A row view of the page
array is made only when the page changes, and ``ndarray.view`` (~30 ns) never: pages are
indexed as uint8. (Addressing pages as one flat array plus an offset, with no views at all,
ran 55% more instructions per record under callgrind.) Helpers are inlined into the kernels
at numba IR level (``inline="always"``): a numba call passing arrays costs tens of ns, as much
as applying a small record. That doubles the one-time compile (~30 s, then cached on disk).

numba freezes module constants into the cached machine code and invalidates its cache only
when this file changes; the constants below are format constants that are never changed
(Invariant 8), and they are restated here rather than computed from other modules.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

PAGE_SIZE = 16384
PAGE_HEADER = 64
FIRST_WRITABLE = 26
META_TYPE = 1
OFF_LAST_TXN = 80

RECORD_HEADER = 32
MAX_RECORD = 16384 + 64
RECORD_VERSION = 1
T_INIT_PAGE = 1
T_INSERT_CELL = 2
T_DELETE_CELLS = 3
T_REPLACE_CELL = 4
T_INSERT_CELLS = 5
T_WRITE_BYTES = 6
T_COMMIT = 7
T_VOID = 8

# scan_records remembers this many recently listed pages (a power of two).
RECENT = 16

# Status codes returned by scan_records (mirroring check_record's messages).
S_OK = 0
S_TRUNCATED_HEADER = 1      # detail0: bytes left
S_BAD_LENGTH = 2            # detail0: length
S_BAD_CRC = 3               # detail0: stored, detail1: computed
S_BAD_VERSION_TYPE = 4      # detail0: version, detail1: type

# Error codes returned by apply_records; detail[0..2] carry the numbers for the message.
E_OK = 0
E_PAGE_FULL = 1             # length
E_INSERT_SLOT = 2           # slot, count
E_DELETE_SLOTS = 3          # slot, slot + number, count
E_REPLACE_SLOT = 4          # slot, count
E_WRITE_BOUNDS = 5          # length, offset
E_COMMIT_NOT_META = 6
E_SHORT_PAYLOAD = 7         # payload length, type
E_CELLS_PAYLOAD = 8
E_SLOT_ARRAY = 9            # count
E_CELL_BOUNDS = 10          # slot, offset, length
E_COMPACT_OVERFLOW = 11     # total live bytes
E_FRAG_OVERFLOW = 12        # frag
E_CELL_START = 13           # cell_start
E_UNKNOWN_TYPE = 14         # type

# The smallest payload of each record type (index: type), as _apply.MIN_PAYLOAD.
MIN_PAYLOAD = np.array([0, 16, 2, 4, 2, 4, 2, 16, 0], dtype=np.int64)


def _crc32c_tables() -> np.ndarray:
    """Slicing-by-8 tables of the reflected Castagnoli polynomial (0x82F63B78)."""
    table = np.zeros((8, 256), dtype=np.int64)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table[0, byte] = crc
    for k in range(1, 8):
        for byte in range(256):
            prev = int(table[k - 1, byte])
            table[k, byte] = (prev >> 8) ^ int(table[0, prev & 0xFF])
    return table


CRC_TABLE = _crc32c_tables()
CRC_FLAT = CRC_TABLE.reshape(-1).astype(np.uint32)


# -- little-endian access ------------------------------------------------------------------

@njit(cache=True, inline="always")
def _u16(a, i):
    return np.int64(a[i]) | (np.int64(a[i + 1]) << 8)


@njit(cache=True, inline="always")
def _u32(a, i):
    return (np.int64(a[i]) | (np.int64(a[i + 1]) << 8) | (np.int64(a[i + 2]) << 16)
            | (np.int64(a[i + 3]) << 24))


@njit(cache=True, inline="always")
def _put16(a, i, value):
    a[i] = value & 0xFF
    a[i + 1] = (value >> 8) & 0xFF


@njit(cache=True, inline="always")
def _lsn_key(a, i):
    """The u64 at ``a[i:i+8]`` minus 2**63: an int64 with the same order, without overflow."""
    return (_u32(a, i + 4) - 2147483648) * 4294967296 + _u32(a, i)


@njit(cache=True, inline="always")
def _set_lsn(page, buf, offset):
    """Copy the record's LSN bytes into the page header (the page LSN)."""
    for k in range(8):
        page[8 + k] = buf[offset + 8 + k]


# -- moving bytes (callers pass n >= 0 and ranges inside their arrays) -----------------------
#
# numba's slice assignment is a generic strided loop, and a plain byte loop of a few dozen
# bytes runs scalar (the vectorized body needs 128 bytes); LLVM's memmove/memset intrinsics
# (libc underneath) are 3x faster for cells and much faster for pages. They are numba
# intrinsics, which plain Python cannot call, so with NUMBA_DISABLE_JIT=1 the same two
# functions are numpy slice assignments (numpy copies overlapping ranges correctly too).

if numba.config.DISABLE_JIT:
    def _move(dst, d, src, s, n):
        """``dst[d:d+n] = src[s:s+n]``; the ranges may overlap (memmove)."""
        dst[d:d + n] = src[s:s + n]

    def _zero(dst, d, n):
        """``dst[d:d+n] = 0``."""
        dst[d:d + n] = 0
else:
    @intrinsic
    def _move(typingctx, dst, d, src, s, n):
        """``dst[d:d+n] = src[s:s+n]``; the ranges may overlap (memmove)."""
        signature = types.void(dst, types.int64, src, types.int64, types.int64)

        def codegen(context, builder, sig, args):
            dst_value, d_value, src_value, s_value, n_value = args
            dst_array = context.make_array(sig.args[0])(context, builder, dst_value)
            src_array = context.make_array(sig.args[2])(context, builder, src_value)
            # A negative count would become a huge size_t: clamp it to 0 (a slice would be
            # empty), so a bug here can never run past the array.
            count = builder.select(builder.icmp_signed(">", n_value, n_value.type(0)), n_value,
                                   n_value.type(0))
            cgutils.raw_memmove(builder, builder.gep(dst_array.data, [d_value]),
                                builder.gep(src_array.data, [s_value]), count, 1)
        return signature, codegen

    @intrinsic
    def _zero(typingctx, dst, d, n):
        """``dst[d:d+n] = 0``."""
        signature = types.void(dst, types.int64, types.int64)

        def codegen(context, builder, sig, args):
            dst_value, d_value, n_value = args
            dst_array = context.make_array(sig.args[0])(context, builder, dst_value)
            count = builder.select(builder.icmp_signed(">", n_value, n_value.type(0)), n_value,
                                   n_value.type(0))
            cgutils.memset(builder, builder.gep(dst_array.data, [d_value]), count, 0)
        return signature, codegen


# -- CRC32C ---------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _crc32c_table(buf, start, end):
    """Slicing-by-8: eight table lookups per 8 bytes; ``CRC_FLAT[256 * k + b]`` is table k.

    The 8 bytes are assembled into one int64 (LLVM turns that into a single load) and the
    table is uint32 (8 KB, half the cache of int64); indices are uint64 (no negative-index
    checks); the CRC itself is an int64 below 2**32.
    """
    t = CRC_FLAT
    crc = np.int64(0xFFFFFFFF)
    i = np.uint64(start)
    for _ in range((end - start) >> 3):
        word = (np.int64(buf[i]) | (np.int64(buf[i + np.uint64(1)]) << 8)
                | (np.int64(buf[i + np.uint64(2)]) << 16) | (np.int64(buf[i + np.uint64(3)]) << 24)
                | (np.int64(buf[i + np.uint64(4)]) << 32) | (np.int64(buf[i + np.uint64(5)]) << 40)
                | (np.int64(buf[i + np.uint64(6)]) << 48) | (np.int64(buf[i + np.uint64(7)]) << 56))
        low = (word ^ crc) & 0xFFFFFFFF
        crc = np.int64(t[np.uint64(1792 + (low & 0xFF))] ^ t[np.uint64(1536 + ((low >> 8) & 0xFF))]
                       ^ t[np.uint64(1280 + ((low >> 16) & 0xFF))]
                       ^ t[np.uint64(1024 + (low >> 24))]
                       ^ t[np.uint64(768 + ((word >> 32) & 0xFF))]
                       ^ t[np.uint64(512 + ((word >> 40) & 0xFF))]
                       ^ t[np.uint64(256 + ((word >> 48) & 0xFF))]
                       ^ t[np.uint64((word >> 56) & 0xFF)])
        i += np.uint64(8)
    for _ in range((end - start) & 7):
        crc = np.int64(t[np.uint64((crc ^ buf[i]) & 0xFF)]) ^ (crc >> 8)
        i += np.uint64(1)
    return crc ^ 0xFFFFFFFF



def _hardware_crc() -> bool:
    """The CPU's CRC32 instruction (SSE4.2, the Castagnoli polynomial) may be used: an x86-64
    that has it, numba compiling for this very CPU, and compiling at all."""
    import os
    import platform
    if numba.config.DISABLE_JIT or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if os.environ.get("NUMBA_CPU_NAME", "host") != "host" or \
            os.environ.get("AURORA_LITE_CRC", "") == "table":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return "sse4_2" in line.split()
    except OSError:
        pass
    return False


HARDWARE_CRC = _hardware_crc()


if HARDWARE_CRC:
    from llvmlite import ir as _ir

    @intrinsic
    def _crc_word(typingctx, crc, word):
        """One step of the CRC32 instruction over 8 bytes (``crc32 r64, r64``)."""
        signature = types.int64(types.int64, types.int64)

        def codegen(context, builder, sig, args):
            i64 = _ir.IntType(64)
            function = cgutils.get_or_insert_function(
                builder.module, _ir.FunctionType(i64, [i64, i64]),
                "llvm.x86.sse42.crc32.64.64")
            return builder.call(function, list(args))
        return signature, codegen

    @intrinsic
    def _crc_byte(typingctx, crc, byte):
        """One step of the CRC32 instruction over one byte (``crc32 r32, r8``)."""
        signature = types.int64(types.int64, types.int64)

        def codegen(context, builder, sig, args):
            i32, i8 = _ir.IntType(32), _ir.IntType(8)
            function = cgutils.get_or_insert_function(
                builder.module, _ir.FunctionType(i32, [i32, i8]), "llvm.x86.sse42.crc32.32.8")
            result = builder.call(function, [builder.trunc(args[0], i32),
                                             builder.trunc(args[1], i8)])
            return builder.zext(result, _ir.IntType(64))
        return signature, codegen

    @njit(cache=True, inline="always")
    def _crc32c(buf, start, end):
        """The CPU's CRC32 instruction, 8 bytes a step (the same values as the table)."""
        crc = np.int64(0xFFFFFFFF)
        i = np.uint64(start)
        for _ in range((end - start) >> 3):
            word = (np.int64(buf[i]) | (np.int64(buf[i + np.uint64(1)]) << 8)
                    | (np.int64(buf[i + np.uint64(2)]) << 16)
                    | (np.int64(buf[i + np.uint64(3)]) << 24)
                    | (np.int64(buf[i + np.uint64(4)]) << 32)
                    | (np.int64(buf[i + np.uint64(5)]) << 40)
                    | (np.int64(buf[i + np.uint64(6)]) << 48)
                    | (np.int64(buf[i + np.uint64(7)]) << 56))
            crc = _crc_word(crc, word)
            i += np.uint64(8)
        for _ in range((end - start) & 7):
            crc = _crc_byte(crc, np.int64(buf[i]))
            i += np.uint64(1)
        return crc ^ 0xFFFFFFFF
else:
    _crc32c = _crc32c_table


@njit(cache=True, nogil=True)
def crc32c(buf, start, end):
    """CRC32C of ``buf[start:end]``; equal to ``crc32c.crc32c(bytes(buf[start:end]))``."""
    return _crc32c(buf, start, end)


@njit(cache=True, nogil=True)
def crc32c_table(buf, start, end):
    """The same by the tables alone, whatever the CPU (the tests hold the two together)."""
    return _crc32c_table(buf, start, end)


# -- phase 1: check every record -------------------------------------------------------------

@njit(cache=True, inline="always")
def _skipped(buf, offset, upto, void_lo, void_hi):
    """True if the record is not to be applied: a VOID, above ``upto``, or inside a void."""
    if buf[offset + 28] == T_VOID:
        return True
    lsn = _lsn_key(buf, offset + 8)
    if lsn > upto:
        return True
    for v in range(void_lo.shape[0]):
        if void_lo[v] < lsn and lsn < void_hi[v]:
            return True
    return False


@njit(cache=True, nogil=True)
def scan_records(buf, upto, void_lo, void_hi):
    """Check every record of ``buf``; list the page ids of the records to apply.

    Returns ``(status, offset, detail0, detail1, records, run_pages, run_offsets, runs)``:
    on failure ``status`` is an S_* code for the record at ``offset``; otherwise ``records``
    is the number of records, and the first ``runs`` entries of ``run_pages`` and
    ``run_offsets`` list applicable records' page ids with their offsets, in buffer order,
    leaving out a record whose page is among the last RECENT pages listed. So every page
    appears, its first entry is its first record, and the list is short (a B-tree writer
    keeps changing the same few pages); the caller removes the remaining duplicates.
    """
    end = buf.shape[0]
    capacity = end // RECORD_HEADER + 1
    run_pages = np.empty(capacity, dtype=np.int64)
    run_offsets = np.empty(capacity, dtype=np.int64)
    runs = 0
    recent = np.full(RECENT, -1, dtype=np.int64)
    records = 0
    offset = 0
    while offset < end:
        if offset + RECORD_HEADER > end:
            return (S_TRUNCATED_HEADER, offset, end - offset, 0, records, run_pages,
                    run_offsets, runs)
        length = _u32(buf, offset + 4)
        if length < RECORD_HEADER or length > MAX_RECORD or offset + length > end:
            return S_BAD_LENGTH, offset, length, 0, records, run_pages, run_offsets, runs
        stored = _u32(buf, offset)
        actual = _crc32c(buf, offset + 4, offset + length)
        if actual != stored:
            return S_BAD_CRC, offset, stored, actual, records, run_pages, run_offsets, runs
        version = np.int64(buf[offset + 30])
        rtype = np.int64(buf[offset + 28])
        if version != RECORD_VERSION or rtype < T_INIT_PAGE or rtype > T_VOID:
            return (S_BAD_VERSION_TYPE, offset, version, rtype, records, run_pages,
                    run_offsets, runs)
        if not _skipped(buf, offset, upto, void_lo, void_hi):
            page_id = _u32(buf, offset + 24)
            seen = False
            for k in range(RECENT):
                if recent[k] == page_id:
                    seen = True
            if not seen:
                recent[runs % RECENT] = page_id
                run_pages[runs] = page_id
                run_offsets[runs] = offset
                runs += 1
        records += 1
        offset += length
    return S_OK, 0, 0, 0, records, run_pages, run_offsets, runs


@njit(cache=True, nogil=True)
def first_records(run_pages, run_offsets, runs):
    """The distinct page ids of scan_records' list, ascending, with each page's first offset.

    A volume's page ids are dense, so a table indexed by page id beats sorting; ids beyond
    the table's reasonable size (a sparse set) go through a sort instead.
    """
    top = np.int64(-1)
    for i in range(runs):
        top = max(top, run_pages[i])
    if top >= 16 * runs + (1 << 20):
        order = np.argsort(run_pages[:runs], kind="mergesort")   # stable: first stays first
        ids = np.empty(runs, dtype=np.int64)
        firsts = np.empty(runs, dtype=np.int64)
        count = 0
        for i in range(runs):
            page_id = run_pages[order[i]]
            if count == 0 or ids[count - 1] != page_id:
                ids[count] = page_id
                firsts[count] = run_offsets[order[i]]
                count += 1
        return ids[:count].copy(), firsts[:count].copy()
    first = np.full(top + 1, -1, dtype=np.int64)
    count = 0
    for i in range(runs):
        if first[run_pages[i]] < 0:
            first[run_pages[i]] = run_offsets[i]
            count += 1
    ids = np.empty(count, dtype=np.int64)
    firsts = np.empty(count, dtype=np.int64)
    count = 0
    for page_id in range(top + 1):
        if first[page_id] >= 0:
            ids[count] = page_id
            firsts[count] = first[page_id]
            count += 1
    return ids, firsts


# -- phase 2: the page operations (each mirrors the _apply function of the same name) --------

@njit(cache=True, inline="always")
def _compact(page, scratch, count, need, detail):
    """Rewrite live cells in slot order from the end of the page; return the new cell_start.

    Returns -1 (with ``detail`` set, the code in detail[3]) if the page fails the reference's
    pre-compaction checks; nothing has moved then.
    """
    slot_end = PAGE_HEADER + 4 * count
    if slot_end > PAGE_SIZE:
        detail[0] = count
        detail[3] = E_SLOT_ARRAY
        return -1
    total = 0
    for slot in range(count):
        offset = _u16(page, PAGE_HEADER + 4 * slot)
        length = _u16(page, PAGE_HEADER + 4 * slot + 2)
        if offset + length > PAGE_SIZE:
            detail[0] = slot
            detail[1] = offset
            detail[2] = length
            detail[3] = E_CELL_BOUNDS
            return -1
        total += length
    if PAGE_SIZE - total - slot_end < need:
        detail[0] = total
        detail[3] = E_COMPACT_OVERFLOW
        return -1
    # Cells may overlap their new places, so all of them are gathered in scratch before the
    # page changes (the reference copies them all out first, which is the same thing).
    top = PAGE_SIZE
    for slot in range(count):
        offset = _u16(page, PAGE_HEADER + 4 * slot)
        length = _u16(page, PAGE_HEADER + 4 * slot + 2)
        top -= length
        _move(scratch, top, page, offset, length)
    _move(page, top, scratch, top, PAGE_SIZE - top)
    cell = PAGE_SIZE
    for slot in range(count):
        cell -= _u16(page, PAGE_HEADER + 4 * slot + 2)
        _put16(page, PAGE_HEADER + 4 * slot, cell)
    _zero(page, slot_end, top - slot_end)
    return top


@njit(cache=True, inline="always")
def _insert_cell(page, buf, record, slot, src, length, scratch, detail):
    """INSERT_CELL of ``buf[src:src+length]`` at ``slot``; the LSN comes from ``record``."""
    count = _u16(page, 20)
    cell_start = _u16(page, 22)
    frag = _u16(page, 24)
    slot_end = PAGE_HEADER + 4 * count
    if slot > count:
        detail[0] = slot
        detail[1] = count
        return E_INSERT_SLOT
    if cell_start - slot_end < length + 4:
        if cell_start - slot_end + frag < length + 4:
            detail[0] = length
            return E_PAGE_FULL
        cell_start = _compact(page, scratch, count, length + 4, detail)
        if cell_start < 0:
            return detail[3]
        frag = 0
    elif cell_start > PAGE_SIZE:
        detail[0] = cell_start
        return E_CELL_START
    cell_start -= length
    _move(page, cell_start, buf, src, length)
    position = PAGE_HEADER + 4 * slot
    _move(page, position + 4, page, position, slot_end - position)   # open the slot
    _put16(page, position, cell_start)
    _put16(page, position + 2, length)
    _put16(page, 20, count + 1)
    _put16(page, 22, cell_start)
    _put16(page, 24, frag)
    _set_lsn(page, buf, record)
    return E_OK


@njit(cache=True, inline="always")
def _delete_cells(page, buf, record, slot, number, detail):
    count = _u16(page, 20)
    cell_start = _u16(page, 22)
    frag = _u16(page, 24)
    if slot + number > count:
        detail[0] = slot
        detail[1] = slot + number
        detail[2] = count
        return E_DELETE_SLOTS
    slot_end = PAGE_HEADER + 4 * count
    if slot_end > PAGE_SIZE:
        detail[0] = count
        return E_SLOT_ARRAY
    position = PAGE_HEADER + 4 * slot
    for index in range(number):
        frag += _u16(page, position + 4 * index + 2)
    if count > number and frag > 0xFFFF:
        detail[0] = frag
        return E_FRAG_OVERFLOW
    # Close the gap; the bytes after the shortened array stay as they were.
    _move(page, position, page, position + 4 * number, slot_end - position - 4 * number)
    count -= number
    if count == 0:
        cell_start = PAGE_SIZE
        frag = 0
    _put16(page, 20, count)
    _put16(page, 22, cell_start)
    _put16(page, 24, frag)
    _set_lsn(page, buf, record)
    return E_OK


@njit(cache=True, inline="always")
def _replace_cell(page, buf, record, slot, src, length, scratch, detail):
    count = _u16(page, 20)
    cell_start = _u16(page, 22)
    frag = _u16(page, 24)
    if slot >= count:
        detail[0] = slot
        detail[1] = count
        return E_REPLACE_SLOT
    if PAGE_HEADER + 4 * count > PAGE_SIZE:
        detail[0] = count
        return E_SLOT_ARRAY
    position = PAGE_HEADER + 4 * slot
    offset = _u16(page, position)
    old_length = _u16(page, position + 2)
    if offset + old_length > PAGE_SIZE:
        detail[0] = slot
        detail[1] = offset
        detail[2] = old_length
        return E_CELL_BOUNDS
    if length <= old_length:
        frag += old_length - length
        if frag > 0xFFFF:
            detail[0] = frag
            return E_FRAG_OVERFLOW
        _move(page, offset, buf, src, length)
        # Rewrite the slot and all bookkeeping, as the reference does, even the unchanged
        # fields: on a corrupt page the cell may overlap them.
        _put16(page, position, offset)
        _put16(page, position + 2, length)
        _put16(page, 20, count)
        _put16(page, 22, cell_start)
        _put16(page, 24, frag)
        _set_lsn(page, buf, record)
        return E_OK
    code = _delete_cells(page, buf, record, slot, 1, detail)
    if code != E_OK:
        return code
    return _insert_cell(page, buf, record, slot, src, length, scratch, detail)


@njit(cache=True, inline="always")
def _insert_cells(page, buf, record, payload, payload_end, scratch, detail):
    slot = _u16(buf, payload)
    number = _u16(buf, payload + 2)
    # Check the whole (u16 length, bytes) list before touching the page, as split_cells does.
    cursor = payload + 4
    for _ in range(number):
        if cursor + 2 > payload_end:
            return E_CELLS_PAYLOAD
        cursor += 2 + _u16(buf, cursor)
    if cursor != payload_end:
        return E_CELLS_PAYLOAD
    cursor = payload + 4
    for index in range(number):
        length = _u16(buf, cursor)
        code = _insert_cell(page, buf, record, slot + index, cursor + 2, length, scratch,
                            detail)
        if code != E_OK:
            return code
        cursor += 2 + length
    if number == 0:
        _set_lsn(page, buf, record)
    return E_OK


@njit(cache=True, inline="always")
def _init_page(page, buf, record, payload):
    _zero(page, 0, PAGE_SIZE)
    page[4] = 65          # b"AP"
    page[5] = 80
    page[6] = 1           # page format version
    page[7] = buf[payload]
    _set_lsn(page, buf, record)
    for k in range(4):
        page[16 + k] = buf[record + 24 + k]      # page_id from the record header
        page[28 + k] = buf[payload + 8 + k]      # link0
        page[32 + k] = buf[payload + 12 + k]     # link1
        page[36 + k] = buf[payload + 4 + k]      # tree_id
    _put16(page, 22, PAGE_SIZE)
    page[26] = buf[payload + 1]                  # level
    page[27] = buf[payload + 2]                  # flags


@njit(cache=True, inline="always")
def _apply_one(page, buf, record, rtype, payload, payload_end, scratch, detail):
    """Apply one record whose LSN is above the page LSN; return an E_* code."""
    payload_length = payload_end - payload
    if payload_length < MIN_PAYLOAD[rtype]:
        detail[0] = payload_length
        detail[1] = rtype
        return E_SHORT_PAYLOAD
    if rtype == T_INSERT_CELL:
        return _insert_cell(page, buf, record, _u16(buf, payload), payload + 2,
                            payload_length - 2, scratch, detail)
    if rtype == T_DELETE_CELLS:
        return _delete_cells(page, buf, record, _u16(buf, payload), _u16(buf, payload + 2),
                             detail)
    if rtype == T_REPLACE_CELL:
        return _replace_cell(page, buf, record, _u16(buf, payload), payload + 2,
                             payload_length - 2, scratch, detail)
    if rtype == T_INIT_PAGE:
        _init_page(page, buf, record, payload)
        return E_OK
    if rtype == T_INSERT_CELLS:
        return _insert_cells(page, buf, record, payload, payload_end, scratch, detail)
    if rtype == T_WRITE_BYTES:
        offset = _u16(buf, payload)
        length = payload_length - 2
        if offset < FIRST_WRITABLE or offset + length > PAGE_SIZE:
            detail[0] = length
            detail[1] = offset
            return E_WRITE_BOUNDS
        _move(page, offset, buf, payload + 2, length)
        _set_lsn(page, buf, record)
        return E_OK
    if rtype == T_COMMIT:
        if page[7] != META_TYPE:
            return E_COMMIT_NOT_META
        # txn_id and commit_time are the two u64 at OFF_META_LAST_TXN, in payload order.
        _move(page, OFF_LAST_TXN, buf, payload, 16)
        _set_lsn(page, buf, record)
        return E_OK
    detail[0] = rtype
    return E_UNKNOWN_TYPE


@njit(cache=True, nogil=True)
def apply_records(buf, pages, ids, rows, touched, upto, void_lo, void_hi):
    """Apply every record of a checked buffer to ``pages``; the reference's apply_buffer.

    ``ids`` (sorted ascending) and ``rows`` map a page id to its row of ``pages``; records of
    pages not in ``ids`` are skipped. ``touched[row]`` is set to 1 for every page a record
    changed. Returns ``(code, offset, applied, detail0, detail1, detail2)``: ``code`` is an
    E_* code for the record at ``offset`` (records before it have been applied), ``applied``
    counts the records applied (skipped ones are not counted).
    """
    end = buf.shape[0]
    scratch = np.empty(PAGE_SIZE, dtype=np.uint8)
    detail = np.zeros(4, dtype=np.int64)
    n_ids = ids.shape[0]
    # A volume's page ids are small and dense: then a direct table beats a binary search.
    dense = n_ids > 0 and ids[n_ids - 1] < 8 * n_ids + 4096
    row_of = np.full(ids[n_ids - 1] + 1 if dense else 0, -1, dtype=np.int64)
    if dense:
        for i in range(n_ids):
            row_of[ids[i]] = rows[i]
    last_page = np.int64(-1)
    row = np.int64(-1)
    page = scratch    # any 1-D uint8 array: it only fixes the variable's type
    applied = 0
    record = 0
    while record < end:
        length = _u32(buf, record + 4)
        if not _skipped(buf, record, upto, void_lo, void_hi):
            page_id = _u32(buf, record + 24)
            if page_id != last_page:
                # Only a change of page costs a lookup and a view (a view costs ~10 ns).
                last_page = page_id
                if dense:
                    row = row_of[page_id] if page_id < row_of.shape[0] else -1
                else:
                    index = np.searchsorted(ids, page_id)
                    row = rows[index] if index < n_ids and ids[index] == page_id else -1
                if row >= 0:
                    page = pages[row]
            if row >= 0:
                if _lsn_key(buf, record + 8) > _lsn_key(page, 8):
                    code = _apply_one(page, buf, record, np.int64(buf[record + 28]),
                                      record + RECORD_HEADER, record + length, scratch, detail)
                    touched[row] = 1
                    if code != E_OK:
                        return code, record, applied, detail[0], detail[1], detail[2]
                    applied += 1
        record += length
    return E_OK, 0, applied, 0, 0, 0


# -- the segment's record tables (write path and log reads) ----------------------------------

@njit(cache=True, inline="always")
def _check_one(buf, offset, end):
    """Check the record at ``offset`` as ``scan_records`` does: ``(status, detail0, detail1,
    length)``, status S_OK when the record is whole and valid."""
    if offset + RECORD_HEADER > end:
        return S_TRUNCATED_HEADER, end - offset, 0, 0
    length = _u32(buf, offset + 4)
    if length < RECORD_HEADER or length > MAX_RECORD or offset + length > end:
        return S_BAD_LENGTH, length, 0, length
    stored = _u32(buf, offset)
    actual = _crc32c(buf, offset + 4, offset + length)
    if actual != stored:
        return S_BAD_CRC, stored, actual, length
    version = np.int64(buf[offset + 30])
    rtype = np.int64(buf[offset + 28])
    if version != RECORD_VERSION or rtype < T_INIT_PAGE or rtype > T_VOID:
        return S_BAD_VERSION_TYPE, version, rtype, length
    return S_OK, 0, 0, length


_SIGN = np.int64(-9223372036854775808)


@njit(cache=True, nogil=True)
def record_columns(buf):
    """Check every record of ``buf`` (as ``scan_records``) and return its header fields as
    columns, with a summary of the batch: the segment's write path in one call.

    Returns ``(status, offset, detail0, detail1, count, offsets, lsns, prevs, lengths, pages,
    metas, summary)``: on failure as ``scan_records``; otherwise the first ``count`` entries of
    each column describe the records in buffer order. ``lsns`` and ``prevs`` are the u64
    fields reinterpreted as int64 (bit for bit); ``metas`` is ``flags & 0x0F | type << 4`` (the
    segment index's meta byte). ``summary``: [0] lowest and [1] highest LSN (as ``_lsn_key``,
    order-preserving), [2] lowest and [3] highest page id, [4] number of VOID records, [5] 1
    when the records form one ascending chain (each LSN above its prev_lsn and above the LSN
    before it, each prev_lsn at or below the LSN before it), else 0.
    """
    end = buf.shape[0]
    capacity = end // RECORD_HEADER + 1
    offsets = np.empty(capacity, dtype=np.int64)
    lsns = np.empty(capacity, dtype=np.int64)
    prevs = np.empty(capacity, dtype=np.int64)
    lengths = np.empty(capacity, dtype=np.uint16)
    pages = np.empty(capacity, dtype=np.uint32)
    metas = np.empty(capacity, dtype=np.uint8)
    summary = np.zeros(6, dtype=np.int64)
    summary[5] = 1
    count = 0
    offset = 0
    last_key = np.int64(0)
    while offset < end:
        status, d0, d1, length = _check_one(buf, offset, end)
        if status != S_OK:
            return (status, offset, d0, d1, count, offsets, lsns, prevs, lengths, pages, metas,
                    summary)
        key = _lsn_key(buf, offset + 8)
        prev_key = _lsn_key(buf, offset + 16)
        page = _u32(buf, offset + 24)
        offsets[count] = offset
        lsns[count] = key ^ _SIGN
        prevs[count] = prev_key ^ _SIGN
        lengths[count] = length
        pages[count] = page
        metas[count] = (buf[offset + 29] & 0x0F) | (buf[offset + 28] << 4)
        if buf[offset + 28] == T_VOID:
            summary[4] += 1
        if count == 0:
            summary[0] = key
            summary[1] = key
            summary[2] = page
            summary[3] = page
            if key <= prev_key:
                summary[5] = 0
        else:
            summary[0] = min(summary[0], key)
            summary[1] = max(summary[1], key)
            summary[2] = min(summary[2], page)
            summary[3] = max(summary[3], page)
            if key <= prev_key or key <= last_key or prev_key > last_key:
                summary[5] = 0
        last_key = key
        count += 1
        offset += length
    return S_OK, 0, 0, 0, count, offsets, lsns, prevs, lengths, pages, metas, summary


@njit(cache=True, nogil=True)
def check_records_at(buf, offsets, lengths):
    """Check the record at each ``offsets[i]`` of ``buf`` (as ``scan_records``) and that its
    length is ``lengths[i]``; return the index of the first that fails, or -1."""
    end = buf.shape[0]
    for i in range(offsets.shape[0]):
        status, _d0, _d1, length = _check_one(buf, offsets[i], end)
        if status != S_OK or length != lengths[i]:
            return i
    return -1


@njit(cache=True, nogil=True)
def gather_bytes(src, starts, lengths, dst):
    """``dst`` = ``src[starts[i]:starts[i] + lengths[i]]`` for every i, end to end (the
    caller sizes ``dst`` to the sum of ``lengths`` and keeps every range inside ``src``)."""
    at = 0
    for i in range(starts.shape[0]):
        _move(dst, at, src, starts[i], lengths[i])
        at += lengths[i]
    return at
