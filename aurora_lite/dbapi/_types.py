"""PEP 249 type objects and constructors.

A cursor's ``description`` gives each column's type code as the engine's SQL type name
(``'integer'``, ``'double precision'``, ``'text'``, ``'boolean'``, ``'bytea'``, ``'date'``,
``'timestamp'``; see ``aurora_lite.values.type_display_name``). The type objects compare equal
to the type codes of their group, so ``description[i][1] == NUMBER`` works as PEP 249 asks:

    STRING    text (and the usual spellings: varchar, char, ...)
    BINARY    bytea
    NUMBER    integer, double precision, boolean (a Python bool is an int)
    DATETIME  date, timestamp (and time)
    ROWID     oid, rowid (aurora_lite has no row-id column type today)

Comparison ignores case and extra blanks, and also accepts ``values.SqlType`` members. The
constructors build the Python values the driver binds and returns: ``datetime`` objects and
``bytes``. Times from ticks use local time, as PEP 249 specifies.
"""

from __future__ import annotations

import datetime

from aurora_lite.errors import DataError, InterfaceError
from aurora_lite.values import SqlType, type_display_name


def _normal(name: str) -> str:
    return " ".join(name.lower().split())


class DBAPITypeObject:
    """A group of type codes; equal to each code in the group (PEP 249 "Type Objects")."""

    __slots__ = ("name", "codes", "sql_types")

    def __init__(self, name: str, *codes: str, sql_types: tuple[SqlType, ...] = ()) -> None:
        self.name = name
        self.sql_types = frozenset(sql_types)
        self.codes = frozenset(_normal(code) for code in codes) | frozenset(
            type_display_name(sql_type) for sql_type in sql_types)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self is other
        if isinstance(other, SqlType):  # checked before str: SqlType is an int enum
            return other in self.sql_types
        if isinstance(other, str):
            return _normal(other) in self.codes
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    # Equal to several strings, so no hash can agree with __eq__; identity keeps them usable
    # as dictionary keys among themselves.
    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return self.name


STRING = DBAPITypeObject("STRING", "varchar", "character varying", "char", "character",
                         "bpchar", "name", sql_types=(SqlType.TEXT,))
BINARY = DBAPITypeObject("BINARY", "blob", sql_types=(SqlType.BYTEA,))
NUMBER = DBAPITypeObject("NUMBER", "int", "int2", "int4", "int8", "smallint", "bigint", "real",
                         "float4", "float8", "numeric", "decimal", "bool",
                         sql_types=(SqlType.INTEGER, SqlType.REAL, SqlType.BOOLEAN))
DATETIME = DBAPITypeObject("DATETIME", "time", "timestamp without time zone",
                           sql_types=(SqlType.DATE, SqlType.TIMESTAMP))
ROWID = DBAPITypeObject("ROWID", "oid", "rowid")

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def _from_ticks(ticks: float) -> datetime.datetime:
    try:
        return datetime.datetime.fromtimestamp(ticks)
    except (OverflowError, OSError, ValueError, TypeError) as exc:
        raise DataError(f"ticks value {ticks!r} is out of range: {exc}") from None


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 - name mandated by PEP 249
    """The local date ``ticks`` seconds after the epoch."""
    return _from_ticks(ticks).date()


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802
    """The local time of day ``ticks`` seconds after the epoch."""
    return _from_ticks(ticks).time()


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802
    """The local date and time ``ticks`` seconds after the epoch."""
    return _from_ticks(ticks)


def Binary(data: bytes | bytearray | memoryview) -> bytes:  # noqa: N802
    """A value to bind to a bytea parameter."""
    if isinstance(data, str):
        raise InterfaceError("Binary() takes bytes, not str: encode the text first")
    try:
        return bytes(memoryview(data))  # memoryview, unlike bytes(), refuses an int size
    except TypeError:
        raise InterfaceError(f"Binary() takes a bytes-like object, not "
                             f"{type(data).__name__}") from None


__all__ = ["STRING", "BINARY", "NUMBER", "DATETIME", "ROWID", "DBAPITypeObject", "Date",
           "Time", "Timestamp", "DateFromTicks", "TimeFromTicks", "TimestampFromTicks",
           "Binary"]
