"""Archived chunk and snapshot formats: golden bytes (docs/formats/archive.md), round trips,
and every kind of damage named by the decoder (Invariants 5 and 8)."""

from __future__ import annotations

import pathlib
import random
import re
import struct

import numpy as np
import pytest

from aurora_lite.archive import (
    CHUNK_HEADER, SNAPSHOT_HEADER, ChunkHeader, SnapshotHeader, SnapshotWriter, decode_chunk,
    decode_snapshot, encode_chunk, snapshot_pages,
)
from aurora_lite.errors import CorruptionError, InternalError
from aurora_lite.page import page_lsn, seal
from aurora_lite.redo import FLAG_CPL, FLAG_TXN_END, RecordType, RedoRecord, apply_buffer

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "formats" / "archive.md"

RECORDS = [
    RedoRecord(100, 99, 7, RecordType.INIT_PAGE, 0,
               bytes.fromhex("02000000" "03000000" "08000000" "ffffffff")),
    RedoRecord(101, 100, 7, RecordType.INSERT_CELL, FLAG_CPL, b"\x00\x00apple"),
    RedoRecord(102, 101, 0, RecordType.VOID, FLAG_CPL | FLAG_TXN_END, struct.pack("<Q", 100)),
    RedoRecord(103, 102, 0, RecordType.COMMIT, FLAG_CPL | FLAG_TXN_END,
               struct.pack("<QQ", 5, 1700000000123456)),
]
BUFFER = b"".join(record.encode() for record in RECORDS)

GOLDEN_CHUNK = bytes.fromhex(
    # header (96 bytes)
    "414c4143 0100 6000 00000000 04000000 6300000000000000 6800000000000000"
    "40222018240a0600 40222018240a0600 01000000 01000000 02000000 f1a7c94a"
    "af00000000000000 8800000000000000 42e72f3e 0000000000000000 a49fe923"
    # index: commit (103, 1700000000123456), void (100, 102), pages 0 and 7
    "6700000000000000 40222018240a0600 6400000000000000 6600000000000000"
    "00000000 07000000"
    # body: the four records as one LZ4 block
    "a2b05e1b95300000006400010012630700f313000700000001000100020000000300000008000000"
    "ffffffffeb8bc8bc27000000652800043800f309070000000201010000006170706c650afbbbff28"
    "000000662700042f0075000000000803016f0092ccb5af9030000000671b00053000920000000007"
    "030100050b00900040222018240a0600".replace(" ", ""))

GOLDEN_SNAPSHOT_HEAD = bytes.fromhex(
    "414c4153 0100 4000 00000000 01000000 6500000000000000 6500000000000000"
    "00401e18240a0600 7a00000000000000 b5861a8b b80db5aa 00000000 2bba2b56"
    "07000000 7a000000".replace(" ", ""))


def _page7() -> bytearray:
    pages: dict[int, bytearray] = {}
    apply_buffer(pages, RECORDS[0].encode() + RECORDS[1].encode())
    return seal(pages[7])


def test_chunk_golden_bytes():
    assert CHUNK_HEADER.size == 96
    assert encode_chunk(0, 99, 104, BUFFER) == GOLDEN_CHUNK
    header, index, records = decode_chunk(GOLDEN_CHUNK, "golden")
    assert header == ChunkHeader(
        pg_id=0, record_count=4, start_lsn=99, end_lsn=104, min_commit_time=1700000000123456,
        max_commit_time=1700000000123456, commit_count=1, void_count=1, page_count=2,
        index_crc=header.index_crc, raw_size=len(BUFFER), body_size=136,
        body_crc=header.body_crc)
    assert index.commits == ((103, 1700000000123456),)
    assert index.voids == ((100, 102),)
    assert index.pages.tolist() == [0, 7]
    assert records == BUFFER


def test_snapshot_golden_bytes():
    assert SNAPSHOT_HEADER.size == 64
    writer = SnapshotWriter(0)
    writer.add(bytes(_page7()))
    data = writer.finish(101, 1700000000000000)
    assert data[:72] == GOLDEN_SNAPSHOT_HEAD
    header, table, body = decode_snapshot(data, "golden")
    assert header == SnapshotHeader(0, 1, 101, 101, 1700000000000000, 122, header.body_crc,
                                    header.index_crc)
    [(page_id, image)] = list(snapshot_pages(table, body, "golden"))
    assert page_id == 7 and image == bytes(_page7()) and page_lsn(image) == 101


def test_the_document_shows_the_golden_bytes():
    text = DOC.read_text()
    blocks = re.findall(r"```\n((?:[0-9a-f ]+\n)+)```", text)
    hexes = ["".join(block.split()) for block in blocks]
    assert GOLDEN_CHUNK.hex() in hexes
    assert GOLDEN_SNAPSHOT_HEAD.hex() in hexes


