"""Golden bytes of the 16 KB page format (Invariant 8; docs/formats/page.md).

A leaf page and the meta page are built through MiniTransaction from fixed inputs (pages
only change through redo, Invariant 1), compared with hex written here from the format
table, sealed, verified, and decoded back with the page accessors.
"""

from __future__ import annotations

import struct

import crc32c
import pytest

from aurora_lite.errors import CorruptionError
from aurora_lite.page import (
    FIRST_WRITABLE, HEADER, HEADER_SIZE, MAGIC, META_END, NO_PAGE, OFF_AUX, OFF_CELL_START,
    OFF_CHECKSUM, OFF_FLAGS, OFF_FRAG, OFF_LEVEL, OFF_LINK0, OFF_LINK1, OFF_LSN, OFF_MAGIC,
    OFF_META_CATALOG_ROOT, OFF_META_COMMIT_TIME, OFF_META_CREATED, OFF_META_FREELIST,
    OFF_META_LAST_TXN, OFF_META_NEXT_PAGE, OFF_META_NEXT_TREE, OFF_PAGE_ID, OFF_SLOT_COUNT,
    OFF_TREE_ID, OFF_TYPE, OFF_VERSION, PAGE_SIZE, SLOT_SIZE, VERSION, PageType, cell_bounds,
    cells, checksum, free_space, level, link0, link1, page_id_of, page_lsn, page_type, read_u32,
    read_u64, seal, slot_count, tree_id, usable_space, verify,
)
from aurora_lite.redo import MiniTransaction


class _Allocator:
    def __init__(self, first: int) -> None:
        self.lsn = first - 1

    def allocate(self, page_id: int) -> tuple[int, int]:
        self.lsn += 1
        return self.lsn, self.lsn - 1


def build_leaf() -> bytearray:
    """Leaf 7 of tree 3, right sibling 8, cells "apple", "fig", "kiwi" (LSNs 100..103)."""
    page = bytearray(PAGE_SIZE)
    mtr = MiniTransaction(_Allocator(100))
    mtr.init_page(page, 7, PageType.LEAF, tree_id=3, link0=8)
    mtr.insert_cell(page, 7, 0, b"apple")
    mtr.insert_cell(page, 7, 1, b"kiwi")
    mtr.insert_cell(page, 7, 1, b"fig")
    return page


LEAF_HEADER = (
    "00000000"              # 0  checksum (0 in memory)
    "4150"                  # 4  magic "AP"
    "01"                    # 6  version
    "02"                    # 7  page_type LEAF
    "6700000000000000"      # 8  page_lsn 103
    "07000000"              # 16 page_id 7
    "0300"                  # 20 slot_count 3
    "f43f"                  # 22 cell_start 16372
    "0000"                  # 24 frag_bytes
    "00"                    # 26 level
    "00"                    # 27 flags
    "08000000"              # 28 link0: right sibling 8
    "ffffffff"              # 32 link1: no left sibling
    "03000000"              # 36 tree_id 3
    "0000000000000000"      # 40 aux
    + "00" * 16             # 48 reserved
)
LEAF_SLOTS = "fb3f0500" "f43f0300" "f73f0400"     # (16379, 5) (16372, 3) (16375, 4)
LEAF_CELLS = "666967" "6b697769" "6170706c65"     # at 16372: "fig" "kiwi" "apple"
LEAF_CHECKSUM = 0xD1FB57FB


def test_fixed_values_are_never_renumbered():
    assert {t.name: t.value for t in PageType} == {
        "UNUSED": 0, "META": 1, "LEAF": 2, "INTERNAL": 3, "OVERFLOW": 4, "FREE": 5}
    assert (PAGE_SIZE, MAGIC, VERSION, HEADER_SIZE, SLOT_SIZE, NO_PAGE) == (
        16384, b"AP", 1, 64, 4, 0xFFFFFFFF)
    assert HEADER.size == HEADER_SIZE
    assert [OFF_CHECKSUM, OFF_MAGIC, OFF_VERSION, OFF_TYPE, OFF_LSN, OFF_PAGE_ID,
            OFF_SLOT_COUNT, OFF_CELL_START, OFF_FRAG, OFF_LEVEL, OFF_FLAGS, OFF_LINK0,
            OFF_LINK1, OFF_TREE_ID, OFF_AUX] == [
        0, 4, 6, 7, 8, 16, 20, 22, 24, 26, 27, 28, 32, 36, 40]
    assert FIRST_WRITABLE == 26
    assert [OFF_META_NEXT_PAGE, OFF_META_FREELIST, OFF_META_CATALOG_ROOT, OFF_META_LAST_TXN,
            OFF_META_COMMIT_TIME, OFF_META_NEXT_TREE, OFF_META_CREATED, META_END] == [
        64, 72, 76, 80, 88, 96, 104, 112]


