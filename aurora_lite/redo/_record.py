"""Redo records: the binary format, packing into buffers, and checked iteration.

A record is a 32-byte header followed by a type-specific payload (docs/formats/redo.md)::

    OFFSET SIZE FIELD
         0    4 crc        CRC32C of bytes [4, length) of this record
         4    4 length     total bytes of the record, header included
         8    8 lsn        log sequence number (allocated only by the writer)
        16    8 prev_lsn   LSN of the previous record of the same protection group (0: none)
        24    4 page_id    the page the record changes (PG anchor page for VOID)
        28    1 type       RecordType (never renumbered)
        29    1 flags      bit 0 CPL: last record of a mini-transaction;
                           bit 1 TXN_END: the CPL also ends a transaction (commit or rollback)
        30    1 version    1
        31    1 reserved   0
        32    * payload    see RecordType

Records are packed into bytearrays from the start: a mini-transaction, a shipped batch and a
segment's hot log are all concatenations of records, which is what lets the numba kernel walk
them without Python objects.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Iterator

import crc32c as _crc32c

from aurora_lite.errors import CorruptionError

RECORD_HEADER = struct.Struct("<IIQQIBBBx")
HEADER_SIZE = RECORD_HEADER.size
assert HEADER_SIZE == 32
RECORD_VERSION = 1
# A record never exceeds a page image plus its header and a small payload prefix; anything
# longer in a length field is corruption, caught before it is trusted.
MAX_RECORD = 16384 + 64

FLAG_CPL = 0x01
FLAG_TXN_END = 0x02

_LENGTH = struct.Struct("<I")
_CRC = struct.Struct("<I")


class RecordType(enum.IntEnum):
    """Record types. Values are part of the on-disk and on-wire formats; never renumbered.

    Payloads (little-endian):
      INIT_PAGE     u8 page_type, u8 level, u8 flags, u8 0, u32 tree_id, u32 link0, u32 link1
      INSERT_CELL   u16 slot, cell bytes
      DELETE_CELLS  u16 slot, u16 count
      REPLACE_CELL  u16 slot, cell bytes
      INSERT_CELLS  u16 slot, u16 count, count x (u16 length, bytes)
      WRITE_BYTES   u16 offset, bytes
      COMMIT        u64 txn_id, u64 commit_time_us       (page 0, the meta page)
      VOID          u64 from_lsn: records with from_lsn < lsn < this record's lsn never happened
    """

    INIT_PAGE = 1
    INSERT_CELL = 2
    DELETE_CELLS = 3
    REPLACE_CELL = 4
    INSERT_CELLS = 5
    WRITE_BYTES = 6
    COMMIT = 7
    VOID = 8


_MAX_TYPE = max(RecordType)


@dataclass(frozen=True, slots=True)
class RedoRecord:
    """One decoded record (for tools, tests and the reference path; hot paths use buffers)."""

    lsn: int
    prev_lsn: int
    page_id: int
    type: int
    flags: int
    payload: bytes

    @property
    def is_cpl(self) -> bool:
        return bool(self.flags & FLAG_CPL)

    @property
    def is_txn_end(self) -> bool:
        return bool(self.flags & FLAG_TXN_END)

    def encode(self) -> bytes:
        buf = bytearray()
        append_record(buf, self.lsn, self.prev_lsn, self.page_id, self.type, self.flags,
                      self.payload)
        return bytes(buf)


def append_record(buf: bytearray, lsn: int, prev_lsn: int, page_id: int, rtype: int,
                  flags: int, payload: bytes | bytearray | memoryview) -> int:
    """Append one sealed record to ``buf``; return its offset."""
    start = len(buf)
    length = HEADER_SIZE + len(payload)
    buf += RECORD_HEADER.pack(0, length, lsn, prev_lsn, page_id, rtype, flags, RECORD_VERSION)
    buf += payload
    _CRC.pack_into(buf, start, _crc32c.crc32c(memoryview(buf)[start + 4:start + length]))
    return start


def reseal(buf: bytearray, offset: int) -> None:
    """Recompute the CRC of the record at ``offset`` after its header was edited."""
    length = _LENGTH.unpack_from(buf, offset + 4)[0]
    _CRC.pack_into(buf, offset, _crc32c.crc32c(memoryview(buf)[offset + 4:offset + length]))


def set_flags(buf: bytearray, offset: int, flags: int) -> None:
    buf[offset + 29] |= flags
    reseal(buf, offset)


def check_record(buf: bytes | bytearray | memoryview, offset: int, where: str = "redo buffer",
                 base: int = 0) -> int:
    """Validate the record at ``offset`` (length, version, type, CRC); return its length.

    ``where`` and ``base`` name the file (or message) and the absolute offset for the error
    message, so corruption is reported at the byte where it was found (Invariant 5).
    """
    end = len(buf)
    if offset + HEADER_SIZE > end:
        raise CorruptionError(f"{where} at offset {base + offset}: truncated record header "
                              f"({end - offset} bytes)")
    crc, length = struct.unpack_from("<II", buf, offset)
    if length < HEADER_SIZE or length > MAX_RECORD or offset + length > end:
        raise CorruptionError(f"{where} at offset {base + offset}: bad record length {length}")
    actual = _crc32c.crc32c(memoryview(buf)[offset + 4:offset + length])
    if actual != crc:
        raise CorruptionError(f"{where} at offset {base + offset}: record CRC32C mismatch "
                              f"(stored {crc:#010x}, computed {actual:#010x})")
    if buf[offset + 30] != RECORD_VERSION or not 1 <= buf[offset + 28] <= _MAX_TYPE:
        raise CorruptionError(f"{where} at offset {base + offset}: unknown record version "
                              f"{buf[offset + 30]} or type {buf[offset + 28]}")
    return length


def record_at(buf: bytes | bytearray | memoryview, offset: int) -> RedoRecord:
    """Decode the record at ``offset`` without checking it (the caller checked)."""
    _crc, length, lsn, prev, page_id, rtype, flags, _version = RECORD_HEADER.unpack_from(
        buf, offset)
    return RedoRecord(lsn, prev, page_id, rtype, flags,
                      bytes(buf[offset + HEADER_SIZE:offset + length]))


def iter_records(buf: bytes | bytearray | memoryview, where: str = "redo buffer",
                 base: int = 0) -> Iterator[RedoRecord]:
    """Yield every record of a buffer, checking each one; raise CorruptionError on damage."""
    offset = 0
    end = len(buf)
    while offset < end:
        length = check_record(buf, offset, where, base)
        yield record_at(buf, offset)
        offset += length


def record_offsets(buf: bytes | bytearray | memoryview, where: str = "redo buffer",
                   base: int = 0) -> list[int]:
    """Offsets of every record in ``buf``, each one checked."""
    offsets = []
    offset = 0
    end = len(buf)
    while offset < end:
        offsets.append(offset)
        offset += check_record(buf, offset, where, base)
    return offsets


def scan_valid_prefix(buf: bytes | bytearray | memoryview) -> int:
    """Length of the longest prefix of whole, valid records (used to cut a torn log tail)."""
    offset = 0
    end = len(buf)
    while offset < end:
        try:
            offset += check_record(buf, offset)
        except CorruptionError:
            break
    return offset
