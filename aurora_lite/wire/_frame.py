"""Framing shared by every aurora_lite process (writer, segments, replicas, tools).

Every message travels in one frame (docs/formats/wire.md)::

    OFFSET SIZE FIELD
         0    2 magic        b"AW"
         2    1 version      1
         3    1 type         MessageType (never renumbered)
         4    4 length       payload bytes (checked against MAX_FRAME before anything is read)
         8    4 request_id   chosen by the requester, echoed by the response (0: none)
        12    4 crc          CRC32C of the payload (Invariant 5: checked on receipt)
        16    * payload

A frame that is too long, has a bad magic/version or a bad CRC is a protocol violation: the
receiver closes that connection (and logs it) and goes on serving everyone else.
"""

from __future__ import annotations

import struct

import crc32c as _crc32c

from aurora_lite.errors import OperationalError

MAGIC = b"AW"
WIRE_VERSION = 1
FRAME_HEADER = struct.Struct("<2sBBIII")
HEADER_SIZE = FRAME_HEADER.size
assert HEADER_SIZE == 16
MAX_FRAME = 64 << 20


class ProtocolError(OperationalError):
    """A peer sent bytes that are not a valid frame or message."""

    sqlstate = "08P01"


def encode_frame(message_type: int, payload: bytes | bytearray | memoryview,
                 request_id: int = 0) -> bytes:
    if len(payload) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(payload)} bytes exceeds the maximum {MAX_FRAME}")
    return FRAME_HEADER.pack(MAGIC, WIRE_VERSION, message_type, len(payload), request_id,
                             _crc32c.crc32c(payload)) + bytes(payload)


def decode_header(header: bytes | bytearray | memoryview,
                  max_frame: int = MAX_FRAME) -> tuple[int, int, int, int]:
    """(type, length, request_id, crc) of a frame header; ProtocolError if it is invalid."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError(f"truncated frame header ({len(header)} bytes)")
    magic, version, message_type, length, request_id, crc = FRAME_HEADER.unpack(header)
    if magic != MAGIC or version != WIRE_VERSION:
        raise ProtocolError(f"bad frame magic {magic!r} or version {version}")
    if length > max_frame:
        raise ProtocolError(f"frame of {length} bytes exceeds the maximum {max_frame}")
    return message_type, length, request_id, crc


def check_payload(payload: bytes | bytearray | memoryview, crc: int) -> None:
    actual = _crc32c.crc32c(payload)
    if actual != crc:
        raise ProtocolError(f"frame payload CRC32C mismatch (stored {crc:#010x}, "
                            f"computed {actual:#010x})")


class FrameReader:
    """Incremental frame parser for byte streams (sockets read in arbitrary chunks)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """Add bytes; return every complete (type, request_id, payload)."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER_SIZE:
            message_type, length, request_id, crc = decode_header(
                self._buffer[:HEADER_SIZE], self.max_frame)
            if len(self._buffer) < HEADER_SIZE + length:
                break
            payload = bytes(self._buffer[HEADER_SIZE:HEADER_SIZE + length])
            check_payload(payload, crc)
            del self._buffer[:HEADER_SIZE + length]
            frames.append((message_type, request_id, payload))
        return frames
