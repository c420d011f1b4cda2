"""aurora_lite: an Aurora-style log-structured storage engine with a SQL front end.

Public surface: the PEP 249 module interface, re-exported from ``aurora_lite.dbapi``:
``connect``, ``apilevel``, ``threadsafety``, ``paramstyle``, the exception hierarchy, the type
objects and constructors, ``Connection`` and ``Cursor``.
"""

from aurora_lite.dbapi import (
    BINARY, DATETIME, NUMBER, ROWID, STRING, Binary, Connection, Cursor, DatabaseError,
    DataError, Date, DateFromTicks, Error, IntegrityError, InterfaceError, InternalError,
    NotSupportedError, OperationalError, ProgrammingError, Time, TimeFromTicks, Timestamp,
    TimestampFromTicks, Warning, apilevel, connect, paramstyle, threadsafety,
)

__version__ = "0.1.0"

__all__ = [
    "connect", "apilevel", "threadsafety", "paramstyle", "Connection", "Cursor",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID", "Date", "Time", "Timestamp",
    "DateFromTicks", "TimeFromTicks", "TimestampFromTicks", "Binary",
]
