"""Messages of the writer's redo stream to read replicas, and of a replica's control endpoint.

They travel in the ordinary frames of aurora_lite.wire (magic ``AW``, CRC32C of the payload)
with the message types reserved for replicas, 30-39 (docs/formats/replication.md documents
every byte; never renumbered, Invariant 8). Each message is a frozen dataclass with
``encode() -> bytes`` and ``decode(payload)``; ``decode_replication(type, payload)`` decodes
these and falls back to aurora_lite.wire for the shared ones (ERROR, CHALLENGE, AUTH, AUTH_OK,
STATUS, STATUS_REPLY). Integers are little-endian; every length is checked against the
payload, so a malformed message raises ProtocolError instead of reading past its end.

    type  name          direction            payload
      30  SUBSCRIBE     replica -> writer    u64 epoch, u64 position, u64 read_point, name
      31  STREAM_START  writer -> replica    u64 epoch, read_point, position, catalog_version,
                                             writer_time_us, u8 mode (0 FRESH, 1 RESUME)
      32  REDO          writer -> replica    u64 last_lsn, records (docs/formats/redo.md)
      33  READ_POINT    writer -> replica    u64 lsn, catalog_version, published_us
      34  HEARTBEAT     writer -> replica    u64 epoch, vdl, read_point, catalog_version,
                                             published_us, position, writer_time_us
      35  FEEDBACK      replica -> writer    u64 read_point, oldest_read_point, position, lag_us
      36  RESYNC        writer -> replica    u64 epoch, reason
      37  PROMOTE       tool -> replica      u32 timeout_ms
      38  PROMOTED      replica -> tool      JSON (the new writer's addresses and epoch)
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from aurora_lite.wire import ProtocolError, decode_message


class ReplicationType(enum.IntEnum):
    """Message types of the replication stream (the range 30-39 of wire.MessageType)."""

    SUBSCRIBE = 30
    STREAM_START = 31
    REDO = 32
    READ_POINT = 33
    HEARTBEAT = 34
    FEEDBACK = 35
    RESYNC = 36
    PROMOTE = 37
    PROMOTED = 38


class StartMode(enum.IntEnum):
    FRESH = 0       # drop every cached page; the stream starts at read_point
    RESUME = 1      # keep the cache: the records after the replica's position follow


def _take(layout: struct.Struct, payload: bytes, name: str, *, exact: bool) -> tuple:
    if len(payload) < layout.size or (exact and len(payload) != layout.size):
        raise ProtocolError(f"{name}: payload of {len(payload)} bytes, expected "
                            f"{'' if exact else 'at least '}{layout.size}")
    return layout.unpack_from(payload, 0)


_SUBSCRIBE = struct.Struct("<QQQ")


@dataclass(frozen=True)
class Subscribe:
    """A replica asks for the stream. ``epoch``/``position``: the writer epoch it followed and
    the highest LSN it received there (0/0: nothing; a new stream starts FRESH)."""

    epoch: int
    position: int
    read_point: int
    name: str = ""
    TYPE = ReplicationType.SUBSCRIBE

    def encode(self) -> bytes:
        return _SUBSCRIBE.pack(self.epoch, self.position, self.read_point) + \
            self.name.encode("utf-8")

    @classmethod
    def decode(cls, payload: bytes) -> "Subscribe":
        values = _take(_SUBSCRIBE, payload, "SUBSCRIBE", exact=False)
        return cls(*values, bytes(payload[_SUBSCRIBE.size:]).decode("utf-8", "replace"))


_START = struct.Struct("<QQQQQB")


@dataclass(frozen=True)
class StreamStart:
    """The writer's answer to SUBSCRIBE: every record with LSN above ``position`` follows, in
    LSN order. FRESH: the replica drops its cache and reads at ``read_point`` (a durable
    transaction end whose catalog is ``catalog_version``); RESUME: it keeps its cache."""

    epoch: int
    read_point: int
    position: int
    catalog_version: int
    writer_time_us: int
    mode: int
    TYPE = ReplicationType.STREAM_START

    def encode(self) -> bytes:
        return _START.pack(self.epoch, self.read_point, self.position, self.catalog_version,
                           self.writer_time_us, self.mode)

    @classmethod
    def decode(cls, payload: bytes) -> "StreamStart":
        values = _take(_START, payload, "STREAM_START", exact=True)
        if values[5] not in (StartMode.FRESH, StartMode.RESUME):
            raise ProtocolError(f"STREAM_START: unknown mode {values[5]}")
        return cls(*values)


_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class Redo:
    """One batch of redo records exactly as the writer shipped it to storage."""

    last_lsn: int
    records: bytes
    TYPE = ReplicationType.REDO

    def encode(self) -> bytes:
        return _U64.pack(self.last_lsn) + self.records

    @classmethod
    def decode(cls, payload: bytes) -> "Redo":
        (last_lsn,) = _take(_U64, payload, "REDO", exact=False)
        return cls(last_lsn, bytes(payload[8:]))


_READ_POINT = struct.Struct("<QQQ")


@dataclass(frozen=True)
class ReadPoint:
    """A transaction end the writer has published (durable: Invariant 2)."""

    lsn: int
    catalog_version: int
    published_us: int
    TYPE = ReplicationType.READ_POINT

    def encode(self) -> bytes:
        return _READ_POINT.pack(self.lsn, self.catalog_version, self.published_us)

    @classmethod
    def decode(cls, payload: bytes) -> "ReadPoint":
        return cls(*_take(_READ_POINT, payload, "READ_POINT", exact=True))


_HEARTBEAT = struct.Struct("<QQQQQQQ")


@dataclass(frozen=True)
class Heartbeat:
    """The writer's state now: sent every heartbeat interval (lag measurement, liveness)."""

    epoch: int
    vdl: int
    read_point: int          # the newest read point in the stream, its catalog, and when
    catalog_version: int     # the writer published it
    published_us: int
    position: int            # the highest LSN in the stream
    writer_time_us: int
    TYPE = ReplicationType.HEARTBEAT

    def encode(self) -> bytes:
        return _HEARTBEAT.pack(self.epoch, self.vdl, self.read_point, self.catalog_version,
                               self.published_us, self.position, self.writer_time_us)

    @classmethod
    def decode(cls, payload: bytes) -> "Heartbeat":
        return cls(*_take(_HEARTBEAT, payload, "HEARTBEAT", exact=True))


