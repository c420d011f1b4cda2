"""The 16 KB slotted page: byte layout, header access, sealing with CRC32C.

The layout (all integers little-endian; docs/formats/page.md has the worked example)::

    OFFSET SIZE FIELD
         0    4 checksum     CRC32C of bytes [4, 16384); 0 while the page lives in memory
         4    2 magic        b"AP"
         6    1 version      1
         7    1 page_type    PageType (never renumbered)
         8    8 page_lsn     LSN of the last redo record applied to this page
        16    4 page_id
        20    2 slot_count
        22    2 cell_start   lowest offset used by a cell (16384 when the page has no cells)
        24    2 frag_bytes   bytes of dead cells inside [cell_start, 16384)
        26    1 level        0 for leaves, height above the leaves for internal pages
        27    1 flags
        28    4 link0        leaf: right sibling; internal: leftmost child; overflow/free: next
        32    4 link1        leaf: left sibling
        36    4 tree_id      the B-tree that owns the page (0 for none)
        40    8 aux          type-specific (overflow: bytes used in this page)
        48   16 reserved     zero
        64  4*n slot array   n × (u16 cell offset, u16 cell length), in key order
                 ...         free gap
    cell_start   cells       grow downward from the end of the page

The meta page (page 0, type META) keeps the volume's roots in its body (see META_* below).

Nothing in this module mutates a page except ``seal``; every other change goes through a redo
record and the applier (Invariant 1 of DESIGN.md: pages are built from redo).
"""

from __future__ import annotations

import enum
import struct

import crc32c as _crc32c

from aurora_lite.errors import CorruptionError

PAGE_SIZE = 16384
MAGIC = b"AP"
VERSION = 1
HEADER_SIZE = 64
SLOT_SIZE = 4
NO_PAGE = 0xFFFFFFFF

# Offsets of header fields.
OFF_CHECKSUM = 0
OFF_MAGIC = 4
OFF_VERSION = 6
OFF_TYPE = 7
OFF_LSN = 8
OFF_PAGE_ID = 16
OFF_SLOT_COUNT = 20
OFF_CELL_START = 22
OFF_FRAG = 24
OFF_LEVEL = 26
OFF_FLAGS = 27
OFF_LINK0 = 28
OFF_LINK1 = 32
OFF_TREE_ID = 36
OFF_AUX = 40
# The first byte a WRITE_BYTES record may touch: checksum, magic, type, LSN, page id and the
# slot bookkeeping belong to the applier.
FIRST_WRITABLE = OFF_LEVEL

HEADER = struct.Struct("<I2sBBQIHHHBBIIIQ16x")
assert HEADER.size == HEADER_SIZE

# Meta page body (page 0).
META_PAGE_ID = 0
OFF_META_NEXT_PAGE = 64        # u64 high-water mark of allocated page ids
OFF_META_FREELIST = 72         # u32 head of the free-page chain (NO_PAGE when empty)
OFF_META_CATALOG_ROOT = 76     # u32 root page of the catalog B-tree
OFF_META_LAST_TXN = 80         # u64 id of the last committed transaction
OFF_META_COMMIT_TIME = 88      # u64 commit time of that transaction, microseconds since epoch
OFF_META_NEXT_TREE = 96        # u64 next tree id to hand out
OFF_META_CREATED = 104         # u64 volume creation time, microseconds since epoch
META_END = 112

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SLOT = struct.Struct("<HH")


class PageType(enum.IntEnum):
    """Page types. Values are part of the on-disk format and are never renumbered."""

    UNUSED = 0
    META = 1
    LEAF = 2
    INTERNAL = 3
    OVERFLOW = 4
    FREE = 5


def page_type(page: bytes | bytearray | memoryview) -> int:
    return page[OFF_TYPE]


def page_lsn(page: bytes | bytearray | memoryview) -> int:
    return _U64.unpack_from(page, OFF_LSN)[0]


def page_id_of(page: bytes | bytearray | memoryview) -> int:
    return _U32.unpack_from(page, OFF_PAGE_ID)[0]


def slot_count(page: bytes | bytearray | memoryview) -> int:
    return _U16.unpack_from(page, OFF_SLOT_COUNT)[0]


def level(page: bytes | bytearray | memoryview) -> int:
    return page[OFF_LEVEL]


def link0(page: bytes | bytearray | memoryview) -> int:
    return _U32.unpack_from(page, OFF_LINK0)[0]


