"""Archived page snapshots: every written page of one protection group at an LSN, compressed.

docs/formats/archive.md has the full description. A snapshot object is::

    OFFSET SIZE FIELD
         0    4 magic          b"ALAS"
         4    2 version        1
         6    2 header_size    64
         8    4 pg_id
        12    4 page_count     entries of the page table (pages never written are left out)
        16    8 lsn            every record of the PG at or below it is applied in the images
        24    8 max_page_lsn   the highest page LSN among the images: no image holds a record
                               above it, so the snapshot serves targets at or above it
        32    8 created_us     wall-clock time the snapshot was taken, microseconds
        40    8 body_size      bytes of the body
        48    4 body_crc       CRC32C of the body
        52    4 index_crc      CRC32C of the page table
        56    4 reserved       0
        60    4 header_crc     CRC32C of bytes [0, 60)
        64    * page table     page_count x (u32 page_id, u32 compressed_size), ascending ids
         *    * body           each page's sealed 16 KB image (its own CRC32C, docs/formats/
                               page.md) as one LZ4 block without a size prefix, in table order

Pages are compressed one at a time, so neither taking nor restoring a snapshot holds more than
the compressed body and one page in memory beyond the pages themselves.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

import crc32c as _crc32c
import lz4.block
import numpy as np

from aurora_lite.errors import CorruptionError
from aurora_lite.page._layout import PAGE_SIZE, page_id_of, page_lsn, verify

SNAPSHOT_MAGIC = b"ALAS"
SNAPSHOT_VERSION = 1
SNAPSHOT_HEADER = struct.Struct("<4sHHIIQQQQII4xI")
assert SNAPSHOT_HEADER.size == 64
_ENTRY = np.dtype([("page", "<u4"), ("size", "<u4")])


@dataclass(frozen=True)
class SnapshotHeader:
    pg_id: int
    page_count: int
    lsn: int
    max_page_lsn: int
    created_us: int
    body_size: int
    body_crc: int
    index_crc: int

    @property
    def total_size(self) -> int:
        return SNAPSHOT_HEADER.size + 8 * self.page_count + self.body_size

    def pack(self) -> bytes:
        head = SNAPSHOT_HEADER.pack(SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SNAPSHOT_HEADER.size,
                                    self.pg_id, self.page_count, self.lsn, self.max_page_lsn,
                                    self.created_us, self.body_size, self.body_crc,
                                    self.index_crc, 0)
        return head[:60] + struct.pack("<I", _crc32c.crc32c(head[:60]))

    @classmethod
    def unpack(cls, data: bytes | memoryview, name: str) -> "SnapshotHeader":
        if len(data) < SNAPSHOT_HEADER.size:
            raise CorruptionError(f"archive snapshot {name}: truncated header ({len(data)} "
                                  f"bytes, expected {SNAPSHOT_HEADER.size})")
        fields = SNAPSHOT_HEADER.unpack_from(data, 0)
        if fields[0] != SNAPSHOT_MAGIC:
            raise CorruptionError(f"archive snapshot {name}: bad magic {fields[0]!r}")
        actual = _crc32c.crc32c(bytes(data[:60]))
        if actual != fields[-1]:
            raise CorruptionError(f"archive snapshot {name}: header CRC32C mismatch (stored "
                                  f"{fields[-1]:#010x}, computed {actual:#010x})")
        if fields[1] != SNAPSHOT_VERSION or fields[2] != SNAPSHOT_HEADER.size:
            raise CorruptionError(f"archive snapshot {name}: unsupported version {fields[1]} "
                                  f"(header size {fields[2]})")
        header = cls(*fields[3:-1])
        if header.max_page_lsn < header.lsn:
            raise CorruptionError(f"archive snapshot {name}: max_page_lsn "
                                  f"{header.max_page_lsn} is below its lsn {header.lsn}")
        return header


class SnapshotWriter:
    """Builds a snapshot page by page (ascending page ids)."""

    def __init__(self, pg_id: int) -> None:
        self.pg_id = pg_id
        self._entries: list[tuple[int, int]] = []
        self._body: list[bytes] = []
        self.max_page_lsn = 0

    def add(self, sealed_image: bytes | bytearray) -> None:
        page_id = page_id_of(sealed_image)
        if self._entries and page_id <= self._entries[-1][0]:
            raise ValueError(f"snapshot pages must come in ascending order ({page_id} after "
                             f"{self._entries[-1][0]})")
        block = lz4.block.compress(bytes(sealed_image), store_size=False)
        self._entries.append((page_id, len(block)))
        self._body.append(block)
        self.max_page_lsn = max(self.max_page_lsn, page_lsn(sealed_image))

    def finish(self, lsn: int, created_us: int) -> bytes:
        index = np.array(list(self._entries), dtype=_ENTRY).tobytes()
        body = b"".join(self._body)
        header = SnapshotHeader(self.pg_id, len(self._entries), lsn,
                                max(lsn, self.max_page_lsn), created_us, len(body),
                                _crc32c.crc32c(body), _crc32c.crc32c(index))
        return header.pack() + index + body


def snapshot_index(header: SnapshotHeader, data: bytes | memoryview,
                   name: str) -> np.ndarray:
    """The page table (fields ``page``, ``size``), checked against its CRC."""
    size = 8 * header.page_count
    if len(data) < size:
        raise CorruptionError(f"archive snapshot {name}: truncated page table")
    table = bytes(data[:size])
    actual = _crc32c.crc32c(table)
    if actual != header.index_crc:
        raise CorruptionError(f"archive snapshot {name}: page table CRC32C mismatch (stored "
                              f"{header.index_crc:#010x}, computed {actual:#010x})")
    return np.frombuffer(table, dtype=_ENTRY)


def decode_snapshot(data: bytes | memoryview,
                    name: str) -> tuple[SnapshotHeader, np.ndarray, memoryview]:
    """Check a whole snapshot object; return its header, page table and (checked) body."""
    header = SnapshotHeader.unpack(data, name)
    if len(data) != header.total_size:
        raise CorruptionError(f"archive snapshot {name}: {len(data)} bytes, the header says "
                              f"{header.total_size} (truncated or extended)")
    table = snapshot_index(header, memoryview(data)[SNAPSHOT_HEADER.size:], name)
    body = memoryview(data)[SNAPSHOT_HEADER.size + 8 * header.page_count:]
    actual = _crc32c.crc32c(body)
    if actual != header.body_crc:
        raise CorruptionError(f"archive snapshot {name}: body CRC32C mismatch (stored "
                              f"{header.body_crc:#010x}, computed {actual:#010x})")
    if int(table["size"].sum()) != len(body):
        raise CorruptionError(f"archive snapshot {name}: page table sizes do not add up to "
                              f"the body")
    return header, table, body


def snapshot_pages(table: np.ndarray, body: memoryview,
                   name: str) -> Iterator[tuple[int, bytes]]:
    """(page_id, sealed image) of every page, each decompressed and CRC-checked."""
    offset = 0
    for page_id, size in zip(table["page"].tolist(), table["size"].tolist()):
        try:
            image = lz4.block.decompress(body[offset:offset + size],
                                         uncompressed_size=PAGE_SIZE)
        except lz4.block.LZ4BlockError as exc:
            raise CorruptionError(f"archive snapshot {name}: page {page_id} does not "
                                  f"decompress ({exc})") from None
        verify(image, f"archive snapshot {name} page {page_id}")
        if len(image) != PAGE_SIZE or page_id_of(image) != page_id:
            raise CorruptionError(f"archive snapshot {name}: the image listed as page "
                                  f"{page_id} is page {page_id_of(image)}")
        offset += size
        yield page_id, image
