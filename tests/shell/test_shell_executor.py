"""The executor over DB-API connections: tables, command tags, errors, transactions, output
modes and timing."""

import io
import re
import sqlite3

from aurora_lite.errors import ProgrammingError
from aurora_lite.shell import Executor, command_tag


def _executor(connection):
    out, err = io.StringIO(), io.StringIO()
    return Executor(connection, out, err), out, err


def test_results_and_command_tags():
    executor, out, err = _executor(sqlite3.connect(":memory:", isolation_level=None))
    for sql in ("CREATE TABLE t(a INTEGER, b TEXT)", "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
                "UPDATE t SET b = 'z' WHERE a = 2", "SELECT a, b FROM t ORDER BY a",
                "DELETE FROM t", "CREATE UNIQUE INDEX i ON t(a)", "DROP TABLE t"):
        assert executor.execute(sql)
    assert out.getvalue() == (
        "CREATE TABLE\nINSERT 0 2\nUPDATE 1\n"
        " a | b\n---+---\n 1 | x\n 2 | z\n(2 rows)\n\n"
        "DELETE 2\nCREATE INDEX\nDROP TABLE\n")
    assert err.getvalue() == "" and executor.failures == 0


def test_a_driver_supplied_tag_wins():
    class Cursor:
        statusmessage = "SELECT 0"
        rowcount = 5
    assert command_tag("insert into t values (1)", Cursor()) == "SELECT 0"
    assert command_tag("/* c */ -- d\n insert into t values (1)", object()) == "INSERT 0 0"


def test_each_statement_commits_unless_a_transaction_is_open(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    # The default sqlite3 mode opens transactions implicitly, as PEP 249 drivers do.
    executor, out, err = _executor(sqlite3.connect(path))
    other = sqlite3.connect(path)
    executor.execute("CREATE TABLE t(a INTEGER)")
    executor.execute("INSERT INTO t VALUES (1)")
    assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)
    executor.execute("BEGIN")
    executor.execute("INSERT INTO t VALUES (2)")
    assert executor.in_transaction
    executor.execute("ROLLBACK")
    assert not executor.in_transaction
    assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)
    assert err.getvalue() == ""


def test_a_failed_statement_is_rolled_back_and_reported():
    executor, out, err = _executor(sqlite3.connect(":memory:"))
    assert not executor.execute("SELECT * FROM missing")
    assert err.getvalue() == "ERROR:  no such table: missing\n"
    assert executor.failures == 1
    assert executor.execute("SELECT 1 AS one")


class _Failing:
    """A connection whose statements raise ``error``; it records rollbacks."""

    Error = ProgrammingError

    def __init__(self, error):
        self.error = error
        self.rollbacks = 0

    def cursor(self):
        connection = self

        class Cursor:
            def execute(self, sql):
                raise connection.error

            def close(self):
                pass
        return Cursor()

    def commit(self):
        pass

    def rollback(self):
        self.rollbacks += 1


def test_sqlstate_and_position_are_shown():
    connection = _Failing(ProgrammingError('syntax error at or near "frm"', sqlstate="42601",
                                           position=19))
    executor, out, err = _executor(connection)
    assert not executor.execute("select 1\nselect 2 frm x")
    assert err.getvalue().splitlines() == [
        'ERROR:  syntax error at or near "frm" (SQLSTATE 42601)',
        "LINE 2: select 2 frm x",
        "                 ^",
    ]
    assert connection.rollbacks == 1


def test_non_database_exceptions_are_reported_without_traceback():
    executor, out, err = _executor(_Failing(RuntimeError("boom")))
    assert not executor.execute("select 1")
    assert err.getvalue() == "ERROR:  internal error (RuntimeError): boom\n"


def test_output_modes_and_tags():
    executor, out, err = _executor(sqlite3.connect(":memory:", isolation_level=None))
    executor.mode = "csv"
    assert executor.execute("CREATE TABLE t(a INTEGER, b TEXT)")
    assert executor.execute("INSERT INTO t VALUES (1, 'x,y')")
    assert executor.execute("SELECT a, b FROM t")
    assert out.getvalue() == 'a,b\n1,"x,y"\n'  # no tags: csv stays machine-readable
    executor.mode = "line"
    assert executor.execute("DELETE FROM t")
    assert out.getvalue().endswith("DELETE 1\n")


def test_timing_follows_each_statement():
    executor, out, err = _executor(sqlite3.connect(":memory:"))
    executor.timing = True
    assert executor.execute("SELECT 1 AS one")
    lines = out.getvalue().splitlines()
    assert lines[:4] == [" one", "-----", "   1", "(1 row)"]
    assert re.fullmatch(r"Time: \d+\.\d{3} ms", lines[-1])


class _Autocommitting:
    """A driver that commits by itself and reports its transaction status (as aurora_lite's
    drivers do with autocommit=True); commit()/rollback() must not be called."""

    Error = ProgrammingError
    autocommit = True

    def __init__(self):
        self.transaction_status = "I"

    @property
    def in_transaction(self):
        return self.transaction_status != "I"

    def cursor(self):
        connection = self

        class Cursor:
            description = None
            rowcount = -1

            def execute(self, sql):
                if sql == "BEGIN":
                    connection.transaction_status = "T"
                elif sql == "fail":
                    connection.transaction_status = "E"
                    raise ProgrammingError("failed", sqlstate="42000")
                self.command_tag = sql

            def close(self):
                pass
        return Cursor()

    def commit(self):
        raise AssertionError("the executor must not commit for an autocommit driver")

    rollback = commit


def test_an_autocommit_driver_keeps_its_own_transaction_state():
    connection = _Autocommitting()
    executor, out, err = _executor(connection)
    assert executor.transaction_marker() == ""
    assert executor.execute("BEGIN")
    assert executor.transaction_marker() == "*" and executor.in_transaction
    assert not executor.execute("fail")
    assert executor.transaction_marker() == "!"
    assert err.getvalue() == "ERROR:  failed (SQLSTATE 42000)\n"
