"""The reference redo applier: pure Python, the definition of what every record does to a page.

The numba kernel (``_kernels``) must produce byte-identical pages (Invariant 7); the
differential test in tests/redo holds the two together. The writer's B-tree applies its own
records through these functions too, so the page in the writer's buffer pool and the page a
segment materializes are the same bytes.

Slotted-page rules that both implementations follow exactly:

* INSERT_CELL needs ``len(cell) + 4`` bytes. If the contiguous gap between the slot array and
  ``cell_start`` is too small but gap + ``frag_bytes`` suffices, the page is compacted first:
  live cells are rewritten in slot order downward from the end of the page (slot 0 highest),
  ``frag_bytes`` becomes 0 and the bytes between the slot array and the new ``cell_start`` are
  zeroed. Then the cell goes just below ``cell_start``.
* DELETE_CELLS adds the deleted cells' lengths to ``frag_bytes`` and closes the slot array;
  the bytes after the shortened slot array are left as they were. When no cell is left,
  ``cell_start`` becomes 16384 and ``frag_bytes`` 0.
* REPLACE_CELL with a cell no longer than the old one overwrites it in place (the tail becomes
  fragmentation); a longer cell is DELETE_CELLS of the slot followed by INSERT_CELL at it.
* Every record sets the page LSN to its own LSN, except VOID, which changes no page.
* ``apply`` skips a record whose LSN is not above the page LSN, so replay is idempotent.
* A record whose payload is shorter than its type's fixed part, or a page whose bookkeeping
  cannot be true (a slot array reaching past the page, a cell the applier reads or overwrites
  lying outside the page, ``cell_start`` above 16384 when a cell is placed below it, live cells
  that no longer fit after compaction, ``frag_bytes`` overflowing u16) is a CorruptionError,
  raised before the offending record changes the page. None of these can happen to a page
  built from valid records; the checks keep both appliers inside the page's 16384 bytes.
"""

from __future__ import annotations

import struct

from aurora_lite.errors import CorruptionError
from aurora_lite.page._layout import (
    FIRST_WRITABLE, HEADER, HEADER_SIZE, MAGIC, OFF_LSN, OFF_META_COMMIT_TIME, OFF_META_LAST_TXN,
    OFF_SLOT_COUNT, PAGE_SIZE, VERSION, PageType,
)
from aurora_lite.redo._record import (
    HEADER_SIZE as RECORD_HEADER_SIZE, RECORD_HEADER, RecordType,
)

_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_SLOT = struct.Struct("<HH")
_BOOK = struct.Struct("<HHH")   # slot_count, cell_start, frag_bytes
_INIT = struct.Struct("<BBBxIII")
_TWO_U16 = struct.Struct("<HH")
_TWO_U64 = struct.Struct("<QQ")
_ZEROS = bytes(PAGE_SIZE)

# The fixed part of each record type's payload; a shorter payload is corruption.
MIN_PAYLOAD = {
    RecordType.INIT_PAGE: _INIT.size, RecordType.INSERT_CELL: 2, RecordType.DELETE_CELLS: 4,
    RecordType.REPLACE_CELL: 2, RecordType.INSERT_CELLS: 4, RecordType.WRITE_BYTES: 2,
    RecordType.COMMIT: _TWO_U64.size,
}
_VOID_PAYLOAD = 8


class PageFullError(CorruptionError):
    """A record asked for more space than the page has: the log and the page disagree."""


def _fail(page_id: int, lsn: int, what: str) -> None:
    raise CorruptionError(f"redo record lsn {lsn} for page {page_id}: {what}")


def _compact(page: bytearray, lsn: int, count: int, need: int) -> int:
    """Rewrite live cells in slot order from the end of the page; return the new cell_start.

    ``need`` is the gap the caller needs after compaction; the page is checked before any
    byte moves (a page that fails the check is corrupt, see the module docstring).
    """
    slot_end = HEADER_SIZE + 4 * count
    if slot_end > PAGE_SIZE:
        _fail(_page_id(page), lsn, f"slot array of {count} slots exceeds the page")
    cells = []
    total = 0
    for slot in range(count):
        offset, length = _SLOT.unpack_from(page, HEADER_SIZE + 4 * slot)
        if offset + length > PAGE_SIZE:
            _fail(_page_id(page), lsn, f"cell of slot {slot} at offset {offset} length "
                                       f"{length} lies outside the page")
        total += length
        cells.append(bytes(page[offset:offset + length]))
    if PAGE_SIZE - total - slot_end < need:
        _fail(_page_id(page), lsn, f"live cells ({total} bytes) do not fit after compaction")
    top = PAGE_SIZE
    for slot, data in enumerate(cells):
        top -= len(data)
        page[top:top + len(data)] = data
        _SLOT.pack_into(page, HEADER_SIZE + 4 * slot, top, len(data))
    page[slot_end:top] = _ZEROS[:top - slot_end]
    return top


