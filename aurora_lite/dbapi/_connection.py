"""Embedded connections: the PEP 249 Connection over a Session of a shared Database.

All connections of one process to one data directory share one ``Database`` (and so one write
lock, one buffer pool, one volume); it closes when the last of them closes. Another process
that opens the same directory is refused with OperationalError: the writer holds an exclusive
lock on ``DIR/writer.lock`` (a local volume also locks its own directory).

Storage: by default a directory runs on the six-segment cluster (aurora_lite.cluster starts the
segment processes for DIR, or attaches to those already running, and stops what it started
when the last connection closes). ``storage="local"`` (or AURORA_LITE_STORAGE=local) runs on
one in-process segment store instead; a directory created that way keeps using it.
``storage="pageship"`` runs on the same six segment processes but ships page images instead of
redo (aurora_lite.volume.PageShipVolume): the baseline of bench/shipping.py, nothing else.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import sys
import threading
from typing import Any

from aurora_lite import errors
from aurora_lite.errors import InterfaceError, OperationalError

_REGISTRY_LOCK = threading.Lock()
_OPEN: dict[str, tuple[Any, int]] = {}


STORAGE_KINDS = ("cluster", "local", "pageship")
PAGESHIP_DIR = "pageship-writer"
WRITER_LOCK = "writer.lock"


def _storage_kind(directory: str, requested: str | None) -> str:
    if os.path.exists(os.path.join(directory, "pg-0")):
        return "local"             # a directory created as a local volume stays one
    if os.path.exists(os.path.join(directory, PAGESHIP_DIR)):
        return "pageship"
    if os.path.exists(os.path.join(directory, "cluster.json")):
        return "cluster"
    kind = requested or os.environ.get("AURORA_LITE_STORAGE") or "cluster"
    if kind not in STORAGE_KINDS:
        raise InterfaceError(f"unknown storage {kind!r}: use one of {', '.join(STORAGE_KINDS)}")
    return kind


def _lock_writer(directory: str):
    """Take DIR/writer.lock for this process, or raise OperationalError naming the holder."""
    handle = open(os.path.join(directory, WRITER_LOCK), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise OperationalError(f"data directory {directory} is in use by process {holder}",
                               sqlstate="55006") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _open_database(directory: str, options: dict):
    from aurora_lite.txn import Database
    options = dict(options)
    kind = _storage_kind(directory, options.pop("storage", None))
    if kind == "local":
        return Database.open(directory, **options)
    fsync = options.pop("fsync", True)
    lock = _lock_writer(directory)
    handle = None
    try:
        from aurora_lite.cluster import ensure_cluster
        from aurora_lite.volume import open_cluster_volume
        handle = ensure_cluster(directory, node_args=None if fsync else ("--no-fsync",))
        if kind == "pageship":
            from aurora_lite.volume import PageShipVolume
            volume = PageShipVolume(os.path.join(directory, "cluster.json"),
                                    os.path.join(directory, PAGESHIP_DIR))
        else:
            volume = open_cluster_volume(directory)
        database = Database.open(directory, volume=volume, **options)
    except BaseException:
        if handle is not None:
            handle.close()
        lock.close()
        raise
    database.cluster = handle
    database.writer_lock = lock
    return database


def _close_database(database) -> None:
    try:
        database.close()
    finally:
        handle = getattr(database, "cluster", None)
        if handle is not None:
            handle.close()
        lock = getattr(database, "writer_lock", None)
        if lock is not None:
            lock.close()


def _acquire_database(directory: str, options: dict):
    key = os.path.realpath(directory)
    with _REGISTRY_LOCK:
        entry = _OPEN.get(key)
        if entry is not None and not entry[0].closed:
            _OPEN[key] = (entry[0], entry[1] + 1)
            return entry[0]
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            raise OperationalError(f"cannot use {directory} as a data directory: "
                                   f"{error.strerror or error}", sqlstate="58030") from None
        if not os.path.isdir(directory):
            raise OperationalError(f"cannot use {directory} as a data directory: not a "
                                   f"directory", sqlstate="58030")
        database = _open_database(directory, options)
        _OPEN[key] = (database, 1)
        return database


def _release_database(database) -> None:
    with _REGISTRY_LOCK:
        for key, (open_database, count) in list(_OPEN.items()):
            if open_database is database:
                if count <= 1:
                    del _OPEN[key]
                    _close_database(database)
                else:
                    _OPEN[key] = (open_database, count - 1)
                return
        _close_database(database)


@atexit.register
def _close_all() -> None:
    """Close every database still open at exit, while its background threads still run (a
    finalizer during interpreter shutdown could wait for a lock held by a frozen thread)."""
    with _REGISTRY_LOCK:
        databases = [database for database, _count in _OPEN.values()]
        _OPEN.clear()
    for database in databases:
        try:
            _close_database(database)
        except Exception:
            pass


class Connection:
    """A PEP 249 connection. The exception classes are reachable as attributes too."""

    Warning = errors.Warning
    Error = errors.Error
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self, database, *, autocommit: bool = False, owns_database: bool = True) -> None:
        self._database = database
        self._session = database.session()
        self._session.autocommit = autocommit
        self._owns_database = owns_database
        self._closed = False
        self._cursors: list = []

    # -- PEP 249 -------------------------------------------------------------------------------
    def cursor(self):
        from aurora_lite.dbapi._cursor import Cursor
        self._check()
        return Cursor(self)

    def commit(self) -> None:
        self._check()
        self._session.commit()

    def rollback(self) -> None:
        self._check()
        self._session.rollback()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._session.close()
        finally:
            self._closed = True
            if self._owns_database:
                _release_database(self._database)

    # -- extensions ------------------------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        return self._session.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._check()
        if value and self._session.in_transaction:
            self._session.commit()
        self._session.autocommit = bool(value)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_transaction(self) -> bool:
        return self._session.in_transaction

    def execute(self, sql: str, parameters=None):
        """Shortcut: a new cursor, executed (as sqlite3 offers)."""
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters):
        return self.cursor().executemany(sql, seq_of_parameters)

    def interrupt(self) -> None:
        """Cancel the statement running on this connection (callable from any thread)."""
        if not self._closed:
            self._session.interrupt()

    def statistics(self) -> dict:
        """commits, redo_records_shipped, redo_bytes_shipped, page_bytes_shipped, vdl, ..."""
        self._check()
        return self._database.statistics()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._closed:
            return
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")

    def __del__(self) -> None:
        if sys.is_finalizing():
            return
        try:
            self.close()
        except Exception:
            pass
