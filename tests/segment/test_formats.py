"""Golden bytes of the segment's on-disk headers (docs/formats/segment.md, Invariant 8)."""

from __future__ import annotations

import os

import pytest

from aurora_lite.errors import CorruptionError
from aurora_lite.page import PAGE_SIZE, PageType, empty_page
from aurora_lite.redo import MiniTransaction
from aurora_lite.segment import Control, JournalHeader, LogHeader, PagesHeader, SegmentStore
from aurora_lite.segment._formats import SclHeader, pack_scl_entry, unpack_scl_entry
from aurora_lite.volume import LsnAllocator

GOLDEN = [
    (LogHeader(pg_id=3, file_seq=7, first_lsn=1001),
     "414c4f47 0100 2000 03000000 07000000 e903000000000000 00000000 1de60980"),
    (PagesHeader(pg_id=3, first_page=30000, page_count=10000),
     "414c5053 0100 2800 03000000 00400000 3075000000000000 1027000000000000 00000000 "
     "0f21433a"),
    (JournalHeader(pg_id=3, page_count=2, target_lsn=4242),
     "414c4457 0100 2000 03000000 02000000 9210000000000000 00000000 21b93d31"),
    (SclHeader(pg_id=3),
     "414c534b 0100 2000 03000000 00000000000000000000000000000000 ceb8a90a"),
    (Control(pg_id=3, first_page=30000, page_count=10000, epoch=5, materialized_lsn=4242,
             chain_base=4240, base_cpl=4240, base_txn_end=4200),
     "414c5343 0100 5000 03000000 00000000 3075000000000000 1027000000000000 "
     "0500000000000000 9210000000000000 9010000000000000 9010000000000000 6810000000000000 "
     "00000000 34b0f6c7"),
]


@pytest.mark.parametrize("header, golden", GOLDEN, ids=lambda v: type(v).__name__)
def test_golden_bytes(header, golden):
    packed = header.pack()
    assert packed.hex() == golden.replace(" ", "")
    assert type(header).unpack(packed, "golden") == header


@pytest.mark.parametrize("header, golden", GOLDEN, ids=lambda v: type(v).__name__)
def test_damage_is_named(header, golden):
    packed = bytearray(header.pack())
    packed[9] ^= 0x01
    with pytest.raises(CorruptionError, match=f"golden at offset {len(packed) - 4}: header "
                                              f"CRC32C mismatch"):
        type(header).unpack(packed, "golden")
    packed = bytearray(header.pack())
    packed[4] = 2
    with pytest.raises(CorruptionError, match="golden at offset 4: unsupported version 2"):
        type(header).unpack(packed, "golden")


def test_scl_entry_golden_bytes():
    entry = pack_scl_entry(4242)
    assert entry.hex() == "9210000000000000" "b22d7c32" "00000000"
    assert unpack_scl_entry(entry, 0) == 4242
    assert unpack_scl_entry(b"\x93" + entry[1:], 0) is None


def test_files_are_laid_out_as_documented(tmp_path):
    mtr = MiniTransaction(LsnAllocator(pg_size=1 << 32))
    page = empty_page()
    mtr.init_page(page, 1, PageType.LEAF)
    mtr.insert_cell(page, 1, 0, b"cell")
    buffer = bytes(mtr.finish(txn_end=True))
    store = SegmentStore(tmp_path, 0, 0, 1 << 32, fsync=False)
    store.open()
    store.append(buffer)
    store.sync()
    with open(os.path.join(tmp_path, "redo-00000001.log"), "rb") as handle:
        assert handle.read() == LogHeader(0, 1, 1).pack() + buffer
    store.materialize(2)
    store.close()
    assert not os.path.exists(os.path.join(tmp_path, "redo-00000001.log"))   # collected
    with open(os.path.join(tmp_path, "pages.dat"), "rb") as handle:
        data = handle.read()
    assert len(data) == 3 * PAGE_SIZE                     # header block, page 0 hole, page 1
    assert data[:40] == PagesHeader(0, 0, 1 << 32).pack() and not any(data[40:2 * PAGE_SIZE])
    stored = bytearray(data[2 * PAGE_SIZE:])
    stored[0:4] = bytes(4)
    assert stored == page                                  # sealed image of the page
    with open(os.path.join(tmp_path, "CONTROL"), "rb") as handle:
        assert handle.read() == Control(0, 0, 1 << 32, materialized_lsn=2, chain_base=2,
                                        base_cpl=2, base_txn_end=2).pack()
    assert os.path.getsize(os.path.join(tmp_path, "pages.dwj")) == 0