def link1(page: bytes | bytearray | memoryview) -> int:
    return _U32.unpack_from(page, OFF_LINK1)[0]


def tree_id(page: bytes | bytearray | memoryview) -> int:
    return _U32.unpack_from(page, OFF_TREE_ID)[0]


def aux(page: bytes | bytearray | memoryview) -> int:
    return _U64.unpack_from(page, OFF_AUX)[0]


def read_u32(page: bytes | bytearray | memoryview, offset: int) -> int:
    return _U32.unpack_from(page, offset)[0]


def read_u64(page: bytes | bytearray | memoryview, offset: int) -> int:
    return _U64.unpack_from(page, offset)[0]


def free_space(page: bytes | bytearray | memoryview) -> int:
    """Contiguous free bytes between the slot array and the cell area."""
    count, cell_start = struct.unpack_from("<HH", page, OFF_SLOT_COUNT)
    if cell_start == 0:
        cell_start = PAGE_SIZE
    return cell_start - HEADER_SIZE - SLOT_SIZE * count


def usable_space(page: bytes | bytearray | memoryview) -> int:
    """Bytes a new cell (plus its slot) may use, counting space that compaction reclaims."""
    return free_space(page) + _U16.unpack_from(page, OFF_FRAG)[0]


def used_space(page: bytes | bytearray | memoryview) -> int:
    """Bytes occupied by live cells and their slots."""
    return PAGE_SIZE - HEADER_SIZE - usable_space(page)


def cell_bounds(page: bytes | bytearray | memoryview, slot: int) -> tuple[int, int]:
    """(offset, length) of the cell in ``slot``."""
    return _SLOT.unpack_from(page, HEADER_SIZE + SLOT_SIZE * slot)


def cell(page: bytes | bytearray | memoryview, slot: int) -> bytes:
    offset, length = _SLOT.unpack_from(page, HEADER_SIZE + SLOT_SIZE * slot)
    return bytes(page[offset:offset + length])


def cells(page: bytes | bytearray | memoryview) -> list[bytes]:
    """Every cell in slot order."""
    count = _U16.unpack_from(page, OFF_SLOT_COUNT)[0]
    slots = struct.unpack_from("<%dH" % (2 * count), page, HEADER_SIZE)
    return [bytes(page[slots[i]:slots[i] + slots[i + 1]]) for i in range(0, 2 * count, 2)]


def slot_array(page: bytes | bytearray | memoryview) -> tuple[int, ...]:
    """Flat (offset0, length0, offset1, length1, ...) of every slot."""
    count = _U16.unpack_from(page, OFF_SLOT_COUNT)[0]
    return struct.unpack_from("<%dH" % (2 * count), page, HEADER_SIZE)


def checksum(page: bytes | bytearray | memoryview) -> int:
    return _crc32c.crc32c(memoryview(page)[4:PAGE_SIZE])


def seal(page: bytearray) -> bytearray:
    """Write the CRC32C into the checksum field (before the page leaves memory)."""
    _U32.pack_into(page, OFF_CHECKSUM, checksum(page))
    return page


def verify(page: bytes | bytearray | memoryview, where: str = "page", offset: int = 0) -> None:
    """Check a sealed page read from disk or the wire (Invariant 5).

    An all-zero page is a page that was never written and is accepted as such.
    """
    if len(page) != PAGE_SIZE:
        raise CorruptionError(f"{where} at offset {offset}: page is {len(page)} bytes, "
                              f"expected {PAGE_SIZE}")
    stored = _U32.unpack_from(page, OFF_CHECKSUM)[0]
    if stored == 0 and page[OFF_MAGIC:OFF_MAGIC + 2] == b"\0\0" and not any(page):
        return
    if page[OFF_MAGIC:OFF_MAGIC + 2] != MAGIC:
        raise CorruptionError(f"{where} at offset {offset}: bad page magic "
                              f"{bytes(page[OFF_MAGIC:OFF_MAGIC + 2])!r}")
    actual = checksum(page)
    if actual != stored:
        raise CorruptionError(f"{where} at offset {offset}: page CRC32C mismatch "
                              f"(stored {stored:#010x}, computed {actual:#010x})")


def empty_page() -> bytearray:
    """An all-zero page: the state of every page before its first INIT_PAGE record."""
    return bytearray(PAGE_SIZE)
