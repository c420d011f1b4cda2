"""The PEP 249 (DB-API 2.0) driver.

Public surface: ``connect``, the module globals ``apilevel``, ``threadsafety``, ``paramstyle``,
the exception hierarchy, the type objects STRING, BINARY, NUMBER, DATETIME, ROWID and the
constructors Date, Time, Timestamp, DateFromTicks, TimeFromTicks, TimestampFromTicks, Binary;
``Connection`` and ``Cursor``.

``connect(path)`` opens an embedded database in a directory. Parameters use the qmark style
(``?``); named ``:name`` parameters with a mapping are accepted too.
"""

from __future__ import annotations

import os

from aurora_lite.dbapi._connection import Connection, _acquire_database
from aurora_lite.dbapi._cursor import Cursor
from aurora_lite.dbapi._types import (
    BINARY, DATETIME, NUMBER, ROWID, STRING, Binary, Date, DateFromTicks, Time, TimeFromTicks,
    Timestamp, TimestampFromTicks,
)
from aurora_lite.errors import (
    DatabaseError, DataError, Error, IntegrityError, InterfaceError, InternalError,
    NotSupportedError, OperationalError, ProgrammingError, Warning,
)

apilevel = "2.0"
# Threads may share the module, but not connections: give each thread its own connection
# (connections to one directory share one database, its pool and its write lock).
threadsafety = 1
paramstyle = "qmark"

DEFAULT_DIRECTORY = "aurora-data"
# Any of these makes connect() a server connection (host defaults to localhost, as in libpq).
_REMOTE_KEYWORDS = frozenset({"host", "port", "user", "password", "dbname"})


def connect(database: str | os.PathLike | None = None, *, autocommit: bool = False,
            pool_pages: int | None = None, fsync: bool = True, lock_timeout: float | None = None,
            commit_timeout: float | None = None, storage: str | None = None,
            **options) -> Connection:
    """Open a connection.

    ``connect(DIR)`` opens the embedded database in directory DIR (default ./aurora-data): the
    writer runs in this process and storage is six segment processes on loopback, started for
    DIR (or attached to, if already running) and stopped when the last connection closes.
    ``storage="local"`` (or the environment variable AURORA_LITE_STORAGE=local) keeps storage
    in this process instead (one segment store, no quorum). ``storage="pageship"`` ships page
    images to the segment processes instead of redo: the baseline of bench/shipping.py only.
    ``connect("postgresql://user:password@host:port/dbname")`` or
    ``connect(host=..., port=..., user=..., password=..., dbname=...)`` connects to an
    ``aurora-lite serve`` server (or any PostgreSQL server) over the wire protocol.
    """
    if (isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))) \
            or _REMOTE_KEYWORDS.intersection(options):
        embedded_only = [name for name, value, default in (
            ("pool_pages", pool_pages, None), ("fsync", fsync, True),
            ("lock_timeout", lock_timeout, None), ("commit_timeout", commit_timeout, None),
            ("storage", storage, None)) if value != default]
        if embedded_only:
            raise InterfaceError(f"connect() option(s) {', '.join(embedded_only)} apply to an "
                                 f"embedded database directory, not to a server connection")
        from aurora_lite.dbapi import _remote
        return _remote.connect(database, autocommit=autocommit, **options)
    if database is None:
        database = DEFAULT_DIRECTORY
    if not isinstance(database, (str, os.PathLike)):
        raise InterfaceError("connect() needs a directory path")
    settings: dict = {"fsync": fsync, "storage": storage}
    if pool_pages is not None:
        settings["pool_pages"] = pool_pages
    if lock_timeout is not None:
        settings["lock_timeout"] = lock_timeout
    if commit_timeout is not None:
        settings["commit_timeout"] = commit_timeout
    if options:
        raise InterfaceError(f"unknown connect() option(s): {', '.join(sorted(options))}")
    db = _acquire_database(os.fspath(database), settings)
    return Connection(db, autocommit=autocommit)


__all__ = [
    "connect", "apilevel", "threadsafety", "paramstyle", "Connection", "Cursor",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID", "Date", "Time", "Timestamp",
    "DateFromTicks", "TimeFromTicks", "TimestampFromTicks", "Binary",
]
