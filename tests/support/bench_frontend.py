"""Micro-benchmark of the SQL layers (not a test; bench/ holds the real benchmarks).

    .venv/bin/python -m tests.support.bench_frontend [--rows N] [--engine memory|aurora]

Reports, with sqlite3 measured in the same run:
* a cached point SELECT by primary key (total, and the engine's own lookup alone);
* a filtered aggregate over N rows: SELECT count(*), sum(b), avg(c) FROM t WHERE a > ?;
* a GROUP BY over N rows, and an equality join.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time

from aurora_lite import frontend
from tests.support.engines import open_session


def best(function, repeat: int = 5, number: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engine", default="memory")
    args = parser.parse_args()
    n = args.rows
    rows = [(i, i % 100, i * 3 % 1000, float(i % 7), f"name{i % 50}") for i in range(n)]
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c REAL, "
                 "s TEXT)")
    lite.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    lite.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, label TEXT)")
    lite.executemany("INSERT INTO d VALUES (?, ?)", [(i, f"l{i}") for i in range(100)])
    with open_session(args.engine) as session:
        frontend.execute(session, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, "
                                  "b INTEGER, c REAL, s TEXT)")
        frontend.execute(session, "CREATE TABLE d (id INTEGER PRIMARY KEY, label TEXT)")
        for start in range(0, n, 5000):
            with session.statement(writes=True):
                session.table("t").insert(rows[start:start + 5000])
        with session.statement(writes=True):
            session.table("d").insert([(i, f"l{i}") for i in range(100)])

        point = "SELECT * FROM t WHERE id = ?"
        frontend.execute(session, point, (5,))
        ours = best(lambda: list(frontend.execute(session, point, (n // 2,)).rows),
                    number=2000)
        theirs = best(lambda: lite.execute(point, (n // 2,)).fetchall(), number=2000)

        def raw_lookup():
            with session.statement(writes=False):
                session.table("t").lookup(session.read_view(), (n // 2,))
        raw = best(raw_lookup, number=2000)
        print(f"point select: {ours * 1e6:7.1f} us   (engine statement+lookup alone "
              f"{raw * 1e6:.1f} us, executor overhead {(ours - raw) * 1e6:.1f} us; "
              f"sqlite3 {theirs * 1e6:.1f} us)")

        queries = [
            ("filtered aggregate", "SELECT count(*), sum(b), avg(c) FROM t WHERE a > ?", (50,)),
            ("group by", "SELECT a, count(*), sum(b) FROM t GROUP BY a", ()),
            ("join", "SELECT d.label, count(*) FROM t JOIN d ON t.a = d.id WHERE t.b < ? "
                     "GROUP BY d.label", (100,)),
            ("order by limit", "SELECT id, b FROM t ORDER BY b DESC, id LIMIT 10", ()),
        ]
        for name, query, params in queries:
            mine = list(frontend.execute(session, query, params).rows)
            other = lite.execute(query, params).fetchall()
            if sorted(map(repr, mine)) != sorted(map(repr, other)):
                print(f"  ! results differ for {name}")
            ours = best(lambda: list(frontend.execute(session, query, params).rows), repeat=5)
            theirs = best(lambda: lite.execute(query, params).fetchall(), repeat=5)
            print(f"{name:20s} {ours * 1e3:8.2f} ms  sqlite3 {theirs * 1e3:7.2f} ms  "
                  f"ratio {theirs / ours:.2f}x  ({ours / n * 1e9:.0f} ns/row)")

        def scan_only():
            with session.statement(writes=False):
                view = session.read_view()
                for _ in session.table("t").scan(view):
                    pass
        raw = best(scan_only)
        print(f"engine scan alone    {raw * 1e3:8.2f} ms  ({raw / n * 1e9:.0f} ns/row)")


if __name__ == "__main__":
    main()