_FEEDBACK = struct.Struct("<QQQQ")


@dataclass(frozen=True)
class Feedback:
    """A replica's state: its read point, the oldest read point its readers still use (the
    writer keeps storage's horizon at or below it), what it received, its lag."""

    read_point: int
    oldest_read_point: int
    position: int
    lag_us: int
    TYPE = ReplicationType.FEEDBACK

    def encode(self) -> bytes:
        return _FEEDBACK.pack(self.read_point, self.oldest_read_point, self.position,
                              self.lag_us)

    @classmethod
    def decode(cls, payload: bytes) -> "Feedback":
        return cls(*_take(_FEEDBACK, payload, "FEEDBACK", exact=True))


@dataclass(frozen=True)
class Resync:
    """The replica fell too far behind (or the stream cannot go on): drop the cache and
    subscribe again from the current read point."""

    epoch: int
    reason: str
    TYPE = ReplicationType.RESYNC

    def encode(self) -> bytes:
        return _U64.pack(self.epoch) + self.reason.encode("utf-8")

    @classmethod
    def decode(cls, payload: bytes) -> "Resync":
        (epoch,) = _take(_U64, payload, "RESYNC", exact=False)
        return cls(epoch, bytes(payload[8:]).decode("utf-8", "replace"))


_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class Promote:
    """Ask a replica to become the writer (it runs writer recovery, which fences the old)."""

    timeout_ms: int
    TYPE = ReplicationType.PROMOTE

    def encode(self) -> bytes:
        return _U32.pack(self.timeout_ms)

    @classmethod
    def decode(cls, payload: bytes) -> "Promote":
        return cls(*_take(_U32, payload, "PROMOTE", exact=True))


@dataclass(frozen=True)
class Promoted:
    """The promoted writer's addresses and epoch, as UTF-8 JSON (tools ignore unknown keys)."""

    json_text: str
    TYPE = ReplicationType.PROMOTED

    def encode(self) -> bytes:
        return self.json_text.encode("utf-8")

    @classmethod
    def decode(cls, payload: bytes) -> "Promoted":
        try:
            return cls(bytes(payload).decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError("PROMOTED: not UTF-8") from None


REPLICATION_MESSAGES = {cls.TYPE: cls for cls in (
    Subscribe, StreamStart, Redo, ReadPoint, Heartbeat, Feedback, Resync, Promote, Promoted)}


def decode_replication(message_type: int, payload: bytes):
    """Decode a frame's payload: replication types here, the shared ones by aurora_lite.wire."""
    cls = REPLICATION_MESSAGES.get(message_type)
    if cls is None:
        return decode_message(message_type, payload)
    try:
        return cls.decode(payload)
    except ProtocolError:
        raise
    except (struct.error, ValueError) as error:
        raise ProtocolError(f"{cls.__name__}: malformed ({error})") from None
