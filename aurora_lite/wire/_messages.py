"""Messages between the writer, segments, peers, replicas and tools (docs/formats/wire.md).

Each message is a frozen dataclass with ``encode() -> bytes`` (the frame payload) and a
``decode(payload)`` classmethod; ``decode_message(type, payload)`` dispatches on the type.
Integers are little-endian. Decoding checks every length against the payload, so a malformed
message raises ProtocolError instead of reading past the end.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from aurora_lite.page import PAGE_SIZE
from aurora_lite.wire._frame import ProtocolError


class MessageType(enum.IntEnum):
    """Message types: part of the wire format, never renumbered.

    Reserved ranges for messages defined outside this module (same framing): 30-39 the
    writer's redo stream to read replicas (aurora_lite.replica), 40-49 archiving
    (aurora_lite.archive), 50-59 page shipping, the baseline of bench/shipping.py
    (``_pageship``; decoded through ``_EXTENSION_MESSAGES``, filled in by the package).
    """

    ERROR = 1
    CHALLENGE = 2
    AUTH = 3
    AUTH_OK = 4
    WRITE_BATCH = 10
    WRITE_ACK = 11
    GET_PAGE = 12
    PAGE = 13
    FENCE = 14
    SEGMENT_STATE = 15
    TRUNCATE = 16
    OK = 17
    SET_HORIZON = 18
    FETCH_RECORDS = 19
    RECORDS = 20
    STATUS = 21
    STATUS_REPLY = 22
    GET_STATE = 23
    FETCH_PAGES = 24
    PAGES = 25


class ErrorCode(enum.IntEnum):
    """Codes of ERROR messages; never renumbered."""

    STALE_EPOCH = 1        # the request's epoch is older than the segment's (Invariant 6)
    NOT_AUTHENTICATED = 2
    BAD_REQUEST = 3
    BEHIND = 4             # the segment's SCL is below the requested read point
    UNKNOWN_PG = 5         # this node holds no segment of that protection group
    CORRUPTION = 6         # the segment found damage and could not serve the request
    INTERNAL = 7
    TOO_OLD = 8            # the read point is below what the segment still keeps


class Role(enum.IntEnum):
    WRITER = 1
    PEER = 2
    TOOL = 3
    REPLICA = 4


class _Reader:
    __slots__ = ("data", "offset", "name")

    def __init__(self, data: bytes | bytearray | memoryview, name: str) -> None:
        self.data = memoryview(data)
        self.offset = 0
        self.name = name

    def take(self, layout: struct.Struct) -> tuple:
        if self.offset + layout.size > len(self.data):
            raise ProtocolError(f"{self.name}: truncated message")
        values = layout.unpack_from(self.data, self.offset)
        self.offset += layout.size
        return values

    def raw(self, length: int) -> bytes:
        if length < 0 or self.offset + length > len(self.data):
            raise ProtocolError(f"{self.name}: truncated message")
        value = bytes(self.data[self.offset:self.offset + length])
        self.offset += length
        return value

    def rest(self) -> bytes:
        value = bytes(self.data[self.offset:])
        self.offset = len(self.data)
        return value

    def end(self) -> None:
        if self.offset != len(self.data):
            raise ProtocolError(f"{self.name}: {len(self.data) - self.offset} trailing bytes")


_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class Error:
    code: int
    message: str
    TYPE = MessageType.ERROR

    def encode(self) -> bytes:
        return _U16.pack(self.code) + self.message.encode("utf-8")

    @classmethod
    def decode(cls, payload: bytes) -> "Error":
        reader = _Reader(payload, "ERROR")
        (code,) = reader.take(_U16)
        return cls(code, reader.rest().decode("utf-8", "replace"))


_CHALLENGE = struct.Struct("<32sI16s")


@dataclass(frozen=True)
class Challenge:
    """Sent by a segment as soon as a connection opens."""

    nonce: bytes          # 32 random bytes
    node_id: int
    cluster_id: bytes     # 16 bytes (the cluster's UUID)
    TYPE = MessageType.CHALLENGE

    def encode(self) -> bytes:
        return _CHALLENGE.pack(self.nonce, self.node_id, self.cluster_id)

    @classmethod
    def decode(cls, payload: bytes) -> "Challenge":
        reader = _Reader(payload, "CHALLENGE")
        values = reader.take(_CHALLENGE)
        reader.end()
        return cls(*values)


_AUTH = struct.Struct("<32sBI32s")


@dataclass(frozen=True)
class Auth:
    """The client's answer: its nonce, its role, and an HMAC proving it knows the secret."""

    nonce: bytes
    role: int
    node_id: int          # the peer's node id (0 for writers, tools and replicas)
    mac: bytes
    TYPE = MessageType.AUTH

    def encode(self) -> bytes:
        return _AUTH.pack(self.nonce, self.role, self.node_id, self.mac)

    @classmethod
    def decode(cls, payload: bytes) -> "Auth":
        reader = _Reader(payload, "AUTH")
        values = reader.take(_AUTH)
        reader.end()
        return cls(*values)