def op_init_page(page: bytearray, lsn: int, page_id: int, page_type: int, level: int,
                 flags: int, tree_id: int, link0: int, link1: int) -> None:
    page[:] = _ZEROS
    HEADER.pack_into(page, 0, 0, MAGIC, VERSION, page_type, lsn, page_id, 0, PAGE_SIZE, 0,
                     level, flags, link0, link1, tree_id, 0)


def op_insert_cell(page: bytearray, lsn: int, slot: int, data: bytes | memoryview) -> None:
    count, cell_start, frag = _BOOK.unpack_from(page, OFF_SLOT_COUNT)
    length = len(data)
    slot_end = HEADER_SIZE + 4 * count
    if slot > count:
        _fail(_page_id(page), lsn, f"insert at slot {slot} of {count}")
    if cell_start - slot_end < length + 4:
        if cell_start - slot_end + frag < length + 4:
            raise PageFullError(f"redo record lsn {lsn} for page {_page_id(page)}: cell of "
                                f"{length} bytes does not fit")
        cell_start = _compact(page, lsn, count, length + 4)
        frag = 0
    elif cell_start > PAGE_SIZE:
        _fail(_page_id(page), lsn, f"cell_start {cell_start} is beyond the page")
    cell_start -= length
    page[cell_start:cell_start + length] = data
    position = HEADER_SIZE + 4 * slot
    if slot < count:
        page[position + 4:slot_end + 4] = page[position:slot_end]
    _SLOT.pack_into(page, position, cell_start, length)
    _BOOK.pack_into(page, OFF_SLOT_COUNT, count + 1, cell_start, frag)
    _U64.pack_into(page, OFF_LSN, lsn)


def op_delete_cells(page: bytearray, lsn: int, slot: int, number: int) -> None:
    count, cell_start, frag = _BOOK.unpack_from(page, OFF_SLOT_COUNT)
    if slot + number > count:
        _fail(_page_id(page), lsn, f"delete of slots {slot}..{slot + number} of {count}")
    slot_end = HEADER_SIZE + 4 * count
    if slot_end > PAGE_SIZE:
        _fail(_page_id(page), lsn, f"slot array of {count} slots exceeds the page")
    position = HEADER_SIZE + 4 * slot
    for index in range(number):
        frag += _U16.unpack_from(page, position + 4 * index + 2)[0]
    if count > number and frag > 0xFFFF:
        _fail(_page_id(page), lsn, f"frag_bytes overflow ({frag})")
    page[position:slot_end - 4 * number] = page[position + 4 * number:slot_end]
    count -= number
    if count == 0:
        cell_start = PAGE_SIZE
        frag = 0
    _BOOK.pack_into(page, OFF_SLOT_COUNT, count, cell_start, frag)
    _U64.pack_into(page, OFF_LSN, lsn)


def op_replace_cell(page: bytearray, lsn: int, slot: int, data: bytes | memoryview) -> None:
    count, cell_start, frag = _BOOK.unpack_from(page, OFF_SLOT_COUNT)
    if slot >= count:
        _fail(_page_id(page), lsn, f"replace of slot {slot} of {count}")
    if HEADER_SIZE + 4 * count > PAGE_SIZE:
        _fail(_page_id(page), lsn, f"slot array of {count} slots exceeds the page")
    position = HEADER_SIZE + 4 * slot
    offset, old_length = _SLOT.unpack_from(page, position)
    if offset + old_length > PAGE_SIZE:
        _fail(_page_id(page), lsn, f"cell of slot {slot} at offset {offset} length "
                                   f"{old_length} lies outside the page")
    length = len(data)
    if length <= old_length:
        if frag + old_length - length > 0xFFFF:
            _fail(_page_id(page), lsn, f"frag_bytes overflow ({frag + old_length - length})")
        page[offset:offset + length] = data
        _SLOT.pack_into(page, position, offset, length)
        _BOOK.pack_into(page, OFF_SLOT_COUNT, count, cell_start, frag + old_length - length)
        _U64.pack_into(page, OFF_LSN, lsn)
        return
    op_delete_cells(page, lsn, slot, 1)
    op_insert_cell(page, lsn, slot, data)


def op_insert_cells(page: bytearray, lsn: int, slot: int, cells: list[bytes]) -> None:
    for index, data in enumerate(cells):
        op_insert_cell(page, lsn, slot + index, data)
    if not cells:
        _U64.pack_into(page, OFF_LSN, lsn)


def op_write_bytes(page: bytearray, lsn: int, offset: int, data: bytes | memoryview) -> None:
    if offset < FIRST_WRITABLE or offset + len(data) > PAGE_SIZE:
        _fail(_page_id(page), lsn, f"write of {len(data)} bytes at offset {offset}")
    page[offset:offset + len(data)] = data
    _U64.pack_into(page, OFF_LSN, lsn)


def op_commit(page: bytearray, lsn: int, txn_id: int, commit_time_us: int) -> None:
    if page[7] != PageType.META:
        _fail(_page_id(page), lsn, "COMMIT applied to a page that is not the meta page")
    _U64.pack_into(page, OFF_META_LAST_TXN, txn_id)
    _U64.pack_into(page, OFF_META_COMMIT_TIME, commit_time_us)
    _U64.pack_into(page, OFF_LSN, lsn)