def test_leaf_page_golden_bytes():
    page = build_leaf()
    assert page[:HEADER_SIZE].hex() == LEAF_HEADER
    assert page[HEADER_SIZE:HEADER_SIZE + 12].hex() == LEAF_SLOTS
    assert page[16372:].hex() == LEAF_CELLS
    assert not any(page[HEADER_SIZE + 12:16372])
    seal(page)
    assert page[:4].hex() == "fb57fbd1"
    assert checksum(page) == LEAF_CHECKSUM == crc32c.crc32c(bytes(page[4:]))
    verify(page, "golden.page")


def test_leaf_page_decodes_back():
    page = seal(build_leaf())
    assert (page_type(page), page_lsn(page), page_id_of(page), slot_count(page)) == (
        PageType.LEAF, 103, 7, 3)
    assert (level(page), link0(page), link1(page), tree_id(page)) == (0, 8, NO_PAGE, 3)
    assert cells(page) == [b"apple", b"fig", b"kiwi"]
    assert [cell_bounds(page, slot) for slot in range(3)] == [(16379, 5), (16372, 3),
                                                              (16375, 4)]
    assert free_space(page) == 16372 - HEADER_SIZE - 12
    assert usable_space(page) == free_space(page)
    fields = HEADER.unpack_from(page)
    assert fields == (LEAF_CHECKSUM, b"AP", 1, 2, 103, 7, 3, 16372, 0, 0, 0, 8, NO_PAGE, 3, 0)


META_BODY = (
    "0900000000000000"      # 64  next_page 9
    "ffffffff"              # 72  freelist head: none
    "01000000"              # 76  catalog_root 1
    "0500000000000000"      # 80  last_txn 5
    "40222018240a0600"      # 88  commit_time 1700000000123456 us
    "0400000000000000"      # 96  next_tree 4
    "00401e18240a0600"      # 104 created 1700000000000000 us
)


def test_meta_page_golden_bytes():
    meta = bytearray(PAGE_SIZE)
    mtr = MiniTransaction(_Allocator(1))
    mtr.init_page(meta, 0, PageType.META)
    mtr.write_u64(meta, 0, OFF_META_NEXT_PAGE, 9)
    mtr.write_u32(meta, 0, OFF_META_FREELIST, NO_PAGE)
    mtr.write_u32(meta, 0, OFF_META_CATALOG_ROOT, 1)
    mtr.write_u64(meta, 0, OFF_META_NEXT_TREE, 4)
    mtr.write_u64(meta, 0, OFF_META_CREATED, 1_700_000_000_000_000)
    mtr.commit_record(meta, 5, 1_700_000_000_123_456)
    assert meta[:HEADER_SIZE].hex() == (
        "00000000" "4150" "01" "01" "0700000000000000" "00000000" "0000" "0040" "0000" "00" "00"
        "ffffffff" "ffffffff" "00000000" "0000000000000000" + "00" * 16)
    assert meta[HEADER_SIZE:META_END].hex() == META_BODY
    assert not any(meta[META_END:])
    assert (read_u64(meta, OFF_META_LAST_TXN), read_u64(meta, OFF_META_COMMIT_TIME),
            read_u32(meta, OFF_META_CATALOG_ROOT)) == (5, 1_700_000_000_123_456, 1)
    seal(meta)
    assert checksum(meta) == 0xB5958E84
    verify(meta)


def test_verify_names_the_damage():
    page = seal(build_leaf())
    verify(bytes(PAGE_SIZE))                      # a never-written page is accepted
    damaged = bytearray(page)
    damaged[16380] ^= 1
    with pytest.raises(CorruptionError, match=r"seg\.data at offset 32768: page CRC32C "
                                              r"mismatch \(stored 0xd1fb57fb"):
        verify(damaged, "seg.data", 32768)
    damaged = bytearray(page)
    damaged[OFF_MAGIC] = ord("X")
    with pytest.raises(CorruptionError, match="bad page magic"):
        verify(damaged)
    with pytest.raises(CorruptionError, match="page is 100 bytes"):
        verify(bytes(100))
    struct.pack_into("<I", page, OFF_CHECKSUM, 0)
    with pytest.raises(CorruptionError):
        verify(page)
