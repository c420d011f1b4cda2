"""Golden bytes of the redo record format (Invariant 8; docs/formats/redo.md).

Records are built from fixed inputs and compared with hex written here by hand from the
format table, so any accidental change to the format fails; then they are decoded back.
"""

from __future__ import annotations

import struct

import crc32c
import numpy as np
import pytest

from aurora_lite.errors import CorruptionError
from aurora_lite.page import NO_PAGE, PAGE_SIZE, PageType
from aurora_lite.redo import (
    FLAG_CPL, FLAG_TXN_END, HEADER_SIZE, MAX_RECORD, RECORD_VERSION, MiniTransaction, RecordType,
    append_record, apply_buffer, check_record, iter_records, materialize,
)

# (name, lsn, prev_lsn, page_id, type, flags, payload, golden hex of the whole record)
GOLDEN = [
    ("INIT_PAGE", 10, 9, 7, RecordType.INIT_PAGE, 0,
     struct.pack("<BBBxIII", PageType.INTERNAL, 1, 0, 3, 8, NO_PAGE),
     "f2326919" "30000000" "0a00000000000000" "0900000000000000" "07000000" "01" "00" "01" "00"
     "03" "01" "00" "00" "03000000" "08000000" "ffffffff"),
    ("INSERT_CELL", 11, 10, 7, RecordType.INSERT_CELL, 0, struct.pack("<H", 0) + b"apple",
     "5ac06fcb" "27000000" "0b00000000000000" "0a00000000000000" "07000000" "02" "00" "01" "00"
     "0000" "6170706c65"),
    ("DELETE_CELLS", 12, 11, 7, RecordType.DELETE_CELLS, 0, struct.pack("<HH", 0, 1),
     "df929e07" "24000000" "0c00000000000000" "0b00000000000000" "07000000" "03" "00" "01" "00"
     "0000" "0100"),
    ("REPLACE_CELL", 13, 12, 7, RecordType.REPLACE_CELL, 0, struct.pack("<H", 2) + b"fig",
     "6306da0f" "25000000" "0d00000000000000" "0c00000000000000" "07000000" "04" "00" "01" "00"
     "0200" "666967"),
    ("INSERT_CELLS", 14, 13, 7, RecordType.INSERT_CELLS, 0,
     struct.pack("<HHH", 1, 2, 2) + b"ab" + struct.pack("<H", 1) + b"c",
     "5b2bb539" "2b000000" "0e00000000000000" "0d00000000000000" "07000000" "05" "00" "01" "00"
     "0100" "0200" "0200" "6162" "0100" "63"),
    ("WRITE_BYTES", 15, 14, 7, RecordType.WRITE_BYTES, 0, struct.pack("<HI", 28, 9),
     "93bf90b8" "26000000" "0f00000000000000" "0e00000000000000" "07000000" "06" "00" "01" "00"
     "1c00" "09000000"),
    ("COMMIT", 16, 15, 0, RecordType.COMMIT, FLAG_CPL | FLAG_TXN_END,
     struct.pack("<QQ", 5, 1_700_000_000_123_456),
     "749a2201" "30000000" "1000000000000000" "0f00000000000000" "00000000" "07" "03" "01" "00"
     "0500000000000000" "40222018240a0600"),
    ("VOID", 17, 16, 0, RecordType.VOID, FLAG_CPL | FLAG_TXN_END, struct.pack("<Q", 12),
     "a7cb69f2" "28000000" "1100000000000000" "1000000000000000" "00000000" "08" "03" "01" "00"
     "0c00000000000000"),
]


def test_fixed_values_are_never_renumbered():
    assert {t.name: t.value for t in RecordType} == {
        "INIT_PAGE": 1, "INSERT_CELL": 2, "DELETE_CELLS": 3, "REPLACE_CELL": 4,
        "INSERT_CELLS": 5, "WRITE_BYTES": 6, "COMMIT": 7, "VOID": 8}
    assert (FLAG_CPL, FLAG_TXN_END) == (0x01, 0x02)
    assert (HEADER_SIZE, RECORD_VERSION, MAX_RECORD) == (32, 1, 16384 + 64)


@pytest.mark.parametrize("name, lsn, prev, page_id, rtype, flags, payload, golden", GOLDEN,
                         ids=[g[0] for g in GOLDEN])
def test_each_record_type_golden_bytes(name, lsn, prev, page_id, rtype, flags, payload, golden):
    buffer = bytearray()
    assert append_record(buffer, lsn, prev, page_id, rtype, flags, payload) == 0
    assert buffer.hex() == golden
    assert struct.unpack_from("<I", buffer)[0] == crc32c.crc32c(bytes(buffer[4:]))
    assert check_record(buffer, 0) == len(buffer)
    (record,) = iter_records(bytes.fromhex(golden))
    assert (record.lsn, record.prev_lsn, record.page_id, record.type, record.flags,
            record.payload) == (lsn, prev, page_id, rtype, flags, payload)
    assert record.encode() == bytes.fromhex(golden)


