"""Order-preserving ("memcomparable") key encoding: B-trees compare keys as plain bytes.

Each column of a key is encoded as a tag byte and a payload (docs/formats/keys.md)::

    NULL            0xF0                      (sorts after every value: NULLS LAST, as PostgreSQL)
    INTEGER         0x10 + 8 bytes big-endian of (value + 2**63)
    REAL            0x10 + 8 bytes: IEEE-754 big-endian, sign bit flipped for positives and all
                    bits inverted for negatives; -0.0 is encoded as 0.0
    TEXT / BYTEA    0x10 + bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00
    BOOLEAN         0x10 + 0x00 or 0x01
    DATE            as INTEGER of the days since 1970-01-01
    TIMESTAMP       as INTEGER of the microseconds since 1970-01-01

A DESC column is the same bytes, each inverted (x -> 0xFF - x), which reverses the order
(NULLS FIRST for DESC, again as PostgreSQL). Encodings are prefix-free, so the concatenation
of columns orders like the tuple of values.
"""

from __future__ import annotations

import struct
from typing import Callable, Sequence

from aurora_lite.values._types import (
    SqlType, date_to_days, days_to_date, micros_to_timestamp, timestamp_to_micros,
)

TAG_VALUE = 0x10
TAG_NULL = 0xF0
_NULL = bytes([TAG_NULL])
_Q = struct.Struct(">Q")
_D = struct.Struct(">d")
_OFFSET = 1 << 63
_INVERT = bytes(range(255, -1, -1))


def _encode_int(value: int) -> bytes:
    return b"\x10" + _Q.pack(value + _OFFSET)


def _encode_real(value: float) -> bytes:
    if value == 0.0:
        value = 0.0
    bits = _Q.unpack(_D.pack(value))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | _OFFSET
    return b"\x10" + _Q.pack(bits)


def _encode_bytes(value: bytes) -> bytes:
    return b"\x10" + value.replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def _encode_text(value: str) -> bytes:
    return _encode_bytes(value.encode("utf-8"))


def _encode_bool(value: bool) -> bytes:
    return b"\x10\x01" if value else b"\x10\x00"


def _encode_date(value) -> bytes:
    return _encode_int(date_to_days(value))


def _encode_timestamp(value) -> bytes:
    return _encode_int(timestamp_to_micros(value))


_ENCODERS: dict[SqlType, Callable[[object], bytes]] = {
    SqlType.INTEGER: _encode_int, SqlType.REAL: _encode_real, SqlType.TEXT: _encode_text,
    SqlType.BYTEA: _encode_bytes, SqlType.BOOLEAN: _encode_bool, SqlType.DATE: _encode_date,
    SqlType.TIMESTAMP: _encode_timestamp,
}


def encode_value(value: object, sql_type: SqlType, descending: bool = False) -> bytes:
    data = _NULL if value is None else _ENCODERS[sql_type](value)
    return data.translate(_INVERT) if descending else data


def encode_key(values: Sequence[object], types: Sequence[SqlType],
               descending: Sequence[bool] | None = None) -> bytes:
    """Encode a (prefix of a) key; ``values`` may be shorter than ``types`` for a prefix."""
    parts = []
    for index, value in enumerate(values):
        desc = bool(descending and descending[index])
        parts.append(encode_value(value, types[index], desc))
    return b"".join(parts)


def make_key_encoder(types: Sequence[SqlType], descending: Sequence[bool] | None = None,
                     positions: Sequence[int] | None = None) -> Callable[[Sequence], bytes]:
    """A fast encoder of the key made of ``row[positions[i]]`` (default: the first columns)."""
    positions = list(range(len(types))) if positions is None else list(positions)
    encoders = [_ENCODERS[t] for t in types]
    desc = [bool(descending and descending[i]) for i in range(len(types))]
    if len(types) == 1 and not desc[0]:
        (position,), (encoder,) = positions, encoders

        def encode_one(row: Sequence) -> bytes:
            value = row[position]
            return _NULL if value is None else encoder(value)
        return encode_one

    steps = list(zip(positions, encoders, desc))

    def encode(row: Sequence) -> bytes:
        parts = []
        for position, encoder, inverted in steps:
            value = row[position]
            data = _NULL if value is None else encoder(value)
            parts.append(data.translate(_INVERT) if inverted else data)
        return b"".join(parts)
    return encode


def prefix_successor(key: bytes) -> bytes:
    """The smallest byte string greater than every string that starts with ``key``."""
    return key + b"\xff" * 9 if key else b"\xff"


def decode_key(data: bytes, types: Sequence[SqlType],
               descending: Sequence[bool] | None = None) -> tuple:
    """Decode a key back to values (tools and index-only scans)."""
    values = []
    offset = 0
    for index, sql_type in enumerate(types):
        desc = bool(descending and descending[index])
        raw = data if not desc else data[offset:].translate(_INVERT)
        base = offset if not desc else 0
        tag = raw[base]
        if tag == TAG_NULL:
            values.append(None)
            offset += 1
            continue
        if sql_type in (SqlType.TEXT, SqlType.BYTEA):
            end = base + 1
            out = bytearray()
            while True:
                byte = raw[end]
                if byte == 0:
                    if raw[end + 1] == 0xFF:
                        out.append(0)
                        end += 2
                        continue
                    end += 2
                    break
                out.append(byte)
                end += 1
            value = out.decode("utf-8") if sql_type is SqlType.TEXT else bytes(out)
            offset += end - base
        elif sql_type is SqlType.BOOLEAN:
            value = bool(raw[base + 1])
            offset += 2
        else:
            bits = _Q.unpack_from(raw, base + 1)[0]
            offset += 9
            if sql_type is SqlType.REAL:
                bits = bits ^ _OFFSET if bits >> 63 else bits ^ 0xFFFFFFFFFFFFFFFF
                value = _D.unpack(_Q.pack(bits))[0]
            else:
                value = bits - _OFFSET
                if sql_type is SqlType.DATE:
                    value = days_to_date(value)
                elif sql_type is SqlType.TIMESTAMP:
                    value = micros_to_timestamp(value)
        values.append(value)
    return tuple(values)
