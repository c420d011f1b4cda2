"""Cutting a byte stream into protocol messages, with the length checked before the body.

``FrameBuffer`` is fed whatever the transport delivered and hands out whole messages. It never
holds more than one message's worth of unread body beyond what was fed: the length in a
header is checked against ``max_length`` as soon as the 5 header bytes are in, so a peer that
announces a 2 GB message is refused before anything is allocated for it (Invariant 1 of
docs/protocols/auth.md's server section: per-connection memory is bounded).

The first packet of a connection (startup, SSLRequest, CancelRequest) has no type byte; the
caller asks for it with ``next_startup``.
"""

from __future__ import annotations

import struct

from aurora_lite.dbapi._pg._messages import ProtocolViolation

_HEADER = struct.Struct(">i")
# PostgreSQL's MAX_STARTUP_PACKET_LENGTH: a startup packet is a few parameters.
MAX_STARTUP_LENGTH = 10_000


class MessageTooLong(ProtocolViolation):
    """A header announced more bytes than this end accepts (SQLSTATE 54000)."""

    sqlstate = "54000"


class FrameBuffer:
    """Bytes in, (type byte, body) out."""

    __slots__ = ("_data", "_offset", "max_length")

    def __init__(self, max_length: int) -> None:
        self._data = bytearray()
        self._offset = 0
        self.max_length = max_length

    def feed(self, data: bytes) -> None:
        if self._offset and self._offset == len(self._data):
            self._data.clear()
            self._offset = 0
        elif self._offset > 65536:
            del self._data[:self._offset]
            self._offset = 0
        self._data += data

    @property
    def buffered(self) -> int:
        return len(self._data) - self._offset

    def needed(self) -> int:
        """How many more bytes the next message needs at least (for bounded reads)."""
        available = self.buffered
        if available < 5:
            return 5 - available
        length = _HEADER.unpack_from(self._data, self._offset + 1)[0]
        return max(1 + length - available, 0)

    def next_message(self) -> tuple[bytes, bytes] | None:
        """The next whole typed message, or None until more bytes are fed."""
        data = self._data
        offset = self._offset
        if len(data) - offset < 5:
            return None
        length = _HEADER.unpack_from(data, offset + 1)[0]
        if length < 4:
            raise ProtocolViolation(f"invalid message length {length}")
        if length > self.max_length:
            raise MessageTooLong(f"message of {length} bytes is longer than the limit of "
                                 f"{self.max_length} bytes")
        end = offset + 1 + length
        if len(data) < end:
            return None
        type_byte = bytes(data[offset:offset + 1])
        body = bytes(data[offset + 5:end])
        self._offset = end
        return type_byte, body

    def peek_types(self, limit: int) -> list[bytes]:
        """The type bytes of up to ``limit`` complete messages buffered after the next one
        handed out (without consuming them)."""
        data = self._data
        offset = self._offset
        types = []
        while len(types) < limit and len(data) - offset >= 5:
            length = _HEADER.unpack_from(data, offset + 1)[0]
            if length < 4 or len(data) < offset + 1 + length:
                break
            types.append(bytes(data[offset:offset + 1]))
            offset += 1 + length
        return types

    def next_startup(self) -> bytes | None:
        """The body (after the length) of the untyped first packet, or None until it is in."""
        data = self._data
        offset = self._offset
        if len(data) - offset < 4:
            return None
        length = _HEADER.unpack_from(data, offset)[0]
        if length < 8 or length > MAX_STARTUP_LENGTH:
            raise ProtocolViolation(f"invalid length of startup packet: {length}")
        end = offset + length
        if len(data) < end:
            return None
        body = bytes(data[offset + 4:end])
        self._offset = end
        return body
