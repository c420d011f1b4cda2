"""SQL workloads for the storage-tier tests on real node processes: open a writer on a cluster
directory, run statements, and threads that commit single-row INSERTs in autocommit while a
test kills, wipes, stops or cuts off storage nodes, remembering every acknowledged row.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Callable, Iterable, Iterator

from aurora_lite.dbapi import Connection
from aurora_lite.txn import Database
from aurora_lite.volume import ClusterVolume

_DATABASE_OPTIONS = ("commit_timeout", "pool_pages", "lock_timeout")


def random_seed() -> int:
    """A random seed (or AURORA_TEST_SEED), printed so that a failure can be replayed."""
    value = int(os.environ.get("AURORA_TEST_SEED") or random.randrange(1 << 32))
    print(f"random seed {value} (replay: AURORA_TEST_SEED={value})")
    return value


def open_database(directory: str, *, volume_class=ClusterVolume, **options) -> Database:
    """A writer (Database on a ClusterVolume) for the cluster in ``directory``; ``options``
    go to the volume, except commit_timeout / pool_pages / lock_timeout."""
    database_options = {key: options.pop(key) for key in list(options)
                        if key in _DATABASE_OPTIONS}
    options.setdefault("open_timeout", 20.0)
    volume = volume_class.from_directory(directory, **options)
    return Database.open(volume=volume, **database_options)


def rows(database: Database, sql: str, parameters=()) -> list[tuple]:
    """Run ``sql`` in autocommit; its rows (an empty list for statements without rows)."""
    connection = Connection(database, autocommit=True, owns_database=False)
    try:
        cursor = connection.execute(sql, parameters)
        return cursor.fetchall() if cursor.description is not None else []
    finally:
        connection.close()


def insert_many(connection, sql: str, values: list[tuple]) -> None:
    """``values`` in one transaction (autocommit would pay a quorum round trip per row)."""
    connection.autocommit = False
    connection.executemany(sql, values)
    connection.commit()
    connection.autocommit = True


class InsertWorkload:
    """Threads inserting single rows in autocommit; remembers the acknowledged ids.

    ``connect()`` gives each thread its DB-API connection (default: a Connection on
    ``database``); ``ids`` the row ids to insert (default: ``start``, ``start + 1``, ...);
    ``row(id)`` the inserted values (default ``(id, id % 7)``)."""

    def __init__(self, database: Database | None, table: str, threads: int, start: int = 0, *,
                 connect: Callable[[], object] | None = None, ids: Iterable[int] | None = None,
                 row: Callable[[int], tuple] | None = None) -> None:
        if connect is None:
            if database is None:
                raise ValueError("a database or a connect function is needed")

            def connect() -> Connection:
                return Connection(database, autocommit=True, owns_database=False)
        self.connect = connect
        self.table = table
        self.row = row or (lambda row_id: (row_id, row_id % 7))
        self.acknowledged: set[int] = set()
        self.errors: list[BaseException] = []
        self._ids: Iterator[int] = iter(ids) if ids is not None else iter(
            range(start, start + 10**9))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        connection = self.connect()
        connection.autocommit = True
        cursor = connection.cursor()
        try:
            while not self._stop.is_set():
                with self._lock:
                    row_id = next(self._ids, None)
                if row_id is None:
                    return
                values = self.row(row_id)
                marks = ", ".join("?" for _ in values)
                try:
                    cursor.execute(f"INSERT INTO {self.table} VALUES ({marks})", values)
                except BaseException as exc:  # noqa: BLE001 - the test reports them
                    self.errors.append(exc)
                    return
                with self._lock:
                    self.acknowledged.add(row_id)
        finally:
            connection.close()

    @property
    def count(self) -> int:
        return len(self.acknowledged)

    def start(self) -> "InsertWorkload":
        for thread in self._threads:
            thread.start()
        return self

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` more commits are acknowledged (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        target = len(self.acknowledged) + count
        while len(self.acknowledged) < target and not self.errors:
            assert time.monotonic() < deadline, \
                f"only {len(self.acknowledged)} of {target} commits after {timeout:g} s"
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in self._threads), \
            "a workload thread did not stop within 60 s"
