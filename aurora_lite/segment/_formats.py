"""The segment's on-disk headers: hot log file, page store file, double-write journal, control.

Each header is packed with a fixed ``struct``, carries a magic and a version, and ends with a
CRC32C of the bytes before it (Invariant 5). docs/formats/segment.md has the same tables with a
worked example; tests/segment/test_formats.py holds the golden bytes (Invariant 8). All integers
are little-endian.

Hot log file header (``redo-<seq>.log``, records follow it, packed as aurora_lite.redo packs
them)::

    OFFSET SIZE FIELD
         0    4 magic        b"ALOG"
         4    2 version      1
         6    2 header_size  32
         8    4 pg_id        protection group of every record in the file
        12    4 file_seq     sequence number of the file (also in its name)
        16    8 first_lsn    every record in the file has lsn >= first_lsn (SCL + 1 at creation)
        24    4 reserved     0
        28    4 crc          CRC32C of bytes [0, 28)

Page store header (``pages.dat``; first 16 KB block, the rest of the block is zero)::

         0    4 magic        b"ALPS"
         4    2 version      1
         6    2 header_size  40
         8    4 pg_id
        12    4 page_size    16384
        16    8 first_page   page id of the first slot
        24    8 page_count   pages in the PG's range
        32    4 reserved     0
        36    4 crc          CRC32C of bytes [0, 36)

Double-write journal header (``pages.dwj``; page images follow it)::

         0    4 magic        b"ALDW"
         4    2 version      1
         6    2 header_size  32
         8    4 pg_id
        12    4 page_count   sealed 16 KB page images that follow the header
        16    8 target_lsn   the materialization (horizon) these images belong to
        24    4 reserved     0
        28    4 crc          CRC32C of bytes [0, 28)

SCL checkpoint file (``scl.log``; 16-byte entries follow the header)::

         0    4 magic        b"ALSK"
         4    2 version      1
         6    2 header_size  32
         8    4 pg_id
        12   16 reserved     0
        28    4 crc          CRC32C of bytes [0, 28)
    entry:
         0    8 scl          an SCL that was durable when the entry was written
         8    4 crc          CRC32C of bytes [0, 8) of the entry
        12    4 reserved     0

Control file (``CONTROL``, replaced atomically)::

         0    4 magic            b"ALSC"
         4    2 version          1
         6    2 size             80
         8    4 pg_id
        12    4 reserved         0
        16    8 first_page
        24    8 page_count
        32    8 epoch            highest volume epoch seen (Invariant 6)
        40    8 materialized_lsn every record <= it is in the page store
        48    8 chain_base       last LSN of the PG <= materialized_lsn: SCL starts here on open
        56    8 base_cpl         last CPL <= chain_base (answers lookups once its log is gone)
        64    8 base_txn_end     last TXN_END <= chain_base
        72    4 reserved         0
        76    4 crc              CRC32C of bytes [0, 76)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c as _crc32c

from aurora_lite.errors import CorruptionError

LOG_MAGIC = b"ALOG"
PAGES_MAGIC = b"ALPS"
JOURNAL_MAGIC = b"ALDW"
CONTROL_MAGIC = b"ALSC"
SCL_MAGIC = b"ALSK"
FORMAT_VERSION = 1

LOG_HEADER = struct.Struct("<4sHHIIQ4xI")
PAGES_HEADER = struct.Struct("<4sHHIIQQ4xI")
JOURNAL_HEADER = struct.Struct("<4sHHIIQ4xI")
CONTROL = struct.Struct("<4sHHI4xQQQQQQQ4xI")
SCL_HEADER = struct.Struct("<4sHHI16xI")
SCL_ENTRY = struct.Struct("<QI4x")
assert LOG_HEADER.size == 32
assert PAGES_HEADER.size == 40
assert JOURNAL_HEADER.size == 32
assert CONTROL.size == 80
assert SCL_HEADER.size == 32
assert SCL_ENTRY.size == 16


def _crc(data: bytes | bytearray | memoryview) -> int:
    return _crc32c.crc32c(data)


def _checked(layout: struct.Struct, magic: bytes, data: bytes | bytearray | memoryview,
             where: str, offset: int = 0) -> tuple:
    """Unpack a header whose last field is the CRC of the bytes before it."""
    if len(data) < layout.size:
        raise CorruptionError(f"{where} at offset {offset}: header is {len(data)} bytes, "
                              f"expected {layout.size}")
    fields = layout.unpack_from(data, 0)
    if fields[0] != magic:
        raise CorruptionError(f"{where} at offset {offset}: bad magic {fields[0]!r}, "
                              f"expected {magic!r}")
    if fields[1] != FORMAT_VERSION:
        raise CorruptionError(f"{where} at offset {offset + 4}: unsupported version "
                              f"{fields[1]}")
    actual = _crc(memoryview(data)[:layout.size - 4])
    if actual != fields[-1]:
        raise CorruptionError(f"{where} at offset {offset + layout.size - 4}: header CRC32C "
                              f"mismatch (stored {fields[-1]:#010x}, computed {actual:#010x})")
    return fields


def _sealed(layout: struct.Struct, *fields: object) -> bytes:
    body = layout.pack(*fields, 0)
    return body[:-4] + struct.pack("<I", _crc(body[:-4]))


@dataclass(frozen=True)
class LogHeader:
    pg_id: int
    file_seq: int
    first_lsn: int

    def pack(self) -> bytes:
        return _sealed(LOG_HEADER, LOG_MAGIC, FORMAT_VERSION, LOG_HEADER.size, self.pg_id,
                       self.file_seq, self.first_lsn)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, where: str) -> "LogHeader":
        _m, _v, _size, pg_id, seq, first_lsn, _crc_ = _checked(LOG_HEADER, LOG_MAGIC, data,
                                                               where)
        return cls(pg_id, seq, first_lsn)


@dataclass(frozen=True)
class PagesHeader:
    pg_id: int
    first_page: int
    page_count: int
    page_size: int = 16384

    def pack(self) -> bytes:
        return _sealed(PAGES_HEADER, PAGES_MAGIC, FORMAT_VERSION, PAGES_HEADER.size,
                       self.pg_id, self.page_size, self.first_page, self.page_count)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, where: str) -> "PagesHeader":
        _m, _v, _size, pg_id, page_size, first, count, _c = _checked(PAGES_HEADER, PAGES_MAGIC,
                                                                     data, where)
        return cls(pg_id, first, count, page_size)


@dataclass(frozen=True)
class JournalHeader:
    pg_id: int
    page_count: int
    target_lsn: int

    def pack(self) -> bytes:
        return _sealed(JOURNAL_HEADER, JOURNAL_MAGIC, FORMAT_VERSION, JOURNAL_HEADER.size,
                       self.pg_id, self.page_count, self.target_lsn)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, where: str) -> "JournalHeader":
        _m, _v, _size, pg_id, count, target, _c = _checked(JOURNAL_HEADER, JOURNAL_MAGIC, data,
                                                           where)
        return cls(pg_id, count, target)


@dataclass(frozen=True)
class SclHeader:
    pg_id: int

    def pack(self) -> bytes:
        return _sealed(SCL_HEADER, SCL_MAGIC, FORMAT_VERSION, SCL_HEADER.size, self.pg_id)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, where: str) -> "SclHeader":
        _m, _v, _size, pg_id, _c = _checked(SCL_HEADER, SCL_MAGIC, data, where)
        return cls(pg_id)


def pack_scl_entry(scl: int) -> bytes:
    return SCL_ENTRY.pack(scl, _crc(struct.pack("<Q", scl)))


def unpack_scl_entry(data: bytes | bytearray | memoryview, offset: int) -> int | None:
    """The SCL of the entry at ``offset``, or None when its CRC does not match."""
    scl, crc = SCL_ENTRY.unpack_from(data, offset)
    return scl if _crc(memoryview(data)[offset:offset + 8]) == crc else None


@dataclass(frozen=True)
class Control:
    pg_id: int
    first_page: int
    page_count: int
    epoch: int = 0
    materialized_lsn: int = 0
    chain_base: int = 0
    base_cpl: int = 0
    base_txn_end: int = 0

    def pack(self) -> bytes:
        return _sealed(CONTROL, CONTROL_MAGIC, FORMAT_VERSION, CONTROL.size, self.pg_id,
                       self.first_page, self.page_count, self.epoch, self.materialized_lsn,
                       self.chain_base, self.base_cpl, self.base_txn_end)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, where: str) -> "Control":
        if len(data) != CONTROL.size:
            raise CorruptionError(f"{where} at offset 0: control file is {len(data)} bytes, "
                                  f"expected {CONTROL.size}")
        (_m, _v, _size, pg_id, first, count, epoch, materialized, chain_base, base_cpl,
         base_txn_end, _c) = _checked(CONTROL, CONTROL_MAGIC, data, where)
        return cls(pg_id, first, count, epoch, materialized, chain_base, base_cpl, base_txn_end)
