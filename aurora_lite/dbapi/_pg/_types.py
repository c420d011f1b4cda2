"""PostgreSQL type OIDs and the text and binary encodings of the values aurora_lite has.

Both ends use this module: the server encodes result columns and decodes Bind parameters, the
remote driver encodes parameters and decodes result columns. A codec is chosen once per column
or parameter (``encoder(oid, format)`` / ``decoder(oid, format)``) so the per-value work is one
call. The encodings are those of PostgreSQL 15 (docs/formats/pgwire.md lists them):

    oid   name       text                                binary
    16    bool       t / f                               1 byte, 0 or 1
    17    bytea      \\x + lowercase hex                  the bytes
    20    int8       decimal                             int64 big-endian
    21    int2       decimal                             int16 big-endian
    23    int4       decimal                             int32 big-endian
    25    text       UTF-8                               UTF-8
    700   float4     shortest round-trip, Infinity, NaN  IEEE 754 binary32 big-endian
                     (text is read rounded to binary32, as float4in does)
    701   float8     shortest round-trip, Infinity, NaN  IEEE 754 binary64 big-endian
    1082  date       YYYY-MM-DD                          int32 days since 2000-01-01
    1114  timestamp  YYYY-MM-DD HH:MM:SS[.ffffff]        int64 microseconds since 2000-01-01
    1184  timestamptz  as timestamp, with +00            as timestamp, in UTC
    1700  numeric    decimal                             base-10000 digits (decoded only)

Decoding failures raise DataError with PostgreSQL's SQLSTATEs (22P02 bad text, 22P03 bad
binary, 22003 out of range, 22008 date/time out of range).
"""

from __future__ import annotations

import datetime
import decimal
import math
import struct
from typing import Any, Callable

from aurora_lite.errors import DataError

# -- OIDs (fixed by PostgreSQL; never renumbered) -----------------------------------------------
BOOL = 16
BYTEA = 17
CHAR = 18
NAME = 19
INT8 = 20
INT2 = 21
INT4 = 23
TEXT = 25
OID = 26
FLOAT4 = 700
FLOAT8 = 701
UNKNOWN = 705
BPCHAR = 1042
VARCHAR = 1043
DATE = 1082
TIME = 1083
TIMESTAMP = 1114
TIMESTAMPTZ = 1184
NUMERIC = 1700

TEXT_FORMAT = 0
BINARY_FORMAT = 1

# typlen of each OID, as RowDescription reports it (-1: variable length).
TYPE_SIZES = {BOOL: 1, BYTEA: -1, INT8: 8, INT2: 2, INT4: 4, TEXT: -1, FLOAT4: 4, FLOAT8: 8,
              DATE: 4, TIMESTAMP: 8, TIMESTAMPTZ: 8, VARCHAR: -1, BPCHAR: -1, NUMERIC: -1,
              UNKNOWN: -2, NAME: 64, CHAR: 1, OID: 4, TIME: 8}

# The engine's type names (aurora_lite.values.type_display_name and the spellings a Result may
# carry) -> the OID a result column of that type is described with. Integers are int8: the
# engine stores every integer as a 64-bit value.
_NAME_TO_OID = {
    "integer": INT8, "int": INT8, "bigint": INT8, "int8": INT8, "smallint": INT8, "int4": INT8,
    "int2": INT8,
    "double precision": FLOAT8, "real": FLOAT8, "float": FLOAT8, "float8": FLOAT8,
    "float4": FLOAT8, "numeric": FLOAT8, "decimal": FLOAT8,
    "text": TEXT, "varchar": TEXT, "character varying": TEXT, "char": TEXT, "string": TEXT,
    "boolean": BOOL, "bool": BOOL,
    "bytea": BYTEA, "blob": BYTEA,
    "date": DATE,
    "timestamp": TIMESTAMP, "timestamp without time zone": TIMESTAMP, "datetime": TIMESTAMP,
}

# OID -> the engine's type name, so a remote cursor's description carries the same type codes
# as an embedded one (and compares equal to the same DB-API type objects).
_OID_TO_NAME = {
    INT8: "integer", INT4: "integer", INT2: "integer", OID: "integer",
    FLOAT8: "double precision", FLOAT4: "double precision", NUMERIC: "double precision",
    TEXT: "text", VARCHAR: "text", BPCHAR: "text", NAME: "text", CHAR: "text", UNKNOWN: "text",
    BOOL: "boolean", BYTEA: "bytea", DATE: "date", TIMESTAMP: "timestamp",
    TIMESTAMPTZ: "timestamp", TIME: "time",
}

PG_EPOCH_DATE = datetime.date(2000, 1, 1)
PG_EPOCH = datetime.datetime(2000, 1, 1)
_PG_EPOCH_ORDINAL = PG_EPOCH_DATE.toordinal()
_UTC = datetime.timezone.utc

