"""Running one sqllogictest script against a fresh database through any DB-API connection.

Counting follows the corpus: one statement or query record is one test, and it is passed,
failed or skipped. Records guarded by a ``skipif``/``onlyif`` that excludes the engine are
skipped; so is every test after an applicable ``halt``. A test that raises something other than
a database error fails with that exception's message and the run goes on.

Each record runs as its own transaction: after it the runner commits (or rolls back after an
error), unless the connection reports ``autocommit`` as True.

A per-file timeout is enforced three ways, from gentlest to bluntest: the deadline is checked
before every record; at the deadline a watchdog thread calls ``connection.interrupt()`` when
the driver has it (sqlite3 does); and, when running on the main thread, SIGALRM a little later
raises inside a pure-Python engine that did not stop. Every test not yet run then fails.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from _slt._parser import Halt, HashThreshold, Query, Record, Statement, UnknownRecord, read_script
from _slt._render import hash_line, md5_of, render_rows, sorted_values

# After the watchdog's interrupt() the engine gets this long to stop on its own before SIGALRM.
INTERRUPT_GRACE_SECONDS = 1.0


@dataclass
class Failure:
    """One failed test: where, what ran, and what was expected versus what happened."""

    line: int
    sql: str
    message: str
    expected: list[str] = field(default_factory=list)
    got: list[str] = field(default_factory=list)


@dataclass
class FileResult:
    path: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    timed_out: bool = False
    failures: list[Failure] = field(default_factory=list)

    def counts(self) -> dict[str, float]:
        return {"passed": self.passed, "failed": self.failed, "skipped": self.skipped,
                "seconds": round(self.seconds, 3)}


class _FileTimeout(BaseException):
    """Raised by SIGALRM inside a runaway statement. BaseException so engines do not catch it."""


def _database_errors(connection: Any) -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    own = getattr(connection, "Error", None)
    if isinstance(own, type) and issubclass(own, BaseException):
        errors.append(own)
    try:
        from aurora_lite.errors import Error as AuroraError
    except ImportError:  # the runner also works where the package is not installed
        pass
    else:
        errors.append(AuroraError)
    return tuple(errors)


@contextlib.contextmanager
def _opened(connect: Callable[[], Any]):
    """``connect()`` may return a connection (closed here) or a context manager yielding one."""
    opened = connect()
    if hasattr(opened, "cursor"):
        try:
            yield opened
        finally:
            with contextlib.suppress(Exception):
                opened.close()
    else:
        with opened as connection:
            yield connection


def _format_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _FileRun:
    """The state of one file's run: connection, hash threshold, labels and the counts."""

    def __init__(self, result: FileResult, connection: Any,
                 on_failure: Callable[[str, Failure], None] | None) -> None:
        self.result = result
        self.connection = connection
        self.on_failure = on_failure
        self.db_errors = _database_errors(connection)
        self.autocommit = getattr(connection, "autocommit", None) is True
        self.hash_threshold = 0
        self.labels: dict[str, tuple[str, int]] = {}

    def fail(self, failure: Failure) -> None:
        self.result.failed += 1
        self.result.failures.append(failure)
        if self.on_failure is not None:
            self.on_failure(self.result.path, failure)

    def end_transaction(self, ok: bool) -> None:
        if self.autocommit:
            return
        if ok:
            self.connection.commit()
        else:
            with contextlib.suppress(Exception):
                self.connection.rollback()

    def run_test(self, record: Record) -> Failure | None:
        """Run one statement or query; None when it passed."""
        if isinstance(record, UnknownRecord):
            return Failure(record.line, record.text, f"unparsable record: {record.problem}")
        cursor = self.connection.cursor()
        try:
            if isinstance(record, Statement):
                return self._statement(cursor, record)
            assert isinstance(record, Query)
            return self._query(cursor, record)
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def _statement(self, cursor: Any, record: Statement) -> Failure | None:
        try:
            cursor.execute(record.sql)
            if cursor.description is not None:
                cursor.fetchall()  # run the statement to completion, as the corpus does
            self.end_transaction(ok=True)
        except self.db_errors as exc:
            self.end_transaction(ok=False)
            if record.expect_error:
                return None
            return Failure(record.line, record.sql, "statement failed", ["ok"],
                           [_format_exception(exc)])
        if record.expect_error:
            return Failure(record.line, record.sql, "statement succeeded but an error was "
                           "expected", ["error"], ["ok"])
        return None

    def _query(self, cursor: Any, record: Query) -> Failure | None:
        try:
            cursor.execute(record.sql)
            description = cursor.description
            rows = cursor.fetchall() if description is not None else []
            self.end_transaction(ok=True)
        except self.db_errors as exc:
            self.end_transaction(ok=False)
            return Failure(record.line, record.sql, "query failed",
                           list(record.expected or ()), [_format_exception(exc)])
        if description is None:
            return Failure(record.line, record.sql, "query returned no result set")
        if len(description) != len(record.types):
            return Failure(record.line, record.sql,
                           f"query returned {len(description)} columns, types "
                           f"{record.types!r} expect {len(record.types)}")
        values = sorted_values(render_rows(rows, record.types), record.sort)
        digest = md5_of(values)
        got = self._shown(values)
        if record.expected is not None:
            expected_hash = record.expected_hash
            if expected_hash is not None:
                matches = (len(values), digest) == expected_hash
                got = [hash_line(values)]
            else:
                matches = list(record.expected) == values
            if not matches:
                return Failure(record.line, record.sql, "wrong result",
                               list(record.expected), got)
        if record.label is not None:
            first = self.labels.setdefault(record.label, (digest, record.line))
            if first[0] != digest:
                return Failure(record.line, record.sql,
                               f"result differs from the first query labelled {record.label} "
                               f"(line {first[1]})", [f"hash {first[0]}"],
                               [f"hash {digest}"] + got)
        return None

    def _shown(self, values: Sequence[str]) -> list[str]:
        if self.hash_threshold and len(values) > self.hash_threshold:
            return [hash_line(values)]
        return list(values)


