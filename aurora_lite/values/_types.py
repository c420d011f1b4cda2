"""SQL types as stored: the type enum, declared-name parsing, and coercion of Python values.

A column's declared type maps to one storage type; values are coerced to it when written, the
way PostgreSQL assigns them (an INTEGER column holds Python ints, a REAL column floats, ...).
"""

from __future__ import annotations

import datetime
import enum
import math
import re

from aurora_lite.errors import DataError, NotSupportedError

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH = datetime.datetime(1970, 1, 1)


class SqlType(enum.IntEnum):
    """Storage types. Values are part of the catalog format; never renumbered."""

    INTEGER = 1
    REAL = 2
    TEXT = 3
    BOOLEAN = 4
    BYTEA = 5
    DATE = 6
    TIMESTAMP = 7


_NAMES = {
    "INTEGER": SqlType.INTEGER, "INT": SqlType.INTEGER, "INT4": SqlType.INTEGER,
    "INT8": SqlType.INTEGER, "BIGINT": SqlType.INTEGER, "SMALLINT": SqlType.INTEGER,
    "INT2": SqlType.INTEGER, "TINYINT": SqlType.INTEGER, "MEDIUMINT": SqlType.INTEGER,
    "SERIAL": SqlType.INTEGER, "BIGSERIAL": SqlType.INTEGER,
    "REAL": SqlType.REAL, "FLOAT": SqlType.REAL, "FLOAT4": SqlType.REAL, "FLOAT8": SqlType.REAL,
    "DOUBLE": SqlType.REAL, "DOUBLE PRECISION": SqlType.REAL, "NUMERIC": SqlType.REAL,
    "DECIMAL": SqlType.REAL,
    "TEXT": SqlType.TEXT, "VARCHAR": SqlType.TEXT, "CHARACTER VARYING": SqlType.TEXT,
    "CHAR": SqlType.TEXT, "CHARACTER": SqlType.TEXT, "STRING": SqlType.TEXT,
    "BOOLEAN": SqlType.BOOLEAN, "BOOL": SqlType.BOOLEAN,
    "BYTEA": SqlType.BYTEA, "BLOB": SqlType.BYTEA,
    "DATE": SqlType.DATE,
    "TIMESTAMP": SqlType.TIMESTAMP, "DATETIME": SqlType.TIMESTAMP,
    "TIMESTAMP WITHOUT TIME ZONE": SqlType.TIMESTAMP,
}

_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*\d+\s*)?\))?\s*$")


def parse_type_name(declared: str) -> tuple[SqlType, int | None]:
    """Map a declared type such as ``VARCHAR(16)`` to (storage type, length limit or None)."""
    match = _DECLARED.match(declared)
    if match:
        name = " ".join(match.group(1).upper().split())
        if name in _NAMES:
            limit = match.group(2)
            sql_type = _NAMES[name]
            return sql_type, int(limit) if limit and sql_type is SqlType.TEXT else None
    raise NotSupportedError(f"type {declared!r} is not supported")


def type_display_name(sql_type: SqlType) -> str:
    return {SqlType.INTEGER: "integer", SqlType.REAL: "double precision",
            SqlType.TEXT: "text", SqlType.BOOLEAN: "boolean", SqlType.BYTEA: "bytea",
            SqlType.DATE: "date", SqlType.TIMESTAMP: "timestamp"}[sql_type]


