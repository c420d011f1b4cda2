"""Running synthetic scripts through run_file on sqlite3: counts, hashing, labels, conditions,
halt, engine exceptions, the per-file timeout and the command line."""

import hashlib
import json
import pathlib
import sqlite3
import subprocess
import sys
import time

import pytest

import slt
from _slt import run_file

SLT = pathlib.Path(slt.__file__)


def _write(tmp_path, text, name="t.test"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run(tmp_path, text, engine="sqlite", **kwargs):
    return run_file(_write(tmp_path, text), slt.sqlite3_database, engine, **kwargs)


SETUP = ("statement ok\nCREATE TABLE t(a INTEGER, b TEXT)\n\n"
         "statement ok\nINSERT INTO t VALUES (1, 'x'), (2, ''), (3, NULL)\n\n")


def test_passing_and_failing_records_are_counted_and_the_run_goes_on(tmp_path):
    result = _run(tmp_path, SETUP +
                  "query IT rowsort\nSELECT a, b FROM t\n----\n1\nx\n2\n(empty)\n3\nNULL\n\n"
                  "query I nosort\nSELECT a FROM t ORDER BY a DESC\n----\n3\n2\n999\n\n"
                  "statement ok\nINSERT INTO missing VALUES (1)\n\n"
                  "statement error\nINSERT INTO missing VALUES (1)\n\n"
                  "statement error\nSELECT 1\n\n"
                  "query I\nSELECT count(*) FROM t\n----\n3\n")
    assert (result.passed, result.failed, result.skipped) == (5, 3, 0)
    assert [f.line for f in result.failures] == [17, 24, 30]
    wrong = result.failures[0]
    assert wrong.message == "wrong result"
    assert wrong.expected == ["3", "2", "999"] and wrong.got == ["3", "2", "1"]
    assert "missing" in result.failures[1].got[0]
    assert result.seconds >= 0


def test_each_file_gets_a_fresh_database(tmp_path):
    path = _write(tmp_path, SETUP)
    first = run_file(path, slt.sqlite3_database, "sqlite")
    second = run_file(path, slt.sqlite3_database, "sqlite")
    assert first.passed == second.passed == 2


def test_connect_may_return_a_plain_connection(tmp_path):
    result = run_file(_write(tmp_path, SETUP + "query I\nSELECT count(*) FROM t\n----\n3\n"),
                      lambda: sqlite3.connect(":memory:"), "sqlite")
    assert (result.passed, result.failed) == (3, 0)


def test_column_count_must_match_the_types(tmp_path):
    result = _run(tmp_path, "query I\nSELECT 1, 2\n----\n1\n2\n")
    assert result.failed == 1
    assert "2 columns" in result.failures[0].message


def test_hash_threshold_and_expected_hash(tmp_path):
    values = sorted(str(n) for n in range(1, 11))  # rowsort compares strings
    digest = hashlib.md5("".join(v + "\n" for v in values).encode()).hexdigest()
    query = ("query I rowsort\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
             "WHERE x < 10) SELECT x FROM c\n----\n")
    result = _run(tmp_path, "hash-threshold 8\n\n"
                  + query + f"10 values hashing to {digest}\n\n"
                  + query + f"10 values hashing to {'0' * 32}\n\n"
                  + query + f"9 values hashing to {digest}\n")
    assert (result.passed, result.failed) == (1, 2)
    assert result.failures[0].got == [f"10 values hashing to {digest}"]


def test_rowsort_sorts_rendered_strings_before_hashing(tmp_path):
    # rowsort compares rendered strings: "10" < "9"; the hash is of the sorted values.
    values = ["10", "9"]
    digest = hashlib.md5(b"10\n9\n").hexdigest()
    result = _run(tmp_path, "hash-threshold 1\n\nquery I rowsort\nSELECT 9 UNION ALL SELECT 10\n"
                            f"----\n2 values hashing to {digest}\n\n"
                            "query I rowsort\nSELECT 9 UNION ALL SELECT 10\n----\n"
                            + "\n".join(values) + "\n")
    assert (result.passed, result.failed) == (2, 0)


def test_queries_with_the_same_label_must_agree(tmp_path):
    result = _run(tmp_path, SETUP +
                  "query I rowsort label-1\nSELECT a FROM t WHERE a > 1\n----\n2\n3\n\n"
                  "query I rowsort label-1\nSELECT a FROM t WHERE NOT a <= 1\n----\n2\n3\n\n"
                  "query I rowsort label-1\nSELECT a FROM t WHERE a >= 1\n\n"
                  "query I rowsort label-2\nSELECT a FROM t WHERE a >= 1\n")
    assert (result.passed, result.failed) == (5, 1)
    failure = result.failures[0]
    assert "label-1" in failure.message and "line 7" in failure.message
    assert failure.line == 19


def test_skipif_onlyif_and_halt(tmp_path):
    text = ("onlyif sqlite\nstatement ok\nSELECT 1\n\n"
            "onlyif mysql\nstatement ok\nSELECT 1\n\n"
            "skipif postgresql\nstatement ok\nSELECT 1\n\n"
            "skipif mysql\nstatement ok\nSELECT 1\n\n"
            "onlyif postgresql\nhalt\n\n"
            "statement ok\nSELECT 1\n\n"
            "query I\nSELECT 1\n----\n1\n\n"
            "halt\n\n"
            "statement ok\nSELECT 1\n\n"
            "onlyif sqlite\nstatement ok\nSELECT 1\n")
    as_postgres = _run(tmp_path, text, engine="postgresql")
    # onlyif sqlite, onlyif mysql, skipif postgresql are skipped; the halt skips the last four.
    assert (as_postgres.passed, as_postgres.failed, as_postgres.skipped) == (1, 0, 7)
    as_sqlite = _run(tmp_path, text, engine="sqlite")
    assert (as_sqlite.passed, as_sqlite.failed, as_sqlite.skipped) == (5, 0, 3)


class _Cursor:
    """Wraps a sqlite3 cursor; a statement containing BOOM raises a non-database exception."""

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql):
        if "BOOM" in sql:
            raise RuntimeError("engine bug")
        if "SPIN" in sql:  # a runaway pure-Python engine without interrupt()
            while True:
                time.sleep(0.01)
        return self._cursor.execute(sql)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _Connection:
    def __init__(self):
        self._connection = sqlite3.connect(":memory:")

    def cursor(self):
        return _Cursor(self._connection.cursor())

    def commit(self):
        self._connection.commit()

    def rollback(self):
        self._connection.rollback()

    def close(self):
        self._connection.close()


