"""The project's own SQL (sql/): its sqllogictest files, the demo database and the workloads.

* Every ``sql/tests/*.slt`` runs through the runner's importable API (``run_file``) on a fresh
  database with in-process storage (``storage="local"``, as test_slt_engine.py does): no
  failure is allowed, and every file must pass at least one record.
* ``sql/tests/demo.slt`` carries a copy of ``sql/demo/schema.sql`` and ``data.sql``; the copy
  must match those files statement by statement.
* The demo is loaded through the DB-API (autocommit, as the shell runs it), then the example
  queries and the workload scripts run without an error and leave the figures they promise:
  the bank's total is conserved by the transfers, a rolled-back transaction leaves nothing,
  the SysBench-style workload keeps its 1000 rows. The statements are split with the
  engine's own splitter (``aurora_lite.frontend.split_statements``), as the shell splits them.
* A multi-statement transaction (BEGIN ... ROLLBACK, BEGIN ... COMMIT) through the DB-API: the
  slt runner commits after every record, so it cannot express one.
* The shell loads the demo and runs a workload exactly as sql/README.md tells users to.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

from _slt import Statement, read_script, run_file

REPO = pathlib.Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
SLT_FILES = sorted((SQL / "tests").glob("*.slt"))
SECONDS_PER_FILE = 120
SHELL_TIMEOUT = 120

DEMO_TOTAL_CENTS = 11141390          # sum(balance_cents) of the generated accounts


@contextlib.contextmanager
def _database():
    import aurora_lite
    with tempfile.TemporaryDirectory(prefix="project-slt-") as directory:
        connection = aurora_lite.connect(directory, storage="local")
        try:
            yield connection
        finally:
            connection.close()


def test_there_are_slt_files():
    assert len(SLT_FILES) >= 6, SLT_FILES


@pytest.mark.parametrize("path", SLT_FILES, ids=lambda path: path.name)
def test_slt_file_passes(path):
    failures = []
    result = run_file(str(path), _database, "postgresql", timeout=SECONDS_PER_FILE,
                      on_failure=lambda _path, failure: failures.append(failure))
    assert not result.timed_out, f"{path.name} did not finish in {SECONDS_PER_FILE} s"
    shown = [(f.line, f.sql, f.message, f.expected[:6], f.got[:6]) for f in failures[:5]]
    assert result.failed == 0, shown
    assert result.passed > 0


def _statements(path: pathlib.Path) -> list[str]:
    from aurora_lite.frontend import split_statements
    return split_statements(path.read_text(encoding="utf-8"))


def _without_comment_lines(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines()
                     if not line.lstrip().startswith("--")).strip()


def test_demo_slt_holds_the_demo_schema_and_data():
    expected = [_without_comment_lines(sql)
                for name in ("schema.sql", "data.sql") for sql in _statements(SQL / "demo" / name)]
    records = [record for record in read_script(str(SQL / "tests" / "demo.slt"))
               if isinstance(record, Statement)]
    copied = [record.sql.strip() for record in records[:len(expected)]]
    assert copied == expected, ("sql/tests/demo.slt no longer matches sql/demo/schema.sql and "
                                "data.sql: paste the new statements in and recheck its results")
    assert all(not record.expect_error for record in records[:len(expected)])


def _run_script(connection, path: pathlib.Path) -> list[tuple[str, list[tuple]]]:
    """Run every statement of the file; return (SQL, rows) of those that return rows."""
    results = []
    for sql in _statements(path):
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
        except Exception as exc:  # noqa: BLE001 - name the statement that failed
            raise AssertionError(f"{path.relative_to(REPO)}: {sql!r} failed: {exc}") from exc
        if cursor.description is not None:
            results.append((sql, cursor.fetchall()))
        cursor.close()
    assert not connection.in_transaction, f"{path.name} left a transaction open"
    return results


def _one(connection, sql: str) -> tuple:
    rows = connection.execute(sql).fetchall()
    assert len(rows) == 1, (sql, rows)
    return tuple(rows[0])


@contextlib.contextmanager
def _demo_database():
    """A fresh demo database on the DB-API, in autocommit mode like the shell."""
    import aurora_lite
    with tempfile.TemporaryDirectory(prefix="project-demo-") as directory:
        connection = aurora_lite.connect(directory, storage="local", autocommit=True)
        try:
            _run_script(connection, SQL / "demo" / "schema.sql")
            _run_script(connection, SQL / "demo" / "data.sql")
            yield connection
        finally:
            connection.close()


@pytest.fixture(scope="module")
def demo():
    """Shared by the tests that leave the demo's figures as they found them."""
    with _demo_database() as connection:
        yield connection