def _integer(value: object, column: str) -> int:
    if isinstance(value, bool):
        raise DataError(f'column "{column}" is of type integer but expression is of type boolean',
                        sqlstate="42804")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DataError(f'integer out of range for column "{column}"', sqlstate="22003")
        result = int(round(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = int(text)
        except ValueError:
            raise DataError(f'invalid input syntax for type integer: "{value}"',
                            sqlstate="22P02") from None
    else:
        raise DataError(f'column "{column}" is of type integer but the value is '
                        f"{type(value).__name__}", sqlstate="42804")
    if not INT64_MIN <= result <= INT64_MAX:
        raise DataError(f'integer out of range for column "{column}"', sqlstate="22003")
    return result


def _real(value: object, column: str) -> float:
    if isinstance(value, bool):
        raise DataError(f'column "{column}" is of type double precision but expression is of '
                        f"type boolean", sqlstate="42804")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise DataError(f'value out of range for column "{column}"',
                            sqlstate="22003") from None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise DataError(f'invalid input syntax for type double precision: "{value}"',
                            sqlstate="22P02") from None
    raise DataError(f'column "{column}" is of type double precision but the value is '
                    f"{type(value).__name__}", sqlstate="42804")


def _text(value: object, column: str, limit: int | None) -> str:
    if isinstance(value, str):
        result = value
    elif isinstance(value, bool):
        result = "true" if value else "false"
    elif isinstance(value, (int, float)):
        result = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, (datetime.date, datetime.datetime)):
        result = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else \
            value.isoformat()
    elif isinstance(value, (bytes, bytearray, memoryview)):
        result = "\\x" + bytes(value).hex()
    else:
        raise DataError(f'cannot store {type(value).__name__} in text column "{column}"',
                        sqlstate="42804")
    if "\0" in result:
        raise DataError("invalid byte sequence: text may not contain NUL characters",
                        sqlstate="22021")
    if limit is not None and len(result) > limit:
        raise DataError(f"value too long for type character varying({limit})",
                        sqlstate="22001")
    return result


def _boolean(value: object, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("t", "true", "y", "yes", "on", "1"):
            return True
        if text in ("f", "false", "n", "no", "off", "0"):
            return False
        raise DataError(f'invalid input syntax for type boolean: "{value}"', sqlstate="22P02")
    raise DataError(f'column "{column}" is of type boolean but the value is '
                    f"{type(value).__name__}", sqlstate="42804")


def _bytea(value: object, column: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        if value.startswith("\\x"):
            try:
                return bytes.fromhex(value[2:])
            except ValueError:
                raise DataError(f'invalid hexadecimal data for column "{column}"',
                                sqlstate="22P02") from None
        return value.encode("utf-8")
    raise DataError(f'column "{column}" is of type bytea but the value is '
                    f"{type(value).__name__}", sqlstate="42804")


def _date(value: object, column: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise DataError(f'invalid input syntax for type date: "{value}"',
                            sqlstate="22007") from None
    raise DataError(f'column "{column}" is of type date but the value is '
                    f"{type(value).__name__}", sqlstate="42804")


def _timestamp(value: object, column: str) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else \
            value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise DataError(f'invalid input syntax for type timestamp: "{value}"',
                            sqlstate="22007") from None
    raise DataError(f'column "{column}" is of type timestamp but the value is '
                    f"{type(value).__name__}", sqlstate="42804")


def coerce(value: object, sql_type: SqlType, column: str = "?", limit: int | None = None
           ) -> object:
    """Convert ``value`` to the Python form stored for ``sql_type`` (None stays None)."""
    if value is None:
        return None
    if sql_type is SqlType.INTEGER:
        return _integer(value, column)
    if sql_type is SqlType.REAL:
        return _real(value, column)
    if sql_type is SqlType.TEXT:
        return _text(value, column, limit)
    if sql_type is SqlType.BOOLEAN:
        return _boolean(value, column)
    if sql_type is SqlType.BYTEA:
        return _bytea(value, column)
    if sql_type is SqlType.DATE:
        return _date(value, column)
    return _timestamp(value, column)


def date_to_days(value: datetime.date) -> int:
    return (value - EPOCH_DATE).days


def days_to_date(days: int) -> datetime.date:
    return EPOCH_DATE + datetime.timedelta(days=days)


def timestamp_to_micros(value: datetime.datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def micros_to_timestamp(micros: int) -> datetime.datetime:
    return EPOCH + datetime.timedelta(microseconds=micros)