_INT2 = struct.Struct(">h")
_INT4 = struct.Struct(">i")
_INT8 = struct.Struct(">q")
_FLOAT4 = struct.Struct(">f")
_FLOAT8 = struct.Struct(">d")
_RANGES = {INT2: (-(1 << 15), (1 << 15) - 1), INT4: (-(1 << 31), (1 << 31) - 1),
           INT8: (-(1 << 63), (1 << 63) - 1), OID: (0, (1 << 32) - 1)}
_TRUE = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "off", "0"})


def oid_for_type_name(name: str | None) -> int:
    """The OID describing a result column of the engine type ``name`` (text when unknown)."""
    if not name:
        return TEXT
    return _NAME_TO_OID.get(" ".join(name.lower().split()), TEXT)


def type_name_for_oid(oid: int) -> str:
    """The engine type name of a column described with ``oid`` ("text" for others)."""
    return _OID_TO_NAME.get(oid, "text")


def type_size(oid: int) -> int:
    return TYPE_SIZES.get(oid, -1)


# -- encoders: Python value -> bytes -----------------------------------------------------------
def format_float(value: float) -> str:
    """float8out with extra_float_digits >= 1: the shortest text that reads back exactly."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    # The decimal point sits after the first digit at this power of ten.
    point = len(digits) + exponent - 1
    if -4 <= point < 15:
        if point < 0:
            body = "0." + "0" * (-point - 1) + text
        elif point + 1 >= len(text):
            body = text + "0" * (point + 1 - len(text))
        else:
            body = text[:point + 1] + "." + text[point + 1:]
    else:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    return ("-" if sign else "") + body


def format_timestamp(value: datetime.datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S") if value.year >= 1000 else \
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value:%H:%M:%S}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _text_bool(value: Any) -> bytes:
    return b"t" if value else b"f"


def _text_int(value: Any) -> bytes:
    return str(int(value)).encode()


def _text_float(value: Any) -> bytes:
    return format_float(float(value)).encode()


def _text_str(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, float):
        return format_float(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _text_bytea(value)
    if isinstance(value, datetime.datetime):
        return format_timestamp(value).encode()
    return str(value).encode("utf-8")


def _text_bytea(value: Any) -> bytes:
    return b"\\x" + bytes(value).hex().encode()


def _text_date(value: Any) -> bytes:
    if isinstance(value, datetime.datetime):
        value = value.date()
    return value.isoformat().encode()


def _text_timestamp(value: Any) -> bytes:
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return format_timestamp(value).encode()


def _text_timestamptz(value: Any) -> bytes:
    return _text_timestamp(value) + b"+00"


def _binary_bool(value: Any) -> bytes:
    return b"\x01" if value else b"\x00"


def _binary_int(packer: struct.Struct, oid: int) -> Callable[[Any], bytes]:
    low, high = _RANGES[oid]

    def encode(value: Any) -> bytes:
        value = int(value)
        if not low <= value <= high:
            raise DataError(f"value {value} is out of range for type "
                            f"{type_name_for_oid(oid)} (oid {oid})", sqlstate="22003")
        return packer.pack(value)
    return encode


def _binary_float4(value: Any) -> bytes:
    return _FLOAT4.pack(float(value))


def _binary_float8(value: Any) -> bytes:
    return _FLOAT8.pack(float(value))


def _binary_bytes(value: Any) -> bytes:
    return bytes(value)


def _binary_date(value: Any) -> bytes:
    if isinstance(value, datetime.datetime):
        value = value.date()
    return _INT4.pack(value.toordinal() - _PG_EPOCH_ORDINAL)


def _binary_timestamp(value: Any) -> bytes:
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    delta = value - PG_EPOCH
    return _INT8.pack((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)


_TEXT_ENCODERS: dict[int, Callable[[Any], bytes]] = {
    BOOL: _text_bool, BYTEA: _text_bytea, INT8: _text_int, INT2: _text_int, INT4: _text_int,
    OID: _text_int, FLOAT4: _text_float, FLOAT8: _text_float, NUMERIC: _text_str,
    DATE: _text_date, TIMESTAMP: _text_timestamp, TIMESTAMPTZ: _text_timestamptz,
}
_BINARY_ENCODERS: dict[int, Callable[[Any], bytes]] = {
    BOOL: _binary_bool, BYTEA: _binary_bytes, INT8: _binary_int(_INT8, INT8),
    INT2: _binary_int(_INT2, INT2), INT4: _binary_int(_INT4, INT4),
    OID: _binary_int(struct.Struct(">I"), OID), FLOAT4: _binary_float4,
    FLOAT8: _binary_float8, DATE: _binary_date, TIMESTAMP: _binary_timestamp,
    TIMESTAMPTZ: _binary_timestamp,
}


def encoder(oid: int, format_code: int = TEXT_FORMAT) -> Callable[[Any], bytes]:
    """The function encoding a non-NULL value of type ``oid`` in ``format_code``; types this
    module does not know are sent as their text (in either format, as text's are)."""
    table = _BINARY_ENCODERS if format_code == BINARY_FORMAT else _TEXT_ENCODERS
    return table.get(oid, _text_str)


# -- decoders: bytes -> Python value -----------------------------------------------------------
def _text(data: bytes) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise DataError("invalid byte sequence for encoding \"UTF8\"",
                        sqlstate="22021") from None


def _bad_text(type_name: str, data: bytes) -> DataError:
    shown = bytes(data[:60]).decode("utf-8", "replace")
    return DataError(f'invalid input syntax for type {type_name}: "{shown}"', sqlstate="22P02")


def _parse_bool(data: bytes) -> bool:
    word = _text(data).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _bad_text("boolean", data)


def _parse_int(oid: int) -> Callable[[bytes], int]:
    low, high = _RANGES[oid]
    name = {INT2: "smallint", INT4: "integer", INT8: "bigint", OID: "oid"}[oid]

    def parse(data: bytes) -> int:
        text = _text(data).strip()
        if not text or not (text.isascii() and text.lstrip("+-").isdigit()):
            raise _bad_text(name, data)
        value = int(text)
        if not low <= value <= high:
            raise DataError(f'value "{text}" is out of range for type {name}',
                            sqlstate="22003")
        return value
    return parse


def _parse_float(data: bytes) -> float:
    text = _text(data).strip()
    try:
        if not text.isascii() or "_" in text:
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise _bad_text("double precision", data) from None


def _parse_float4(data: bytes) -> float:
    """A float4 in text: read as PostgreSQL's float4in does, rounded to binary32 (so a text
    and a binary float4 parameter give the same value); beyond binary32's range is 22003."""
    value = _parse_float(data)
    try:
        rounded = _FLOAT4.unpack(_FLOAT4.pack(value))[0]
    except OverflowError:
        rounded = 0.0
    if rounded == 0.0 and value != 0.0:     # beyond the range, or below the smallest
        raise DataError(f'"{_text(data).strip()}" is out of range for type real',
                        sqlstate="22003")
    return rounded


def _parse_numeric(data: bytes) -> int | float:
    text = _text(data).strip()
    try:
        if not text.isascii() or "_" in text:
            raise ValueError(text)
        if text.lstrip("+-").isdigit():
            return int(text)
        return float(text)
    except ValueError:
        raise _bad_text("numeric", data) from None


def _parse_bytea(data: bytes) -> bytes:
    data = bytes(data)
    if data.startswith(b"\\x"):
        try:
            return bytes.fromhex(data[2:].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise DataError("invalid hexadecimal data in bytea input", sqlstate="22P02") from None
    # The escape format: \\ is a backslash, \nnn an octal byte, anything else itself.
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte != 0x5C:
            out.append(byte)
            i += 1
        elif data[i + 1:i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif len(data) >= i + 4 and all(0x30 <= d <= 0x37 for d in data[i + 1:i + 4]) \
                and data[i + 1] <= 0x33:
            out.append(int(data[i + 1:i + 4], 8))
            i += 4
        else:
            raise DataError("invalid input syntax for type bytea", sqlstate="22P02")
    return bytes(out)


def _parse_date(data: bytes) -> datetime.date:
    text = _text(data).strip()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise _bad_text("date", data) from None


def _parse_timestamp(data: bytes) -> datetime.datetime:
    text = _text(data).strip()
    try:
        # PostgreSQL writes "+00" offsets, which fromisoformat reads as hours since 3.11.
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _bad_text("timestamp", data) from None
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value


def _parse_time(data: bytes) -> datetime.time:
    text = _text(data).strip()
    try:
        return datetime.time.fromisoformat(text)
    except ValueError:
        raise _bad_text("time", data) from None


def _fixed(size: int, type_name: str, unpack: Callable[[bytes], tuple]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        if len(data) != size:
            raise DataError(f"incorrect binary data format: {type_name} needs {size} bytes, "
                            f"got {len(data)}", sqlstate="22P03")
        return unpack(data)[0]
    return decode


def _binary_bool_decode(data: bytes) -> bool:
    if len(data) != 1:
        raise DataError("incorrect binary data format: boolean needs 1 byte",
                        sqlstate="22P03")
    return data[0] != 0


def _binary_date_decode(data: bytes) -> datetime.date:
    days = _fixed(4, "date", _INT4.unpack)(data)
    try:
        return datetime.date.fromordinal(days + _PG_EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise DataError("date out of range", sqlstate="22008") from None


def _binary_timestamp_decode(data: bytes) -> datetime.datetime:
    micros = _fixed(8, "timestamp", _INT8.unpack)(data)
    try:
        return PG_EPOCH + datetime.timedelta(microseconds=micros)
    except OverflowError:
        raise DataError("timestamp out of range", sqlstate="22008") from None


def _binary_time_decode(data: bytes) -> datetime.time:
    micros = _fixed(8, "time", _INT8.unpack)(data)
    if not 0 <= micros < 86_400_000_000:
        raise DataError("time out of range", sqlstate="22008")
    seconds, micro = divmod(micros, 1_000_000)
    return datetime.time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


def _binary_numeric_decode(data: bytes) -> int | float:
    """numeric_send: int16 ndigits, int16 weight, uint16 sign, uint16 dscale, base-10000
    digits; the value is sum(digit[i] * 10000 ** (weight - i))."""
    if len(data) < 8:
        raise DataError("incorrect binary data format for numeric", sqlstate="22P03")
    ndigits, weight, sign, dscale = struct.unpack_from(">hhHH", data)
    if ndigits < 0 or len(data) != 8 + 2 * ndigits:
        raise DataError("incorrect binary data format for numeric", sqlstate="22P03")
    if sign == 0xC000:
        return math.nan
    if sign in (0xD000, 0xF000):
        return math.inf if sign == 0xD000 else -math.inf
    if sign not in (0x0000, 0x4000):
        raise DataError("invalid sign in binary numeric", sqlstate="22P03")
    digits = struct.unpack_from(f">{ndigits}h", data, 8)
    if any(not 0 <= d < 10000 for d in digits):
        raise DataError("invalid digit in binary numeric", sqlstate="22P03")
    value = decimal.Decimal(0)
    for i, digit in enumerate(digits):
        value += decimal.Decimal(digit).scaleb(4 * (weight - i))
    if sign == 0x4000:
        value = -value
    if dscale == 0 and value == value.to_integral_value():
        return int(value)
    return float(value)


_TEXT_DECODERS: dict[int, Callable[[bytes], Any]] = {
    BOOL: _parse_bool, BYTEA: _parse_bytea, INT8: _parse_int(INT8), INT2: _parse_int(INT2),
    INT4: _parse_int(INT4), OID: _parse_int(OID), FLOAT4: _parse_float4, FLOAT8: _parse_float,
    NUMERIC: _parse_numeric, DATE: _parse_date, TIME: _parse_time, TIMESTAMP: _parse_timestamp,
    TIMESTAMPTZ: _parse_timestamp,
}
_BINARY_DECODERS: dict[int, Callable[[bytes], Any]] = {
    BOOL: _binary_bool_decode, BYTEA: bytes, INT8: _fixed(8, "bigint", _INT8.unpack),
    INT2: _fixed(2, "smallint", _INT2.unpack), INT4: _fixed(4, "integer", _INT4.unpack),
    OID: _fixed(4, "oid", struct.Struct(">I").unpack),
    FLOAT4: _fixed(4, "real", _FLOAT4.unpack), FLOAT8: _fixed(8, "double precision",
                                                            _FLOAT8.unpack),
    NUMERIC: _binary_numeric_decode, DATE: _binary_date_decode, TIME: _binary_time_decode,
    TIMESTAMP: _binary_timestamp_decode, TIMESTAMPTZ: _binary_timestamp_decode,
}


def decoder(oid: int, format_code: int = TEXT_FORMAT) -> Callable[[bytes], Any]:
    """The function decoding a non-NULL value of type ``oid`` sent in ``format_code``. Types
    this module does not know (and text, varchar, unknown, 0) decode to str."""
    table = _BINARY_DECODERS if format_code == BINARY_FORMAT else _TEXT_DECODERS
    return table.get(oid, _text)


def oid_for_value(value: Any) -> int:
    """The OID a client sends a Python parameter with (0, unknown, for None and str: the
    server then reads it as a quoted literal would be read)."""
    if value is None or isinstance(value, str):
        return 0
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT8 if -(1 << 63) <= value < (1 << 63) else NUMERIC
    if isinstance(value, float):
        return FLOAT8
    if isinstance(value, decimal.Decimal):
        return NUMERIC
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BYTEA
    if isinstance(value, datetime.datetime):
        return TIMESTAMP
    if isinstance(value, datetime.date):
        return DATE
    if isinstance(value, datetime.time):
        return TIME
    return 0


__all__ = [
    "BOOL", "BYTEA", "INT8", "INT2", "INT4", "TEXT", "OID", "FLOAT4", "FLOAT8", "UNKNOWN",
    "VARCHAR", "BPCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "NUMERIC", "TEXT_FORMAT",
    "BINARY_FORMAT", "oid_for_type_name", "type_name_for_oid", "type_size", "encoder",
    "decoder", "oid_for_value", "format_float", "format_timestamp",
]