def _page_id(page: bytearray) -> int:
    return struct.unpack_from("<I", page, 16)[0]


def split_cells(payload: bytes | memoryview, count: int, start: int = 4) -> list[bytes]:
    """Decode the ``count`` (u16 length, bytes) pairs of an INSERT_CELLS payload."""
    cells = []
    offset = start
    for _ in range(count):
        if offset + 2 > len(payload):
            raise CorruptionError("INSERT_CELLS payload length does not match its cells")
        length = _U16.unpack_from(payload, offset)[0]
        cells.append(bytes(payload[offset + 2:offset + 2 + length]))
        offset += 2 + length
    if offset != len(payload):
        raise CorruptionError("INSERT_CELLS payload length does not match its cells")
    return cells


def apply(page: bytearray, rtype: int, lsn: int, page_id: int,
          payload: bytes | memoryview) -> bool:
    """Apply one record to ``page``; return False if it was skipped (LSN not above the page's)."""
    if lsn <= _U64.unpack_from(page, OFF_LSN)[0]:
        return False
    if len(payload) < MIN_PAYLOAD.get(rtype, 0):
        _fail(page_id, lsn, f"payload of {len(payload)} bytes is too short for record type "
                            f"{rtype}")
    if rtype == RecordType.INSERT_CELL:
        op_insert_cell(page, lsn, _U16.unpack_from(payload, 0)[0], payload[2:])
    elif rtype == RecordType.DELETE_CELLS:
        slot, number = _TWO_U16.unpack_from(payload, 0)
        op_delete_cells(page, lsn, slot, number)
    elif rtype == RecordType.REPLACE_CELL:
        op_replace_cell(page, lsn, _U16.unpack_from(payload, 0)[0], payload[2:])
    elif rtype == RecordType.INIT_PAGE:
        page_type, level, flags, tree_id, link0, link1 = _INIT.unpack_from(payload, 0)
        op_init_page(page, lsn, page_id, page_type, level, flags, tree_id, link0, link1)
    elif rtype == RecordType.INSERT_CELLS:
        slot, number = _TWO_U16.unpack_from(payload, 0)
        op_insert_cells(page, lsn, slot, split_cells(payload, number))
    elif rtype == RecordType.WRITE_BYTES:
        op_write_bytes(page, lsn, _U16.unpack_from(payload, 0)[0], payload[2:])
    elif rtype == RecordType.COMMIT:
        txn_id, commit_time = _TWO_U64.unpack_from(payload, 0)
        op_commit(page, lsn, txn_id, commit_time)
    elif rtype == RecordType.VOID:
        return False
    else:
        _fail(page_id, lsn, f"unknown record type {rtype}")
    return True


def apply_buffer(pages: dict[int, bytearray], buf: bytes | bytearray | memoryview,
                 offsets: list[int] | None = None, *, voids: list[tuple[int, int]] = (),
                 upto_lsn: int | None = None) -> int:
    """Apply every record of a packed buffer to ``pages`` (page id -> page); return the count.

    Pages missing from ``pages`` are created as empty pages. Records inside a void range
    ``(from_lsn, void_lsn)`` and records above ``upto_lsn`` are skipped. The caller has checked
    the records' CRCs (``record_offsets`` does both).
    """
    from aurora_lite.redo._record import record_offsets
    if offsets is None:
        offsets = record_offsets(buf)
    applied = 0
    for offset in offsets:
        _crc, length, lsn, _prev, page_id, rtype, _flags, _v = RECORD_HEADER.unpack_from(
            buf, offset)
        if upto_lsn is not None and lsn > upto_lsn:
            continue
        if rtype == RecordType.VOID or any(low < lsn < high for low, high in voids):
            continue
        page = pages.get(page_id)
        if page is None:
            page = pages[page_id] = bytearray(PAGE_SIZE)
        if apply(page, rtype, lsn, page_id,
                 memoryview(buf)[offset + RECORD_HEADER_SIZE:offset + length]):
            applied += 1
    return applied


def void_ranges(buf: bytes | bytearray | memoryview, offsets: list[int]) -> list[tuple[int, int]]:
    """The (from_lsn, void_lsn) ranges declared by VOID records in a buffer."""
    ranges = []
    for offset in offsets:
        if buf[offset + 28] == RecordType.VOID:
            length = struct.unpack_from("<I", buf, offset + 4)[0]
            if length < RECORD_HEADER_SIZE + _VOID_PAYLOAD:
                raise CorruptionError(f"VOID record at offset {offset}: payload of "
                                      f"{length - RECORD_HEADER_SIZE} bytes, expected 8")
            lsn = _U64.unpack_from(buf, offset + 8)[0]
            low = _U64.unpack_from(buf, offset + RECORD_HEADER_SIZE)[0]
            ranges.append((low, lsn))
    return ranges