class _Allocator:
    def __init__(self, first: int) -> None:
        self.lsn = first - 1

    def allocate(self, page_id: int) -> tuple[int, int]:
        self.lsn += 1
        return self.lsn, self.lsn - 1


# The worked example of docs/formats/redo.md: one MTR that creates leaf 7 with three cells.
MTR_GOLDEN = (
    "b05e1b95" "30000000" "6400000000000000" "6300000000000000" "07000000" "01000100"
    "02000000" "03000000" "08000000" "ffffffff"
    "4ef09e77" "27000000" "6500000000000000" "6400000000000000" "07000000" "02000100"
    "0000" "6170706c65"
    "18ed6154" "26000000" "6600000000000000" "6500000000000000" "07000000" "02000100"
    "0100" "6b697769"
    "c5fdf554" "25000000" "6700000000000000" "6600000000000000" "07000000" "02010100"
    "0100" "666967"
)


def build_example_mtr() -> tuple[bytearray, bytearray]:
    page = bytearray(PAGE_SIZE)
    mtr = MiniTransaction(_Allocator(100))
    mtr.init_page(page, 7, PageType.LEAF, tree_id=3, link0=8)
    mtr.insert_cell(page, 7, 0, b"apple")
    mtr.insert_cell(page, 7, 1, b"kiwi")
    mtr.insert_cell(page, 7, 1, b"fig")
    return mtr.finish(), page


def test_mini_transaction_golden_bytes_and_decoding():
    buffer, page = build_example_mtr()
    assert buffer.hex() == MTR_GOLDEN
    records = list(iter_records(buffer))
    assert [r.lsn for r in records] == [100, 101, 102, 103]
    assert [r.prev_lsn for r in records] == [99, 100, 101, 102]
    assert [r.is_cpl for r in records] == [False, False, False, True]
    assert [r.payload[2:] for r in records[1:]] == [b"apple", b"kiwi", b"fig"]
    # Both appliers rebuild the writer's page from these bytes.
    for apply in (apply_buffer, materialize.apply_to_pages):
        pages: dict[int, bytearray] = {}
        assert apply(pages, bytes.fromhex(MTR_GOLDEN)) == 4
        assert pages == {7: page}


def test_kernel_crc32c_equals_the_crc32c_package():
    if not materialize.kernel_available():
        pytest.skip("numba is not importable")
    from aurora_lite.redo import _kernels
    data = bytes(range(256)) * 3
    array = np.frombuffer(data, dtype=np.uint8)
    for start, end in [(0, 0), (0, 1), (3, 11), (1, 700), (0, len(data))]:
        assert _kernels.crc32c(array, start, end) == crc32c.crc32c(data[start:end])
        assert _kernels.crc32c_table(array, start, end) == crc32c.crc32c(data[start:end])
    assert _kernels.crc32c(np.frombuffer(b"123456789", dtype=np.uint8), 0, 9) == 0xE3069283
    assert _kernels.crc32c_table(np.frombuffer(b"123456789", dtype=np.uint8), 0, 9) == \
        0xE3069283


def test_hardware_and_table_crc32c_agree_on_random_bytes():
    """The kernels use the CPU's CRC32 instruction where they may (``HARDWARE_CRC``) and the
    slicing-by-8 tables elsewhere: both must give the crc32c package's values, at every length
    and alignment (the 8-byte steps and the byte tail)."""
    if not materialize.kernel_available():
        pytest.skip("numba is not importable")
    from aurora_lite.redo import _kernels
    seed = 20261204
    print(f"seed {seed}; hardware CRC: {_kernels.HARDWARE_CRC}")
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, 20_000, dtype=np.uint8)
    raw = data.tobytes()
    for _ in range(300):
        start = int(rng.integers(0, 64))
        end = start + int(rng.integers(0, 17_000))
        expected = crc32c.crc32c(raw[start:end])
        assert _kernels.crc32c(data, start, end) == expected, (start, end)
        assert _kernels.crc32c_table(data, start, end) == expected, (start, end)


def test_damaged_golden_record_is_reported_at_its_offset():
    buffer = bytearray(bytes.fromhex(MTR_GOLDEN))
    buffer[48 + 34] ^= 0x20                  # a byte of "apple" in the second record
    with pytest.raises(CorruptionError, match="hot.log at offset 1048: record CRC32C mismatch"):
        check_record(buffer, 48, "hot.log", 1000)
    with pytest.raises(CorruptionError, match="hot.log at offset 1048: record CRC32C mismatch"):
        materialize.apply_to_pages({}, buffer, where="hot.log", base=1000)
