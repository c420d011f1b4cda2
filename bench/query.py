"""Query speed: a filtered aggregate and a two-table join, against sqlite3 and sqlglot's executor.

The data: ``orders`` (100,000 rows; integer, real and text columns, integer primary key) and
``customers`` (5,000 rows). The queries:

* filtered aggregate: ``SELECT status, count(*), sum(amount), avg(quantity) FROM orders
  WHERE amount > 250.0 AND quantity < 40 GROUP BY status``
* join: ``SELECT c.region, count(*), sum(o.amount) FROM orders o JOIN customers c
  ON o.customer_id = c.id WHERE o.quantity < 25 GROUP BY c.region``

Contenders, measured in the same run and in turns (``_harness.interleaved_times``):

* aurora_lite through its DB-API driver, on local storage (``storage="local"``: the query
  reads pages from the buffer pool, which holds the whole table; ``--storage cluster`` runs
  the six-process cluster instead), statement cache warm;
* sqlite3 in memory (``:memory:``), the same schema and rows;
* sqlglot's pure-Python executor (``sqlglot.executor.execute``) on Python lists of dicts
  (timed once per repeat: it is slow).

Every contender's rows are checked against sqlite3's. Reported: median wall and CPU seconds,
and each contender's speed relative to aurora_lite (``x aurora``: above 1 is faster than
aurora_lite). Targets: aurora_lite at least 0.1x sqlite3, at least 10x sqlglot's executor.

    python bench/query.py [--quick] [--json PATH] [--repeats N] [--storage local|cluster]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

import aurora_lite  # noqa: E402

SCHEMA = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, region TEXT, "
    "credit REAL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, "
    "quantity INTEGER, status TEXT, note TEXT)",
]
QUERIES = {
    "filtered_aggregate": (
        "SELECT status, count(*), sum(amount), avg(quantity) FROM orders "
        "WHERE amount > 250.0 AND quantity < 40 GROUP BY status"),
    "join": (
        "SELECT c.region, count(*), sum(o.amount) FROM orders o JOIN customers c "
        "ON o.customer_id = c.id WHERE o.quantity < 25 GROUP BY c.region"),
}
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]
REGIONS = ["north", "south", "east", "west", "central", "islands"]


def make_data(orders: int, customers: int, seed: int = 7):
    rng = random.Random(seed)
    customer_rows = [(i, f"customer {i:05d}", rng.choice(REGIONS),
                      round(rng.uniform(0, 10_000), 2)) for i in range(customers)]
    order_rows = [(i, rng.randrange(customers), round(rng.uniform(1, 1000), 2),
                   rng.randrange(1, 50), rng.choice(STATUSES),
                   f"order note {rng.randrange(10 ** 6):06d}") for i in range(orders)]
    return customer_rows, order_rows


def _normal(rows) -> list[tuple]:
    """Rows made comparable across engines: sorted, floats rounded."""
    return sorted(tuple(round(value, 4) if isinstance(value, float) else value
                        for value in row) for row in rows)


class Aurora:
    name = "aurora_lite"

    def __init__(self, directory: str, storage: str, customers, orders) -> None:
        self.connection = aurora_lite.connect(os.path.join(directory, "aurora"),
                                              storage=storage, pool_pages=4096)
        cursor = self.connection.cursor()
        for statement in SCHEMA:
            cursor.execute(statement)
        cursor.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
        cursor.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)
        self.connection.commit()
        self.cursor = cursor

    def run(self, sql: str) -> list[tuple]:
        self.cursor.execute(sql)
        rows = self.cursor.fetchall()
        self.connection.commit()
        return rows

    def close(self) -> None:
        self.connection.close()


class Sqlite:
    name = "sqlite3 (memory)"

    def __init__(self, customers, orders) -> None:
        self.connection = sqlite3.connect(":memory:")
        for statement in SCHEMA:
            self.connection.execute(statement)
        self.connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
        self.connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)
        self.connection.commit()

    def run(self, sql: str) -> list[tuple]:
        return self.connection.execute(sql).fetchall()

    def close(self) -> None:
        self.connection.close()


class SqlglotExecutor:
    name = "sqlglot executor"

    def __init__(self, customers, orders) -> None:
        from sqlglot import executor
        self.execute = executor.execute
        self.tables = {
            "customers": [dict(zip(("id", "name", "region", "credit"), row))
                          for row in customers],
            "orders": [dict(zip(("id", "customer_id", "amount", "quantity", "status", "note"),
                                row)) for row in orders],
        }

    def run(self, sql: str) -> list[tuple]:
        return list(self.execute(sql, tables=self.tables).rows)

    def close(self) -> None:
        pass


def measure(contenders, sql: str, rounds: int) -> dict[str, _harness.Row]:
    expected = _normal(contenders[1].run(sql))
    for contender in contenders:
        got = _normal(contender.run(sql))      # also warms caches
        if got != expected:
            raise AssertionError(f"{contender.name} disagrees with sqlite3 on {sql!r}:\n"
                                 f"{got[:5]}\n{expected[:5]}")
    plan = [(contender.name, (lambda contender=contender: contender.run(sql)), None,
             1 if isinstance(contender, SqlglotExecutor) else 3) for contender in contenders]
    times = _harness.interleaved_times(plan, rounds)
    rows = {}
    for name, (wall, cpu) in times.items():
        rows[name] = _harness.Row(name, statistics.median(wall), 1, times=wall,
                                  cpu_seconds=statistics.median(cpu), cpu_times=cpu)
    return rows


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=3)
    parser.add_argument("--storage", default="local", choices=("local", "cluster"),
                        help="aurora_lite storage (default: local, in-process)")
    parser.add_argument("--orders", type=int, default=None,
                        help="rows in orders (default 100,000; quick: 20,000)")
    args = parser.parse_args()
    orders = args.orders or (20_000 if args.quick else 100_000)
    customers = max(orders // 20, 10)
    rounds = _harness.repeats_of(args)
    customer_rows, order_rows = make_data(orders, customers)
    directory = tempfile.mkdtemp(prefix="bench-query-")
    started = time.perf_counter()
    aurora = Aurora(directory, args.storage, customer_rows, order_rows)
    load_seconds = time.perf_counter() - started
    contenders = [aurora, Sqlite(customer_rows, order_rows),
                  SqlglotExecutor(customer_rows, order_rows)]
    print(f"{orders:,} orders, {customers:,} customers; aurora_lite storage={args.storage} "
          f"(loaded in {load_seconds:.1f} s); sqlite3 in memory; {rounds} rounds")
    results: dict[str, dict[str, _harness.Row]] = {}
    try:
        for name, sql in QUERIES.items():
            rows = measure(contenders, sql, rounds)
            results[name] = rows
            _harness.print_table(f"{name}: {sql}", list(rows.values()), aurora.name,
                                 "queries")
    finally:
        for contender in contenders:
            contender.close()
        shutil.rmtree(directory, ignore_errors=True)
    print("\naurora_lite speed relative to each peer (time of peer / time of aurora_lite):")
    summary = {}
    for name, rows in results.items():
        mine = rows[aurora.name]
        summary[name] = {}
        for peer in rows.values():
            if peer.name == aurora.name:
                continue
            ratio = peer.seconds / mine.seconds
            cpu_ratio = peer.cpu_seconds / mine.cpu_seconds
            summary[name][peer.name] = {"wall": ratio, "cpu": cpu_ratio}
            print(f"  {name:<20} vs {peer.name:<18} {ratio:9.3f}x (cpu {cpu_ratio:.3f}x)")
    if args.json:
        document = {
            "benchmark": "query",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": _harness.machine(),
            "parameters": {"quick": args.quick, "rounds": rounds, "orders": orders,
                           "customers": customers, "storage": args.storage,
                           "queries": QUERIES},
            "results": {name: {row.name: {"seconds": row.seconds, "cpu_seconds":
                                          row.cpu_seconds, "times": row.times,
                                          "cpu_times": row.cpu_times}
                               for row in rows.values()}
                        for name, rows in results.items()},
            "aurora_speed_relative_to": summary,
        }
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