@pytest.fixture
def fresh_demo():
    with _demo_database() as connection:
        yield connection


def test_demo_data_and_example_queries(demo):
    assert _one(demo, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM products),"
                      " (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),"
                      " (SELECT count(*) FROM accounts), (SELECT count(*) FROM transfers)") \
        == (80, 30, 240, 589, 80, 0)
    assert _one(demo, "SELECT sum(balance_cents) FROM accounts") == (DEMO_TOTAL_CENTS,)
    results = _run_script(demo, SQL / "demo" / "queries.sql")
    rows = [rows for _sql, rows in results]
    assert rows[0] == [(80, 30, 240, 589)]
    assert rows[1] == [("shipped", 176), ("paid", 30), ("cancelled", 22), ("new", 12)]
    assert len(rows[4]) == 27                       # customers who never ordered
    assert rows[5] == [(27,)]
    assert [row[0] for row in rows[7]] == [6, 10, 21]  # products never ordered
    # EXPLAIN shows the index range scan on placed_at, a primary-key lookup and an index lookup.
    plans = ["\n".join(row[0] for row in rows) for sql, rows in results
             if sql.lstrip().upper().startswith("EXPLAIN")]
    assert len(plans) == 3, plans
    assert "Index Scan using orders_placed_at" in plans[0], plans[0]
    assert "PK Lookup on customers" in plans[1], plans[1]
    assert "Index Scan using orders_customer" in plans[2], plans[2]


def test_workloads_keep_their_promises(fresh_demo):
    demo = fresh_demo
    _run_script(demo, SQL / "workloads" / "bank_transfers.sql")
    assert _one(demo, "SELECT sum(balance_cents), count(*) FROM accounts") == (DEMO_TOTAL_CENTS, 80)
    assert _one(demo, "SELECT count(*), sum(amount_cents) FROM transfers") == (20, 95275)
    assert _one(demo, "SELECT count(*) FROM transfers WHERE memo = 'never happened'") == (0,)
    # The guarded transfer moved 500.00 euros from 1058 to 1012 (after the ledger's transfers).
    assert _one(demo, "SELECT balance_cents FROM accounts WHERE id = 1058") == (30102,)
    # The script runs again: ledger ids go on, the total still holds.
    _run_script(demo, SQL / "workloads" / "bank_transfers.sql")
    assert _one(demo, "SELECT count(*), count(DISTINCT id), max(id) FROM transfers") == (40, 40, 40)
    assert _one(demo, "SELECT sum(balance_cents) FROM accounts") == (DEMO_TOTAL_CENTS,)

    _run_script(demo, SQL / "workloads" / "place_orders.sql")
    assert _one(demo, "SELECT count(*) FROM orders") == (243,)
    assert _one(demo, "SELECT count(*) FROM orders WHERE note = 'abandoned'") == (0,)
    assert demo.execute("SELECT status, count(*) FROM orders GROUP BY status ORDER BY status") \
        .fetchall() == [("cancelled", 22), ("new", 14), ("shipped", 207)]
    assert demo.execute("SELECT sku, stock FROM products WHERE sku IN ('BK-101', 'GD-101', "
                        "'KT-101', 'KT-105', 'TY-102') ORDER BY sku").fetchall() \
        == [("BK-101", 127), ("GD-101", 157), ("KT-101", 118), ("KT-105", 130), ("TY-102", 126)]
    rows = demo.execute("SELECT order_id, line_count, items, total FROM order_totals "
                        "WHERE order_id > 1240 ORDER BY order_id").fetchall()
    assert [row[:3] for row in rows] == [(1241, 2, 3), (1242, 2, 4), (1243, 1, 1)]
    assert [round(row[3], 2) for row in rows] == [64.97, 150.26, 3.99]

    for _ in range(2):   # it rebuilds its table, so a second run ends in the same state
        results = [rows for _sql, rows in
                   _run_script(demo, SQL / "workloads" / "oltp_write_only.sql")]
        assert results[0] == [(1000, 500500, 1000)]
        assert _one(demo, "SELECT count(*), min(id), max(id), count(DISTINCT id), sum(k) "
                          "FROM sbtest1") == (1000, 1, 1000, 1000, 501516)
        assert results[-2] == [(51,)]
        assert "Index Only Scan using k_1" in "\n".join(row[0] for row in results[-1])