def test_a_non_database_exception_fails_only_its_record(tmp_path):
    path = _write(tmp_path, "statement ok\nSELECT BOOM\n\nstatement error\nSELECT BOOM\n\n"
                            "query I\nSELECT BOOM\n----\n1\n\nquery I\nSELECT 1\n----\n1\n")
    result = run_file(path, _Connection, "sqlite")
    assert (result.passed, result.failed) == (1, 3)
    assert all("RuntimeError: engine bug" in f.message for f in result.failures)


def test_unparsable_records_fail(tmp_path):
    result = _run(tmp_path, "statement perhaps\nSELECT 1\n\nstatement ok\nSELECT 1\n")
    assert (result.passed, result.failed) == (1, 1)
    assert "unparsable" in result.failures[0].message


RUNAWAY = ("statement ok\nSELECT 1\n\n"
           "query I\n{spin}\n----\n1\n\n"
           "statement ok\nSELECT 1\n\n"
           "onlyif mysql\nstatement ok\nSELECT 1\n\n"
           "query I\nSELECT 1\n----\n1\n")


def test_timeout_interrupts_a_runaway_statement_and_fails_the_rest(tmp_path):
    spin = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c")
    started = time.monotonic()
    result = _run(tmp_path, RUNAWAY.format(spin=spin), timeout=0.5)
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert (result.passed, result.failed, result.skipped) == (1, 3, 1)
    assert "timeout" in result.failures[0].message
    assert all("timed out" in f.message for f in result.failures[1:])


def test_timeout_stops_a_pure_python_engine_without_interrupt(tmp_path):
    path = _write(tmp_path, RUNAWAY.format(spin="SELECT SPIN"))
    started = time.monotonic()
    result = run_file(path, _Connection, "postgresql", timeout=0.3)
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert (result.passed, result.failed, result.skipped) == (1, 3, 1)


def test_command_line_prints_counts_and_writes_json(tmp_path):
    good = _write(tmp_path, SETUP + "query I\nSELECT count(*) FROM t\n----\n3\n", "good.test")
    bad = _write(tmp_path, "query I\nSELECT 2\n----\n1\n\nonlyif mysql\nstatement ok\nx\n",
                 "bad.test")
    report = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(SLT), "--driver", "sqlite3", "--engine-name",
                           "sqlite", "--json", str(report), "-v", good, bad],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert f"{good}: 3 passed, 0 failed, 0 skipped" in proc.stdout
    assert f"{bad}: 0 passed, 1 failed, 1 skipped" in proc.stdout
    assert f"FAIL {bad}:1: wrong result" in proc.stdout
    assert "total (2 files): 3 passed, 1 failed, 1 skipped" in proc.stdout
    data = json.loads(report.read_text())
    assert set(data) == {"files", "total"}
    assert data["files"][good] == {"passed": 3, "failed": 0, "skipped": 0,
                                   "seconds": data["files"][good]["seconds"]}
    assert {k: data["total"][k] for k in ("passed", "failed", "skipped")} == \
        {"passed": 3, "failed": 1, "skipped": 1}
    assert data["total"]["seconds"] >= 0


def test_command_line_exit_status(tmp_path):
    good = _write(tmp_path, "statement ok\nSELECT 1\n")
    ok = subprocess.run([sys.executable, str(SLT), "--driver", "sqlite3", good],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run([sys.executable, str(SLT), "--driver", "sqlite3",
                              str(tmp_path / "nope.test")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_an_outer_alarm_is_restored_after_the_file(tmp_path):
    signal = pytest.importorskip("signal")
    if not hasattr(signal, "setitimer"):
        pytest.skip("no interval timers on this platform")
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        result = _run(tmp_path, "statement ok\nSELECT 1\n", timeout=5)
        assert result.passed == 1
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 20 < remaining <= 30  # put back, not cancelled
        assert signal.getsignal(signal.SIGALRM) is not None and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