@dataclass(frozen=True)
class AuthOk:
    """The segment's proof that it knows the secret too (mutual authentication)."""

    mac: bytes
    TYPE = MessageType.AUTH_OK

    def encode(self) -> bytes:
        if len(self.mac) != 32:
            raise ProtocolError("AUTH_OK needs a 32-byte MAC")
        return self.mac

    @classmethod
    def decode(cls, payload: bytes) -> "AuthOk":
        if len(payload) != 32:
            raise ProtocolError("AUTH_OK: bad length")
        return cls(bytes(payload))


_SECTION = struct.Struct("<IQQI")


@dataclass(frozen=True)
class Section:
    """Every record of protection group ``pg`` with start < lsn <= end (possibly none)."""

    pg: int
    start: int
    end: int
    records: bytes


@dataclass(frozen=True)
class WriteBatch:
    epoch: int
    sections: tuple[Section, ...]
    TYPE = MessageType.WRITE_BATCH

    def encode(self) -> bytes:
        parts = [struct.pack("<QH", self.epoch, len(self.sections))]
        for section in self.sections:
            parts.append(_SECTION.pack(section.pg, section.start, section.end,
                                       len(section.records)))
            parts.append(section.records)
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> "WriteBatch":
        reader = _Reader(payload, "WRITE_BATCH")
        epoch, count = reader.take(struct.Struct("<QH"))
        sections = []
        for _ in range(count):
            pg, start, end, length = reader.take(_SECTION)
            if end < start:
                raise ProtocolError("WRITE_BATCH: frontier end below start")
            sections.append(Section(pg, start, end, reader.raw(length)))
        reader.end()
        return cls(epoch, tuple(sections))


_ACK_ENTRY = struct.Struct("<IQ")


@dataclass(frozen=True)
class WriteAck:
    """Per protection group, the segment's SCL after the batch was made durable."""

    scls: tuple[tuple[int, int], ...]     # (pg, scl)
    TYPE = MessageType.WRITE_ACK

    def encode(self) -> bytes:
        return _U16.pack(len(self.scls)) + b"".join(_ACK_ENTRY.pack(pg, scl)
                                                     for pg, scl in self.scls)

    @classmethod
    def decode(cls, payload: bytes) -> "WriteAck":
        reader = _Reader(payload, "WRITE_ACK")
        (count,) = reader.take(_U16)
        entries = tuple(reader.take(_ACK_ENTRY) for _ in range(count))
        reader.end()
        return cls(entries)


_GET_PAGE = struct.Struct("<QIIQ")


@dataclass(frozen=True)
class GetPage:
    epoch: int
    pg: int
    page_id: int
    read_point: int
    TYPE = MessageType.GET_PAGE

    def encode(self) -> bytes:
        return _GET_PAGE.pack(self.epoch, self.pg, self.page_id, self.read_point)

    @classmethod
    def decode(cls, payload: bytes) -> "GetPage":
        reader = _Reader(payload, "GET_PAGE")
        values = reader.take(_GET_PAGE)
        reader.end()
        return cls(*values)


_PAGE = struct.Struct("<IQ")


@dataclass(frozen=True)
class Page:
    """A sealed 16 KB page (its CRC32C is checked by the receiver: Invariant 5)."""

    page_id: int
    read_point: int
    data: bytes
    TYPE = MessageType.PAGE

    def encode(self) -> bytes:
        if len(self.data) != PAGE_SIZE:
            raise ProtocolError("PAGE needs a 16 KB page")
        return _PAGE.pack(self.page_id, self.read_point) + bytes(self.data)

    @classmethod
    def decode(cls, payload: bytes) -> "Page":
        reader = _Reader(payload, "PAGE")
        page_id, read_point = reader.take(_PAGE)
        data = reader.raw(PAGE_SIZE)
        reader.end()
        return cls(page_id, read_point, data)