def test_begin_rollback_leaves_nothing_and_commit_keeps_everything(demo):
    total = _one(demo, "SELECT sum(balance_cents) FROM accounts")[0]
    before = demo.execute("SELECT id, balance_cents FROM accounts ORDER BY id").fetchall()
    demo.execute("BEGIN")
    demo.execute("UPDATE accounts SET balance_cents = balance_cents - 777 WHERE id = 1001")
    demo.execute("UPDATE accounts SET balance_cents = balance_cents + 777 WHERE id = 1002")
    demo.execute("INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at)"
                 " VALUES (9001, 1001, 1002, 777, '2025-07-02 10:00:00')")
    demo.execute("DELETE FROM accounts WHERE id = 1003")
    assert _one(demo, "SELECT count(*) FROM accounts") == (79,)   # seen inside the transaction
    demo.execute("ROLLBACK")
    assert demo.execute("SELECT id, balance_cents FROM accounts ORDER BY id").fetchall() == before
    assert _one(demo, "SELECT count(*) FROM transfers WHERE id = 9001") == (0,)

    demo.execute("BEGIN")
    demo.execute("UPDATE accounts SET balance_cents = balance_cents - 777 WHERE id = 1001")
    demo.execute("UPDATE accounts SET balance_cents = balance_cents + 777 WHERE id = 1002")
    demo.execute("COMMIT")
    after = dict(demo.execute("SELECT id, balance_cents FROM accounts").fetchall())
    assert after[1001] == dict(before)[1001] - 777
    assert after[1002] == dict(before)[1002] + 777
    assert _one(demo, "SELECT sum(balance_cents) FROM accounts") == (total,)


def test_shell_loads_the_demo_and_runs_a_workload(tmp_path):
    """The commands of sql/README.md: -f for the demo, a workload piped into standard input."""
    env = dict(os.environ, AURORA_LITE_STORAGE="local",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    data = tmp_path / "demo-db"
    command = [sys.executable, "-m", "aurora_lite", "shell", str(data),
               "-f", str(SQL / "demo" / "schema.sql"), "-f", str(SQL / "demo" / "data.sql"),
               "-f", "-", "-c", ".mode csv",
               "-c", "SELECT count(*) AS transfers, sum(amount_cents) AS moved FROM transfers",
               "-c", "SELECT sum(balance_cents) AS total FROM accounts"]
    proc = subprocess.run(command, input=(SQL / "workloads" / "bank_transfers.sql").read_text(),
                          capture_output=True, text=True, timeout=SHELL_TIMEOUT, cwd=REPO,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.endswith(f"transfers,moved\n20,95275\ntotal\n{DEMO_TOTAL_CENTS}\n"), \
        proc.stdout[-400:]
    assert "ROLLBACK" in proc.stdout