class _Watchdog:
    """Enforces the per-file deadline (see the module docstring)."""

    def __init__(self, timeout: float | None, connection: Any) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.fired = False
        self._timer: threading.Timer | None = None
        self._old_handler: Any = None
        self._alarm = False
        self._old_timer: tuple[float, float] = (0.0, 0.0)
        self._alarm_set_at = 0.0
        self.armed = False
        if timeout is None:
            return
        interrupt = getattr(connection, "interrupt", None)
        self._timer = threading.Timer(timeout, self._interrupt, args=(interrupt,))
        self._timer.daemon = True
        self._timer.start()
        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            delay = timeout + INTERRUPT_GRACE_SECONDS
            # Someone else's alarm (pytest-timeout, say) that is due first stays in charge;
            # a later one is put back, minus the time spent, when the file is done.
            pending, _ = signal.getitimer(signal.ITIMER_REAL)
            if not pending or pending > delay:
                self._old_handler = signal.signal(signal.SIGALRM, self._on_alarm)
                self._old_timer = signal.setitimer(signal.ITIMER_REAL, delay)
                self._alarm_set_at = time.monotonic()
                self._alarm = True

    def _interrupt(self, interrupt: Callable[[], None] | None) -> None:
        self.fired = True
        if interrupt is not None:
            with contextlib.suppress(Exception):
                interrupt()

    def _on_alarm(self, signum: int, frame: Any) -> None:
        self.fired = True
        # Raise only inside a test: elsewhere the loop sees ``fired`` before the next record,
        # and raising in the runner's own bookkeeping could count a test twice.
        if self.armed:
            self.armed = False
            raise _FileTimeout()

    def expired(self) -> bool:
        return self.fired or (self.deadline is not None and time.monotonic() >= self.deadline)

    def stop(self) -> None:
        if self._alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old_handler)
            self._alarm = False
            old_delay, old_interval = self._old_timer
            if old_delay:
                remaining = old_delay - (time.monotonic() - self._alarm_set_at)
                signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001), old_interval)
        if self._timer is not None:
            self._timer.cancel()