@dataclass(frozen=True)
class Fence:
    """Persist ``epoch`` (if newer) and answer with SEGMENT_STATE."""

    epoch: int
    TYPE = MessageType.FENCE

    def encode(self) -> bytes:
        return _U64.pack(self.epoch)

    @classmethod
    def decode(cls, payload: bytes) -> "Fence":
        reader = _Reader(payload, "FENCE")
        (epoch,) = reader.take(_U64)
        reader.end()
        return cls(epoch)


_STATE_ENTRY = struct.Struct("<IQQQQQQQ")


@dataclass(frozen=True)
class PgState:
    pg: int
    scl: int
    max_lsn: int
    last_txn_end: int          # the highest TXN_END <= scl
    last_cpl: int              # the highest CPL <= scl
    truncation_epoch: int
    truncation_lsn: int
    materialized_lsn: int


@dataclass(frozen=True)
class SegmentState:
    epoch: int
    pgs: tuple[PgState, ...] = field(default_factory=tuple)
    TYPE = MessageType.SEGMENT_STATE

    def encode(self) -> bytes:
        return struct.pack("<QH", self.epoch, len(self.pgs)) + b"".join(
            _STATE_ENTRY.pack(p.pg, p.scl, p.max_lsn, p.last_txn_end, p.last_cpl,
                              p.truncation_epoch, p.truncation_lsn, p.materialized_lsn)
            for p in self.pgs)

    @classmethod
    def decode(cls, payload: bytes) -> "SegmentState":
        reader = _Reader(payload, "SEGMENT_STATE")
        epoch, count = reader.take(struct.Struct("<QH"))
        pgs = tuple(PgState(*reader.take(_STATE_ENTRY)) for _ in range(count))
        reader.end()
        return cls(epoch, pgs)


_TWO_U64 = struct.Struct("<QQ")


@dataclass(frozen=True)
class Truncate:
    """Drop every record above ``above_lsn`` in every segment of the node (recovery)."""

    epoch: int
    above_lsn: int
    TYPE = MessageType.TRUNCATE

    def encode(self) -> bytes:
        return _TWO_U64.pack(self.epoch, self.above_lsn)

    @classmethod
    def decode(cls, payload: bytes) -> "Truncate":
        reader = _Reader(payload, "TRUNCATE")
        values = reader.take(_TWO_U64)
        reader.end()
        return cls(*values)


@dataclass(frozen=True)
class Ok:
    TYPE = MessageType.OK

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, payload: bytes) -> "Ok":
        if payload:
            raise ProtocolError("OK: trailing bytes")
        return cls()


@dataclass(frozen=True)
class SetHorizon:
    """Records at or below ``lsn`` may be coalesced into page versions (no reader needs
    anything older)."""

    epoch: int
    lsn: int
    TYPE = MessageType.SET_HORIZON

    def encode(self) -> bytes:
        return _TWO_U64.pack(self.epoch, self.lsn)

    @classmethod
    def decode(cls, payload: bytes) -> "SetHorizon":
        reader = _Reader(payload, "SET_HORIZON")
        values = reader.take(_TWO_U64)
        reader.end()
        return cls(*values)


_FETCH = struct.Struct("<QIQQI")


@dataclass(frozen=True)
class FetchRecords:
    """Records of ``pg`` with low < lsn <= high, at most about ``max_bytes`` of them."""

    epoch: int
    pg: int
    low: int
    high: int
    max_bytes: int
    TYPE = MessageType.FETCH_RECORDS

    def encode(self) -> bytes:
        return _FETCH.pack(self.epoch, self.pg, self.low, self.high, self.max_bytes)

    @classmethod
    def decode(cls, payload: bytes) -> "FetchRecords":
        reader = _Reader(payload, "FETCH_RECORDS")
        values = reader.take(_FETCH)
        reader.end()
        return cls(*values)


_RECORDS = struct.Struct("<IQQ")


@dataclass(frozen=True)
class Records:
    """Every record of ``pg`` with start < lsn <= end: a frontier range, as in WRITE_BATCH."""

    pg: int
    start: int
    end: int
    records: bytes
    TYPE = MessageType.RECORDS

    def encode(self) -> bytes:
        return _RECORDS.pack(self.pg, self.start, self.end) + self.records

    @classmethod
    def decode(cls, payload: bytes) -> "Records":
        reader = _Reader(payload, "RECORDS")
        pg, start, end = reader.take(_RECORDS)
        if end < start:
            raise ProtocolError("RECORDS: frontier end below start")
        return cls(pg, start, end, reader.rest())


