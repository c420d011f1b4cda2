"""The replica's buffer pool against storage, in one process (no network, seeded).

A writer on a local volume runs random transactions (inserts, updates, deletes, big rows that
split pages, statements that fail and are voided, whole transactions rolled back, DDL); its
redo stream feeds a ReplicaPool whose storage is the writer's own volume. At every read point
the writer publishes, and at older read points kept alive, every page the replica gives a
reader must be byte for byte the page storage builds at that read point: cached pages that
followed the stream, versions kept by copy-on-write, pages loaded at the base and brought
forward with the window, pages dropped by a VOID (replication.md P5, P6)."""

from __future__ import annotations

import os
import random

import pytest

import aurora_lite
from aurora_lite.errors import IntegrityError
from aurora_lite.page import META_PAGE_ID, OFF_META_NEXT_PAGE, read_u64
from aurora_lite.replica._pool import ReplicaPool

pytestmark = pytest.mark.timeout(120)


def _seed() -> int:
    seed = int(os.environ.get("REPLICA_SEED", random.randrange(1 << 30)))
    print(f"seed {seed} (replay: REPLICA_SEED={seed})")
    return seed


class _Follower:
    """The stream as a replica sees it: records to the pool, read points once received."""

    def __init__(self, database, pool: ReplicaPool) -> None:
        self.database = database
        self.pool = pool
        self.announced: list[int] = []
        read_point, _catalog = database.follow_quietly(self.records, self.announced.append)
        pool.reset(read_point, read_point)
        self.read_point = read_point

    def records(self, buffer, last_lsn: int) -> None:
        self.pool.receive(bytes(buffer))

    def catch_up(self) -> list[int]:
        moved = [lsn for lsn in self.announced if lsn <= self.pool.received]
        self.announced[:] = [lsn for lsn in self.announced if lsn > self.pool.received]
        for lsn in moved:
            self.pool.advance(lsn)
            self.read_point = lsn
        return moved


def _check(database, pool: ReplicaPool, read_point: int, rng: random.Random,
           count: int) -> None:
    meta = database.volume.get_page(META_PAGE_ID, read_point)
    pages = read_u64(meta, OFF_META_NEXT_PAGE)
    for page_id in rng.sample(range(pages), min(count, pages)):
        expected = bytes(database.volume.get_page(page_id, read_point))
        got = bytes(pool.read(page_id, read_point).data)
        assert got == expected, f"page {page_id} differs at read point {read_point}"


def _transaction(cursor, connection, rng: random.Random, keys: set[int],
                 tables: list[str]) -> None:
    table = rng.choice(tables)
    written = set(keys)
    for _ in range(rng.randint(1, 6)):
        action = rng.random()
        key = rng.randrange(400)
        try:
            if action < 0.45:
                cursor.execute(f"INSERT INTO {table} VALUES (?, ?, ?)",
                               (key, rng.randrange(1000), "x" * rng.choice((5, 300, 2500))))
                written.add(key)
            elif action < 0.7:
                cursor.execute(f"UPDATE {table} SET n = n + 1, pad = ? WHERE id = ?",
                               ("y" * rng.choice((1, 900)), key))
            elif action < 0.85:
                cursor.execute(f"DELETE FROM {table} WHERE id >= ? AND id < ?",
                               (key, key + rng.randint(1, 20)))
            else:
                # A duplicate key fails after nothing or something was written: the statement
                # is voided, the transaction goes on.
                cursor.executemany(f"INSERT INTO {table} VALUES (?, 0, 'dup')",
                                   [(k,) for k in (key + 1000, key + 1000)])
        except IntegrityError:
            pass
    if rng.random() < 0.25:
        connection.rollback()
    else:
        connection.commit()


def test_pool_pages_equal_storage_pages_at_every_read_point(tmp_path):
    rng = random.Random(_seed())
    connection = aurora_lite.connect(str(tmp_path / "db"), storage="local", fsync=False)
    try:
        database = connection._database
        pool = ReplicaPool(lambda page, read_point: database.volume.get_page(page, read_point),
                           capacity=rng.choice((16, 24, 4096)), version_capacity=64)
        follower = _Follower(database, pool)
        cursor = connection.cursor()
        tables = ["t0"]
        cursor.execute("CREATE TABLE t0 (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)")
        cursor.execute("CREATE INDEX t0_n ON t0 (n)")
        connection.commit()
        kept: list[tuple[int, object]] = []       # old read points, held on the writer too
        for number in range(160):
            if rng.random() < 0.04:
                name = f"tx{number}"
                cursor.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, n INTEGER, "
                               f"pad TEXT)")
                tables.append(name)
                connection.commit()
            elif rng.random() < 0.02 and len(tables) > 1:
                cursor.execute(f"DROP TABLE {tables.pop()}")
                connection.commit()
            else:
                _transaction(cursor, connection, rng, set(), tables)
            announced = [lsn for lsn in follower.announced if lsn <= pool.received]
            if announced and rng.random() < 0.5:
                # A read point the replica has not made visible yet (the catalog is loaded
                # there before the read point moves).
                _check(database, pool, announced[-1], rng, 6)
            for lsn in follower.catch_up():
                _check(database, pool, lsn, rng, 8)
            if rng.random() < 0.1:
                kept.append((follower.read_point, database.snapshot(follower.read_point)))
                kept = kept[-4:]
            if kept and rng.random() < 0.3:
                old, _held = rng.choice(kept)
                _check(database, pool, old, rng, 8)
            pool.prune_versions(min([lsn for lsn, _ in kept] + [follower.read_point]))
        stats = pool.statistics()
        print(stats)
        assert stats["records_applied"] > 0 and stats["cow_copies"] > 0
        assert stats["base"] == follower.read_point > 100
        assert stats["apply_failures"] == 0
    finally:
        connection.close()
