"""Embedded engine against sqlite3: point selects, autocommit inserts, a bulk insert.

All engines run in the same run, on the same machine, with durable commits: sqlite3 in WAL
mode with synchronous=FULL; aurora_lite on its default storage (six segment processes, 4-of-6
quorum, fsync on every node) and on local storage (one in-process segment store, fsync per
group commit). Reported: medians over repeats, and aurora_lite's speed as a fraction of
sqlite3's.

    python bench/engine.py [--quick] [--json PATH] [--storage cluster,local]
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

import aurora_lite  # noqa: E402

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"


def _sqlite(directory: str) -> sqlite3.Connection:
    connection = sqlite3.connect(os.path.join(directory, "bench.db"), isolation_level=None,
                                 check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


STORAGE = {"aurora_lite": "cluster", "aurora_lite (local)": "local"}


def _aurora(kind: str, directory: str, autocommit: bool = False):
    return aurora_lite.connect(os.path.join(directory, "aurora"), autocommit=autocommit,
                               storage=STORAGE[kind])


def _rows(count: int, start: int = 0):
    return [(i, i % 1000, f"row-{i:08d}") for i in range(start, start + count)]


def bulk_insert(kind: str, count: int, repeats: int) -> _harness.Row:
    def setup():
        directory = tempfile.mkdtemp(prefix="bench-")
        if kind == "sqlite3":
            connection = _sqlite(directory)
            connection.execute(SCHEMA)
        else:
            connection = _aurora(kind, directory)
            connection.execute(SCHEMA)
            connection.commit()
        return directory, connection

    rows = _rows(count)

    def run(state):
        directory, connection = state
        cursor = connection.cursor()
        if kind == "sqlite3":
            cursor.execute("BEGIN")
            cursor.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
            cursor.execute("COMMIT")
        else:
            cursor.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
            connection.commit()
        connection.close()
        shutil.rmtree(directory, ignore_errors=True)

    seconds, times = _harness.median_time(run, repeats, setup)
    return _harness.Row(kind, seconds, count, times=times)


def point_select(kind: str, table_rows: int, lookups: int, repeats: int) -> _harness.Row:
    directory = tempfile.mkdtemp(prefix="bench-")
    try:
        if kind == "sqlite3":
            connection = _sqlite(directory)
            connection.execute(SCHEMA)
            connection.execute("BEGIN")
            connection.executemany("INSERT INTO t VALUES (?, ?, ?)", _rows(table_rows))
            connection.execute("COMMIT")
        else:
            connection = _aurora(kind, directory, autocommit=True)
            connection.execute(SCHEMA)
            connection.autocommit = False
            connection.executemany("INSERT INTO t VALUES (?, ?, ?)", _rows(table_rows))
            connection.commit()
            connection.autocommit = True
        rng = random.Random(42)
        keys = [rng.randrange(table_rows) for _ in range(lookups)]
        cursor = connection.cursor()

        def run():
            for key in keys:
                cursor.execute("SELECT id, a, b FROM t WHERE id = ?", (key,))
                if not cursor.fetchall():
                    raise AssertionError(f"row {key} missing")

        run()   # warm the statement cache and the buffer pool
        seconds, times = _harness.median_time(run, repeats)
        connection.close()
        return _harness.Row(kind, seconds, lookups, times=times)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def autocommit_insert(kind: str, count: int, repeats: int) -> _harness.Row:
    def setup():
        directory = tempfile.mkdtemp(prefix="bench-")
        if kind == "sqlite3":
            connection = _sqlite(directory)
        else:
            connection = _aurora(kind, directory, autocommit=True)
        connection.execute(SCHEMA)
        return directory, connection

    rows = _rows(count)

    def run(state):
        directory, connection = state
        cursor = connection.cursor()
        for row in rows:
            cursor.execute("INSERT INTO t VALUES (?, ?, ?)", row)
        connection.close()
        shutil.rmtree(directory, ignore_errors=True)

    seconds, times = _harness.median_time(run, repeats, setup)
    return _harness.Row(kind, seconds, count, times=times)


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0])
    parser.add_argument("--storage", default="cluster,local",
                        help="aurora_lite storage kinds to measure (comma-separated)")
    args = parser.parse_args()
    kinds = ["sqlite3"] + [name for name, storage in STORAGE.items()
                           if storage in args.storage.split(",")]
    repeats = _harness.repeats_of(args)
    bulk_rows = 20_000 if args.quick else 100_000
    table_rows = 10_000 if args.quick else 100_000
    lookups = 2_000 if args.quick else 20_000
    commits = 100 if args.quick else 500
    results: dict[str, list[_harness.Row]] = {}
    results["point_select"] = [point_select(kind, table_rows, lookups, repeats)
                               for kind in kinds]
    _harness.print_table(f"Point select by primary key ({lookups} lookups, {table_rows} rows)",
                         results["point_select"], "sqlite3", "selects")
    results["autocommit_insert"] = [autocommit_insert(kind, commits, repeats)
                                    for kind in kinds]
    _harness.print_table(f"Autocommit single-row INSERT ({commits} commits, fsync on)",
                         results["autocommit_insert"], "sqlite3", "commits")
    results["bulk_insert"] = [bulk_insert(kind, bulk_rows, repeats)
                              for kind in kinds]
    _harness.print_table(f"Bulk insert of {bulk_rows} rows in one transaction",
                         results["bulk_insert"], "sqlite3", "rows")
    print("\naurora_lite as a fraction of sqlite3 (higher is better):")
    for name, rows in results.items():
        for row in rows[1:]:
            print(f"  {name:<20} {row.name:<22} {rows[0].seconds / row.seconds:6.3f}x")
    if args.json:
        import json
        document = {"benchmark": "engine", "parameters": {
            "quick": args.quick, "repeats": repeats, "bulk_rows": bulk_rows,
            "table_rows": table_rows, "lookups": lookups, "commits": commits},
            "machine": _harness.machine(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "results": {name: [dict(name=row.name, seconds=row.seconds, units=row.units,
                                    per_second=row.per_second, times=row.times)
                               for row in rows] for name, rows in results.items()},
            "ratios_vs_sqlite3": {name: {row.name: rows[0].seconds / row.seconds
                                         for row in rows[1:]}
                                  for name, rows in results.items()}}
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