def test_chunk_round_trip_random_records():
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    records, lsn = [], 1000
    for _ in range(300):
        lsn += rng.randint(1, 3)
        kind = rng.choice([RecordType.INSERT_CELL, RecordType.WRITE_BYTES, RecordType.COMMIT,
                           RecordType.VOID])
        if kind == RecordType.COMMIT:
            payload = struct.pack("<QQ", lsn, rng.randrange(1 << 50))
            page = 0
        elif kind == RecordType.VOID:
            payload = struct.pack("<Q", lsn - rng.randint(1, 20))
            page = rng.randrange(64)
        else:
            payload = rng.randbytes(rng.randint(2, 300))
            page = rng.randrange(64)
        records.append(RedoRecord(lsn, lsn - 1, page, kind, 0, payload))
    buffer = b"".join(record.encode() for record in records)
    data = encode_chunk(3, 999, lsn + 5, buffer)
    header, index, raw = decode_chunk(data, "random")
    assert raw == buffer and header.record_count == len(records)
    commits = [(r.lsn, struct.unpack("<QQ", r.payload)[1]) for r in records
               if r.type == RecordType.COMMIT]
    assert list(index.commits) == commits
    assert list(index.voids) == [(struct.unpack("<Q", r.payload)[0], r.lsn) for r in records
                                 if r.type == RecordType.VOID]
    assert index.pages.tolist() == sorted({r.page_id for r in records
                                           if r.type != RecordType.VOID})
    if commits:
        assert header.min_commit_time == min(t for _l, t in commits)
        assert header.max_commit_time == max(t for _l, t in commits)
    # An empty range chunk: header and nothing else (coverage of an idle protection group).
    empty = encode_chunk(3, 10, 20, b"")
    assert decode_chunk(empty, "empty")[2] == b"" and len(empty) == 96


def test_encoder_refuses_records_outside_or_out_of_order():
    with pytest.raises(InternalError, match="ascending LSN order"):
        encode_chunk(0, 100, 104, BUFFER)          # lsn 100 is not above start 100
    with pytest.raises(InternalError, match="empty range"):
        encode_chunk(0, 104, 104, b"")


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:95], "truncated header"),
    (lambda d: b"XLAC" + d[4:], "bad magic"),
    (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "header CRC32C mismatch"),
    (lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:], "index CRC32C mismatch"),
    (lambda d: d[:-3] + bytes([d[-3] ^ 0x40]) + d[-2:], "body CRC32C mismatch"),
    (lambda d: d[:-1], "truncated or extended"),
    (lambda d: d + b"\0", "truncated or extended"),
])
def test_damaged_chunks_are_named(damage, message):
    with pytest.raises(CorruptionError, match=f"archive chunk pg-x: .*{message}"):
        decode_chunk(damage(GOLDEN_CHUNK), "pg-x")


def test_every_single_byte_flip_is_caught():
    for at in range(len(GOLDEN_CHUNK)):
        damaged = bytearray(GOLDEN_CHUNK)
        damaged[at] ^= 0x10
        with pytest.raises(CorruptionError, match="archive chunk c"):
            decode_chunk(bytes(damaged), "c")


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:63], "truncated header"),
    (lambda d: d[:12] + bytes([d[12] ^ 1]) + d[13:], "header CRC32C mismatch"),
    (lambda d: d[:66] + bytes([d[66] ^ 1]) + d[67:], "page table CRC32C mismatch"),
    (lambda d: d[:-2] + bytes([d[-2] ^ 1]) + d[-1:], "body CRC32C mismatch"),
    (lambda d: d[:-5], "truncated or extended"),
])
def test_damaged_snapshots_are_named(damage, message):
    writer = SnapshotWriter(0)
    writer.add(bytes(_page7()))
    data = writer.finish(101, 1700000000000000)
    with pytest.raises(CorruptionError, match=f"archive snapshot s: .*{message}"):
        decode_snapshot(damage(data), "s")


def test_snapshot_pages_come_in_order_and_keep_the_highest_page_lsn():
    writer = SnapshotWriter(2)
    page = _page7()
    writer.add(bytes(page))
    with pytest.raises(ValueError, match="ascending"):
        writer.add(bytes(page))
    data = writer.finish(99, 5)
    header, table, _body = decode_snapshot(data, "s")
    # The page is newer than the snapshot's LSN: it serves targets from 101 only.
    assert (header.lsn, header.max_page_lsn) == (99, 101)
    assert np.asarray(table["page"]).tolist() == [7]