def _count_rest(records: Sequence[Record], engine_name: str, result: FileResult,
                as_failed: Callable[[Record], None] | None) -> None:
    """Count tests not run: skipped if excluded or after a halt; else ``as_failed`` (or skip)."""
    halted = False
    for record in records:
        if not record.is_test:
            halted = halted or (isinstance(record, Halt) and record.applies_to(engine_name))
            continue
        if halted or as_failed is None or not record.applies_to(engine_name):
            result.skipped += 1
        else:
            as_failed(record)


def run_file(path: str, connect: Callable[[], Any], engine_name: str = "postgresql", *,
             timeout: float | None = None,
             on_failure: Callable[[str, Failure], None] | None = None) -> FileResult:
    """Run the script at ``path`` on a fresh database from ``connect()``.

    ``connect`` returns a DB-API connection (closed afterwards) or a context manager that
    yields one. ``on_failure(path, failure)`` is called as each failure happens. Raises
    OSError when the file cannot be read.
    """
    records = read_script(path)
    result = FileResult(path)
    started = time.monotonic()
    try:
        with _opened(connect) as connection:
            _run_records(records, connection, engine_name, result, timeout, on_failure)
    except Exception as exc:  # noqa: BLE001 - the database could not be opened or closed
        if result.passed + result.failed + result.skipped == 0:
            message = f"could not open a database: {_format_exception(exc)}"
            run = _FileRun(result, None, on_failure)
            _count_rest(records, engine_name, result,
                        lambda record: run.fail(Failure(record.line, _sql(record), message)))
    result.seconds = time.monotonic() - started
    return result


def _sql(record: Record) -> str:
    return getattr(record, "sql", getattr(record, "text", ""))


def _run_records(records: Sequence[Record], connection: Any, engine_name: str,
                 result: FileResult, timeout: float | None,
                 on_failure: Callable[[str, Failure], None] | None) -> None:
    run = _FileRun(result, connection, on_failure)
    watchdog = _Watchdog(timeout, connection)
    index = 0  # the first record not yet counted

    def timed_out(record: Record) -> None:
        run.fail(Failure(record.line, _sql(record),
                         f"not run: the file timed out after {timeout} s"))

    try:
        while index < len(records):
            record = records[index]
            if watchdog.expired():
                result.timed_out = True
                _count_rest(records[index:], engine_name, result, timed_out)
                return
            if not record.applies_to(engine_name):
                result.skipped += record.is_test
            elif isinstance(record, Halt):
                _count_rest(records[index + 1:], engine_name, result, None)
                return
            elif isinstance(record, HashThreshold):
                run.hash_threshold = record.threshold
            else:
                failure = _run_guarded(run, watchdog, record)
                if failure is not None and watchdog.fired:
                    result.timed_out = True
                    failure.message = f"stopped by the file timeout ({timeout} s): " \
                                      f"{failure.message}"
                if failure is None:
                    result.passed += 1
                else:
                    run.fail(failure)
            index += 1
    finally:
        watchdog.stop()


def _run_guarded(run: _FileRun, watchdog: _Watchdog, record: Record) -> Failure | None:
    """Run one test; any exception, including the timeout alarm, becomes its failure."""
    try:
        watchdog.armed = True
        try:
            return run.run_test(record)
        finally:
            watchdog.armed = False
    except _FileTimeout:
        return Failure(record.line, _sql(record), "interrupted")
    except Exception as exc:  # noqa: BLE001 - an engine bug fails this test only
        with contextlib.suppress(Exception):
            run.connection.rollback()
        return Failure(record.line, _sql(record),
                       f"raised a non-database exception: {_format_exception(exc)}")