@dataclass(frozen=True)
class Status:
    TYPE = MessageType.STATUS

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, payload: bytes) -> "Status":
        if payload:
            raise ProtocolError("STATUS: trailing bytes")
        return cls()


@dataclass(frozen=True)
class StatusReply:
    """A node's statistics as UTF-8 JSON (for operators and tools)."""

    json_text: str
    TYPE = MessageType.STATUS_REPLY

    def encode(self) -> bytes:
        return self.json_text.encode("utf-8")

    @classmethod
    def decode(cls, payload: bytes) -> "StatusReply":
        try:
            return cls(bytes(payload).decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError("STATUS_REPLY: not UTF-8") from None


@dataclass(frozen=True)
class GetState:
    """Answer SEGMENT_STATE without adopting anything (peers' gossip, tools): unlike FENCE it
    persists no epoch. ``epoch`` is the asker's, for the log only."""

    epoch: int
    TYPE = MessageType.GET_STATE

    def encode(self) -> bytes:
        return _U64.pack(self.epoch)

    @classmethod
    def decode(cls, payload: bytes) -> "GetState":
        reader = _Reader(payload, "GET_STATE")
        (epoch,) = reader.take(_U64)
        reader.end()
        return cls(epoch)


_FETCH_PAGES = struct.Struct("<QIII")


@dataclass(frozen=True)
class FetchPages:
    """The page store images of ``pg`` from page ``first_page`` on, at most ``max_pages`` of
    them (rebuilding a wiped or lagging segment from a peer, recovery.md R5)."""

    epoch: int
    pg: int
    first_page: int
    max_pages: int
    TYPE = MessageType.FETCH_PAGES

    def encode(self) -> bytes:
        return _FETCH_PAGES.pack(self.epoch, self.pg, self.first_page, self.max_pages)

    @classmethod
    def decode(cls, payload: bytes) -> "FetchPages":
        reader = _Reader(payload, "FETCH_PAGES")
        values = reader.take(_FETCH_PAGES)
        reader.end()
        return cls(*values)


_PAGES = struct.Struct("<IQQQII")
NO_MORE_PAGES = 0xFFFFFFFF


@dataclass(frozen=True)
class Pages:
    """Sealed page images of ``pg`` as its page store holds them at ``materialized_lsn`` (pages
    never written are left out; an image may be newer than that LSN, never older). Every page
    of the PG below ``next_page`` that is not in ``images`` was never written;
    ``next_page == NO_MORE_PAGES`` when the PG is done. ``base_cpl``/``base_txn_end`` are the
    last CPL and TXN_END at or below ``materialized_lsn``."""

    pg: int
    materialized_lsn: int
    base_cpl: int
    base_txn_end: int
    next_page: int
    images: tuple[bytes, ...]
    TYPE = MessageType.PAGES

    def encode(self) -> bytes:
        if any(len(image) != PAGE_SIZE for image in self.images):
            raise ProtocolError("PAGES needs 16 KB page images")
        return _PAGES.pack(self.pg, self.materialized_lsn, self.base_cpl, self.base_txn_end,
                           self.next_page, len(self.images)) + b"".join(self.images)

    @classmethod
    def decode(cls, payload: bytes) -> "Pages":
        reader = _Reader(payload, "PAGES")
        pg, materialized, cpl, txn_end, next_page, count = reader.take(_PAGES)
        if count > (len(payload) - _PAGES.size) // PAGE_SIZE:
            raise ProtocolError("PAGES: truncated message")
        images = tuple(reader.raw(PAGE_SIZE) for _ in range(count))
        reader.end()
        return cls(pg, materialized, cpl, txn_end, next_page, images)


MESSAGES = {cls.TYPE: cls for cls in (
    Error, Challenge, Auth, AuthOk, WriteBatch, WriteAck, GetPage, Page, Fence, SegmentState,
    Truncate, Ok, SetHorizon, FetchRecords, Records, Status, StatusReply, GetState, FetchPages,
    Pages)}


# Messages of the reserved ranges that share this framing and decode_message (the package
# registers page shipping's, 50-59, here).
_EXTENSION_MESSAGES: dict[int, type] = {}


def decode_message(message_type: int, payload: bytes):
    cls = MESSAGES.get(message_type) or _EXTENSION_MESSAGES.get(message_type)
    if cls is None:
        raise ProtocolError(f"unknown message type {message_type}")
    try:
        return cls.decode(payload)
    except ProtocolError:
        raise
    except (struct.error, ValueError) as error:
        raise ProtocolError(f"{cls.__name__}: malformed ({error})") from None
