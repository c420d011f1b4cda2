"""Page-shipping messages: the baseline of bench/shipping.py (docs/formats/pageship.md).

Message types 50-59 are reserved for page shipping, the mirrored-MySQL-style baseline that the
shipping benchmark compares redo shipping with. The writer's ``PageShipVolume``
(aurora_lite.volume._pageship) sends PAGE_WRITE frames: its log since the last write plus the
whole 16 KB image of every page dirtied since then; a storage node appends the payload to its
page file (aurora_lite.segment._pagefile), fsyncs it (group commit) and answers PAGE_WRITE_ACK.
Nothing in the redo path uses these messages: Invariant 1 holds for every real volume.

Payloads (little-endian)::

    PAGE_WRITE (50)                      PAGE_WRITE_ACK (51)
      0  8 epoch                           0  8 end_lsn   durable on this node
      8  8 base_lsn  (the epoch's first start_lsn)
     16  8 start_lsn (exclusive)         GET_SHIPPED_PAGE (52)
     24  8 end_lsn   (inclusive)           0  8 epoch
     32  4 log_length                      8  4 page_id
     36  4 page_count
     40  * log (packed redo records)     SHIPPED_PAGE (53)
      *  * page_count x (4 page_id,        0  4 page_id
              16384 image)                 4  8 end_lsn   of the write that carried it
                                          12  1 found     0: never shipped (no image)
                                          13  * image     16384 bytes when found
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aurora_lite.page import PAGE_SIZE
from aurora_lite.wire._frame import ProtocolError
from aurora_lite.wire._messages import _Reader

PAGE_WRITE = 50
PAGE_WRITE_ACK = 51
GET_SHIPPED_PAGE = 52
SHIPPED_PAGE = 53

_PAGE_WRITE = struct.Struct("<QQQQII")
assert _PAGE_WRITE.size == 40
_IMAGE_HEAD = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_GET = struct.Struct("<QI")
_SHIPPED = struct.Struct("<IQB")
assert _SHIPPED.size == 13


@dataclass(frozen=True)
class PageWrite:
    """The log records in (start_lsn, end_lsn] and the images of the pages they dirtied,
    each as of ``end_lsn``. ``base_lsn`` is where this epoch's writes began (the writer's
    durable point at recovery): a node adopts a new epoch only from its first write."""

    epoch: int
    base_lsn: int
    start_lsn: int
    end_lsn: int
    log: bytes
    images: tuple[tuple[int, bytes], ...]      # (page_id, 16 KB image)
    TYPE = PAGE_WRITE

    def encode(self) -> bytes:
        parts = [_PAGE_WRITE.pack(self.epoch, self.base_lsn, self.start_lsn, self.end_lsn,
                                  len(self.log), len(self.images)), self.log]
        for page_id, image in self.images:
            if len(image) != PAGE_SIZE:
                raise ProtocolError("PAGE_WRITE needs 16 KB page images")
            parts.append(_IMAGE_HEAD.pack(page_id))
            parts.append(image)
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> "PageWrite":
        reader = _Reader(payload, "PAGE_WRITE")
        epoch, base, start, end, log_length, count = reader.take(_PAGE_WRITE)
        if not base <= start <= end:
            raise ProtocolError("PAGE_WRITE: needs base_lsn <= start_lsn <= end_lsn")
        log = reader.raw(log_length)
        if count > (len(payload) - reader.offset) // (4 + PAGE_SIZE):
            raise ProtocolError("PAGE_WRITE: truncated message")
        images = []
        for _ in range(count):
            (page_id,) = reader.take(_IMAGE_HEAD)
            images.append((page_id, reader.raw(PAGE_SIZE)))
        reader.end()
        return cls(epoch, base, start, end, log, tuple(images))


@dataclass(frozen=True)
class PageWriteAck:
    """Everything of this writer's page file up to ``end_lsn`` is fsynced on the node."""

    end_lsn: int
    TYPE = PAGE_WRITE_ACK

    def encode(self) -> bytes:
        return _U64.pack(self.end_lsn)

    @classmethod
    def decode(cls, payload: bytes) -> "PageWriteAck":
        reader = _Reader(payload, "PAGE_WRITE_ACK")
        (end,) = reader.take(_U64)
        reader.end()
        return cls(end)


@dataclass(frozen=True)
class GetShippedPage:
    """The newest image of ``page_id`` the node's page file holds."""

    epoch: int
    page_id: int
    TYPE = GET_SHIPPED_PAGE

    def encode(self) -> bytes:
        return _GET.pack(self.epoch, self.page_id)

    @classmethod
    def decode(cls, payload: bytes) -> "GetShippedPage":
        reader = _Reader(payload, "GET_SHIPPED_PAGE")
        values = reader.take(_GET)
        reader.end()
        return cls(*values)


@dataclass(frozen=True)
class ShippedPage:
    page_id: int
    end_lsn: int
    image: bytes | None        # None: the page was never shipped to this node
    TYPE = SHIPPED_PAGE

    def encode(self) -> bytes:
        if self.image is None:
            return _SHIPPED.pack(self.page_id, self.end_lsn, 0)
        if len(self.image) != PAGE_SIZE:
            raise ProtocolError("SHIPPED_PAGE needs a 16 KB page image")
        return _SHIPPED.pack(self.page_id, self.end_lsn, 1) + bytes(self.image)

    @classmethod
    def decode(cls, payload: bytes) -> "ShippedPage":
        reader = _Reader(payload, "SHIPPED_PAGE")
        page_id, end, found = reader.take(_SHIPPED)
        if found not in (0, 1):
            raise ProtocolError("SHIPPED_PAGE: bad found flag")
        image = reader.raw(PAGE_SIZE) if found else None
        reader.end()
        return cls(page_id, end, image)


PAGESHIP_MESSAGES = {cls.TYPE: cls for cls in (PageWrite, PageWriteAck, GetShippedPage,
                                               ShippedPage)}
