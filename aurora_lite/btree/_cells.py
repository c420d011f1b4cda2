"""B-tree cell formats (docs/formats/btree.md) and the decoded caches kept beside page images.

Leaf cell::

    OFFSET SIZE FIELD
         0    2 key_length   bits 0-14: key length; bit 15: the value lives in overflow pages
         2    k key          memcomparable key bytes
       2+k    * value        inline: the value bytes (rest of the cell)
                             overflow: u32 value length, u32 first overflow page

Internal cell (child i holds keys >= key i and < key i+1; the page's link0 is the leftmost
child, which holds keys < key 0)::

    OFFSET SIZE FIELD
         0    4 child        page id
         4    * key          separator key (rest of the cell)

Overflow page: body [64, 64 + aux) holds a chunk of the value; link0 is the next page.
"""

from __future__ import annotations

import struct

from aurora_lite.page import HEADER_SIZE, PAGE_SIZE, SLOT_SIZE

MAX_KEY = 2048
# Every page holds at least four cells, so a split always leaves room for the new one.
MAX_CELL = (PAGE_SIZE - HEADER_SIZE) // 4 - SLOT_SIZE
OVERFLOW_FLAG = 0x8000
OVERFLOW_CAPACITY = PAGE_SIZE - HEADER_SIZE
# A page whose live cells use less than this is merged with a sibling when they fit together.
UNDERFLOW = (PAGE_SIZE - HEADER_SIZE) // 4
CAPACITY = PAGE_SIZE - HEADER_SIZE

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_OVERFLOW_REF = struct.Struct("<II")


def leaf_cell(key: bytes, value: bytes) -> bytes:
    return _U16.pack(len(key)) + key + value


def overflow_cell(key: bytes, value_length: int, first_page: int) -> bytes:
    return _U16.pack(len(key) | OVERFLOW_FLAG) + key + _OVERFLOW_REF.pack(value_length, first_page)


def internal_cell(key: bytes, child: int) -> bytes:
    return _U32.pack(child) + key


def leaf_keys(data: bytearray | bytes) -> list[bytes]:
    """Every key of a leaf page, in slot order."""
    count = _U16.unpack_from(data, 20)[0]
    if not count:
        return []
    slots = struct.unpack_from("<%dH" % (2 * count), data, HEADER_SIZE)
    keys = []
    append = keys.append
    for index in range(0, 2 * count, 2):
        offset = slots[index]
        length = (data[offset] | data[offset + 1] << 8) & 0x7FFF
        append(bytes(data[offset + 2:offset + 2 + length]))
    return keys


def internal_entries(data: bytearray | bytes) -> tuple[list[bytes], list[int]]:
    """(separator keys, child page ids) of an internal page, children aligned with keys."""
    count = _U16.unpack_from(data, 20)[0]
    if not count:
        return [], []
    slots = struct.unpack_from("<%dH" % (2 * count), data, HEADER_SIZE)
    keys = []
    children = []
    for index in range(0, 2 * count, 2):
        offset = slots[index]
        children.append(_U32.unpack_from(data, offset)[0])
        keys.append(bytes(data[offset + 4:offset + slots[index + 1]]))
    return keys, children


def leaf_cell_at(data: bytearray | bytes, slot: int) -> tuple[int, int]:
    """(offset, length) of the leaf cell in ``slot``."""
    return struct.unpack_from("<HH", data, HEADER_SIZE + SLOT_SIZE * slot)


def raw_cell(data: bytearray | bytes, slot: int) -> bytes:
    offset, length = struct.unpack_from("<HH", data, HEADER_SIZE + SLOT_SIZE * slot)
    return bytes(data[offset:offset + length])


def split_leaf_value(data: bytearray | bytes, slot: int) -> tuple[bool, bytes | tuple[int, int]]:
    """(is_overflow, inline value bytes | (value length, first overflow page))."""
    offset, length = struct.unpack_from("<HH", data, HEADER_SIZE + SLOT_SIZE * slot)
    key_length = _U16.unpack_from(data, offset)[0]
    start = offset + 2 + (key_length & 0x7FFF)
    if key_length & OVERFLOW_FLAG:
        return True, _OVERFLOW_REF.unpack_from(data, start)
    return False, bytes(data[start:offset + length])


def leaf_values(data: bytearray | bytes, start: int, stop: int) -> list:
    """Values of slots [start, stop): bytes for inline values, (length, page) for overflow."""
    if stop <= start:
        return []
    slots = struct.unpack_from("<%dH" % (2 * (stop - start)), data, HEADER_SIZE + 4 * start)
    values = []
    append = values.append
    for index in range(0, len(slots), 2):
        offset = slots[index]
        key_length = data[offset] | data[offset + 1] << 8
        if key_length & OVERFLOW_FLAG:
            append(_OVERFLOW_REF.unpack_from(data, offset + 2 + (key_length & 0x7FFF)))
        else:
            append(bytes(data[offset + 2 + key_length:offset + slots[index + 1]]))
    return values
