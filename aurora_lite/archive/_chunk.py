"""Archived log chunks: every record of one protection group over an LSN range, compressed.

docs/formats/archive.md has the full description and a worked example. A chunk object is::

    OFFSET SIZE FIELD
         0    4 magic             b"ALAC"
         4    2 version           1
         6    2 header_size       96
         8    4 pg_id             protection group of every record
        12    4 record_count      records in the body
        16    8 start_lsn         frontier (start, end]: the chunk holds *every* record of the
        24    8 end_lsn             PG with start < lsn <= end (possibly none)
        32    8 min_commit_time   smallest COMMIT time in the chunk, microseconds (0: none)
        40    8 max_commit_time   largest COMMIT time (0: none)
        48    4 commit_count      entries of the commit table
        52    4 void_count        entries of the void table
        56    4 page_count        entries of the page table
        60    4 index_crc         CRC32C of the index section (the three tables)
        64    8 raw_size          bytes of the records once decompressed
        72    8 body_size         bytes of the compressed body
        80    4 body_crc          CRC32C of the compressed body
        84    8 reserved          0
        92    4 header_crc        CRC32C of bytes [0, 92)
        96    * index section     commit_count x (u64 lsn, u64 commit_time_us),
                                  void_count x (u64 from_lsn, u64 void_lsn),
                                  page_count x u32 page id (ascending; pages changed by the
                                  records other than VOID)
         *    * body              LZ4 block (no size prefix) of the records in LSN order, each
                                  exactly as aurora_lite.redo packs it (with its own CRC32C)

The index lets restore plan without decompressing anything: which pages a PG needs, every VOID
range that applies, and where each commit lies in LSN and time. A chunk is decoded in three
checked steps (header, index, body); each failure is a CorruptionError naming the chunk.
Encoding is deterministic, so two nodes that archive the same range write the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c as _crc32c
import lz4.block
import numpy as np

from aurora_lite.errors import CorruptionError, InternalError
from aurora_lite.redo._record import RecordType

CHUNK_MAGIC = b"ALAC"
CHUNK_VERSION = 1
CHUNK_HEADER = struct.Struct("<4sHHIIQQQQIIIIQQI8xI")
assert CHUNK_HEADER.size == 96
_PAIR = np.dtype([("a", "<u8"), ("b", "<u8")])


@dataclass(frozen=True)
class ChunkHeader:
    pg_id: int
    record_count: int
    start_lsn: int
    end_lsn: int
    min_commit_time: int
    max_commit_time: int
    commit_count: int
    void_count: int
    page_count: int
    index_crc: int
    raw_size: int
    body_size: int
    body_crc: int

    @property
    def index_size(self) -> int:
        return 16 * (self.commit_count + self.void_count) + 4 * self.page_count

    @property
    def total_size(self) -> int:
        return CHUNK_HEADER.size + self.index_size + self.body_size

    def pack(self) -> bytes:
        head = CHUNK_HEADER.pack(
            CHUNK_MAGIC, CHUNK_VERSION, CHUNK_HEADER.size, self.pg_id, self.record_count,
            self.start_lsn, self.end_lsn, self.min_commit_time, self.max_commit_time,
            self.commit_count, self.void_count, self.page_count, self.index_crc,
            self.raw_size, self.body_size, self.body_crc, 0)
        return head[:92] + struct.pack("<I", _crc32c.crc32c(head[:92]))

    @classmethod
    def unpack(cls, data: bytes | memoryview, name: str) -> "ChunkHeader":
        if len(data) < CHUNK_HEADER.size:
            raise CorruptionError(f"archive chunk {name}: truncated header ({len(data)} "
                                  f"bytes, expected {CHUNK_HEADER.size})")
        fields = CHUNK_HEADER.unpack_from(data, 0)
        stored = fields[-1]
        actual = _crc32c.crc32c(bytes(data[:92]))
        if fields[0] != CHUNK_MAGIC:
            raise CorruptionError(f"archive chunk {name}: bad magic {fields[0]!r}")
        if actual != stored:
            raise CorruptionError(f"archive chunk {name}: header CRC32C mismatch (stored "
                                  f"{stored:#010x}, computed {actual:#010x})")
        if fields[1] != CHUNK_VERSION or fields[2] != CHUNK_HEADER.size:
            raise CorruptionError(f"archive chunk {name}: unsupported version {fields[1]} "
                                  f"(header size {fields[2]})")
        header = cls(*fields[3:-1])
        if header.start_lsn >= header.end_lsn:
            raise CorruptionError(f"archive chunk {name}: empty LSN range "
                                  f"({header.start_lsn}, {header.end_lsn}]")
        return header


@dataclass(frozen=True)
class ChunkIndex:
    """The index section: commits (lsn, time), voids (from_lsn, void_lsn), page ids."""

    commits: tuple[tuple[int, int], ...]
    voids: tuple[tuple[int, int], ...]
    pages: np.ndarray          # uint32, ascending

    def pack(self) -> bytes:
        # Structured arrays take a *list* of tuples (a tuple would be read as one record).
        return (np.array(list(self.commits), dtype=_PAIR).tobytes()
                + np.array(list(self.voids), dtype=_PAIR).tobytes()
                + np.asarray(self.pages, dtype="<u4").tobytes())

    @classmethod
    def unpack(cls, header: ChunkHeader, data: bytes | memoryview,
               name: str) -> "ChunkIndex":
        if len(data) < header.index_size:
            raise CorruptionError(f"archive chunk {name}: truncated index section "
                                  f"({len(data)} of {header.index_size} bytes)")
        data = bytes(data[:header.index_size])
        actual = _crc32c.crc32c(data)
        if actual != header.index_crc:
            raise CorruptionError(f"archive chunk {name}: index CRC32C mismatch (stored "
                                  f"{header.index_crc:#010x}, computed {actual:#010x})")
        commit_end = 16 * header.commit_count
        void_end = commit_end + 16 * header.void_count
        commits = np.frombuffer(data[:commit_end], dtype=_PAIR)
        voids = np.frombuffer(data[commit_end:void_end], dtype=_PAIR)
        pages = np.frombuffer(data[void_end:], dtype="<u4").astype(np.uint32)
        return cls(tuple(zip(commits["a"].tolist(), commits["b"].tolist())),
                   tuple(zip(voids["a"].tolist(), voids["b"].tolist())), pages)


def record_headers(records: bytes | bytearray | memoryview) -> dict[str, np.ndarray]:
    """Offsets and header fields of the records laid end to end in ``records`` (already
    CRC-checked by whoever read them; the applier checks them again on restore)."""
    view = memoryview(records)
    offsets = []
    offset = 0
    end = len(view)
    unpack = struct.Struct("<I").unpack_from
    while offset < end:
        if end - offset < 32:
            raise CorruptionError(f"records to archive: truncated record header at offset "
                                  f"{offset}")
        offsets.append(offset)
        length = unpack(view, offset + 4)[0]
        if length < 32:
            raise CorruptionError(f"records to archive: bad record length {length} at offset "
                                  f"{offset}")
        offset += length
    if offset != end:
        raise CorruptionError("records to archive: the last record runs past the end")
    buf = np.frombuffer(view, dtype=np.uint8)
    at = np.asarray(offsets, dtype=np.int64)
    kinds = buf[at + 28] if at.size else np.zeros(0, dtype=np.uint8)
    lsn = _gather(buf, at, 8, 8).astype(np.int64)
    # Payload fields exist only for their record type: COMMIT has 16 payload bytes (txn id,
    # commit time), VOID 8 (from_lsn).
    commit_at = at[kinds == RecordType.COMMIT]
    void_at = at[kinds == RecordType.VOID]
    return {"offset": at, "lsn": lsn, "page": _gather(buf, at, 24, 4).astype(np.uint32),
            "type": kinds, "commit_time": _gather(buf, commit_at, 40, 8).astype(np.int64),
            "void_from": _gather(buf, void_at, 32, 8).astype(np.int64)}


def _gather(buf: np.ndarray, at: np.ndarray, start: int, size: int) -> np.ndarray:
    """Little-endian integers of ``size`` bytes at ``at + start``, gathered byte by byte."""
    value = np.zeros(at.size, dtype=np.uint64)
    for byte in range(size):
        value |= buf[at + (start + byte)].astype(np.uint64) << np.uint64(8 * byte)
    return value


def encode_chunk(pg_id: int, start_lsn: int, end_lsn: int,
                 records: bytes | bytearray | memoryview) -> bytes:
    """One chunk object for ``records`` (every record of the PG with start < lsn <= end, in
    LSN order)."""
    if start_lsn >= end_lsn:
        raise InternalError(f"chunk of protection group {pg_id}: empty range "
                            f"({start_lsn}, {end_lsn}]")
    headers = record_headers(records)
    lsns = headers["lsn"]
    if lsns.size and (int(lsns.min()) <= start_lsn or int(lsns.max()) > end_lsn
                      or bool(np.any(lsns[1:] <= lsns[:-1]))):
        raise InternalError(f"chunk ({start_lsn}, {end_lsn}] of protection group {pg_id}: "
                            f"records are not in ascending LSN order inside the range")
    kinds = headers["type"]
    is_commit = kinds == RecordType.COMMIT
    is_void = kinds == RecordType.VOID
    commits = tuple(zip(lsns[is_commit].tolist(), headers["commit_time"].tolist()))
    voids = tuple(zip(headers["void_from"].tolist(), lsns[is_void].tolist()))
    pages = np.unique(headers["page"][~is_void]).astype(np.uint32)
    index = ChunkIndex(commits, voids, pages).pack()
    raw = bytes(records)
    body = lz4.block.compress(raw, store_size=False) if raw else b""
    times = [time for _lsn, time in commits]
    header = ChunkHeader(
        pg_id=pg_id, record_count=int(lsns.size), start_lsn=start_lsn, end_lsn=end_lsn,
        min_commit_time=min(times, default=0), max_commit_time=max(times, default=0),
        commit_count=len(commits), void_count=len(voids), page_count=int(pages.size),
        index_crc=_crc32c.crc32c(index), raw_size=len(raw), body_size=len(body),
        body_crc=_crc32c.crc32c(body))
    return header.pack() + index + body


def decode_chunk(data: bytes | memoryview, name: str) -> tuple[ChunkHeader, ChunkIndex, bytes]:
    """Check a whole chunk object (size, header, index, body CRC) and decompress its records."""
    header = ChunkHeader.unpack(data, name)
    if len(data) != header.total_size:
        raise CorruptionError(f"archive chunk {name}: {len(data)} bytes, the header says "
                              f"{header.total_size} (truncated or extended)")
    index = ChunkIndex.unpack(header, memoryview(data)[CHUNK_HEADER.size:], name)
    body = memoryview(data)[CHUNK_HEADER.size + header.index_size:]
    actual = _crc32c.crc32c(body)
    if actual != header.body_crc:
        raise CorruptionError(f"archive chunk {name}: body CRC32C mismatch (stored "
                              f"{header.body_crc:#010x}, computed {actual:#010x})")
    if not header.raw_size:
        return header, index, b""
    try:
        raw = lz4.block.decompress(body, uncompressed_size=header.raw_size)
    except lz4.block.LZ4BlockError as exc:
        raise CorruptionError(f"archive chunk {name}: body does not decompress ({exc})"
                              ) from None
    if len(raw) != header.raw_size:
        raise CorruptionError(f"archive chunk {name}: body decompresses to {len(raw)} bytes, "
                              f"the header says {header.raw_size}")
    return header, index, raw
