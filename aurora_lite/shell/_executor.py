"""Executing one statement through a DB-API connection and printing its result or error.

The executor knows nothing about the engine: it uses only PEP 249 calls (plus the common
extensions ``autocommit``, ``in_transaction``, ``transaction_status`` and ``interrupt`` when a
driver has them), so the shell works with aurora_lite, its remote driver, or sqlite3.

The shell behaves like psql: every statement outside an explicit transaction is committed
when it succeeds. The shell opens aurora_lite connections with ``autocommit=True``, so the
engine or the server runs BEGIN ... COMMIT itself and reports the transaction state. For a
driver without autocommit the executor commits after each statement outside an explicit
transaction (BEGIN / START TRANSACTION up to COMMIT / END / ROLLBACK / ABORT, which it tracks
by keyword) and rolls back one that failed.

Ctrl-C while a statement runs cancels it (``_cancel``); the statement fails with 57014 and is
reported like any other error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, TextIO

from aurora_lite.shell._cancel import CancelOnInterrupt
from aurora_lite.shell._formats import render, shows_tags
from aurora_lite.shell._messages import database_error_classes, error_lines

_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_OBJECT_MODIFIERS = {"OR", "REPLACE", "UNIQUE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL",
                     "LOCAL", "MATERIALIZED", "RECURSIVE"}
_TRANSACTION_START = {"BEGIN", "START"}
_TRANSACTION_END = {"COMMIT", "END", "ROLLBACK", "ABORT"}


def leading_words(sql: str, count: int = 4) -> list[str]:
    """The first words of ``sql`` in upper case, after leading comments."""
    match = _LEADING_COMMENTS.match(sql)
    body = sql[match.end() if match else 0:]
    return [word.upper() for word in re.findall(r"[A-Za-z_]+", body[:200])[:count]]


def command_tag(sql: str, cursor: Any) -> str:
    """The PostgreSQL-style completion tag of a statement that returned no rows."""
    for attribute in ("statusmessage", "command_tag"):
        tag = getattr(cursor, attribute, None)
        if isinstance(tag, str) and tag:
            return tag
    words = leading_words(sql, 6)
    if not words:
        return "OK"
    keyword = words[0]
    rowcount = max(getattr(cursor, "rowcount", -1) or 0, 0)
    if keyword == "INSERT":
        return f"INSERT 0 {rowcount}"
    if keyword in ("UPDATE", "DELETE", "MERGE"):
        return f"{keyword} {rowcount}"
    if keyword in ("CREATE", "DROP", "ALTER"):
        rest = [word for word in words[1:] if word not in _OBJECT_MODIFIERS]
        return f"{keyword} {rest[0]}" if rest else keyword
    if keyword == "START":
        return "START TRANSACTION"
    return {"END": "COMMIT", "ABORT": "ROLLBACK"}.get(keyword, keyword)


class Executor:
    """Runs statements on one connection, printing results to ``out`` and errors to ``err``.

    ``mode`` is the output mode (``_formats``); with ``timing`` on, each statement is followed
    by ``Time: 1.234 ms`` (execution and fetching, not printing).
    """

    def __init__(self, connection: Any, out: TextIO, err: TextIO) -> None:
        self.connection = connection
        self.out = out
        self.err = err
        self.failures = 0
        self.mode = "table"
        self.timing = False
        self._explicit = False  # BEGIN seen, for drivers that do not track it themselves
        self._database_errors = database_error_classes(connection)

    # -- transaction state -------------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        return getattr(self.connection, "autocommit", False) is True

    @property
    def in_transaction(self) -> bool:
        """True inside an explicit transaction (BEGIN ... COMMIT)."""
        if self.autocommit:
            return bool(getattr(self.connection, "in_transaction", False))
        return self._explicit

    def transaction_marker(self) -> str:
        """psql's prompt marker: '' idle, '*' in a transaction, '!' in a failed one."""
        status = getattr(self.connection, "transaction_status", None)
        if status == "E":
            return "!"
        return "*" if self.in_transaction else ""

    # -- running statements --------------------------------------------------------------------
    def execute(self, sql: str) -> bool:
        """Execute one statement; print its result or tag, or its error. True on success."""
        words = leading_words(sql, 2)
        connection = self.connection
        cancel = CancelOnInterrupt(connection)
        try:
            with cancel:
                started = time.perf_counter()
                names, rows, tag = self._run(sql)
                if not self.autocommit:
                    self._track_transaction(words)
                    if not self._explicit:
                        connection.commit()
                elapsed = time.perf_counter() - started
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - all become ERROR lines
            self._failed(words)
            if isinstance(exc, KeyboardInterrupt):
                self.report_lines(["ERROR:  canceling statement due to user request "
                                   "(SQLSTATE 57014)"])
            else:
                self.report_error(exc, sql)
            if cancel.failure is not None:
                self.report_error(cancel.failure, context="could not cancel: ")
            return False
        try:
            if names is not None:
                self.write_lines(render(self.mode, names, rows))
            elif shows_tags(self.mode):
                self.write_lines([tag])
            if self.timing:
                self.write_lines([f"Time: {elapsed * 1000:.3f} ms"])
        except KeyboardInterrupt:
            self.out.write("\n")
            self.report_lines(["ERROR:  output canceled by the user"])
            self.failures += 1
            return False
        return True

    def _run(self, sql: str) -> tuple[list[str] | None, list, str]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            if cursor.description is not None:
                names = [str(column[0]) for column in cursor.description]
                return names, list(cursor.fetchall()), ""
            return None, [], command_tag(sql, cursor)
        finally:
            try:
                cursor.close()
            except Exception:  # noqa: BLE001 - closing a cursor must not hide the result
                pass

    def _track_transaction(self, words: Sequence[str]) -> None:
        keyword = words[0] if words else ""
        if keyword in _TRANSACTION_START:
            self._explicit = True
        elif keyword in _TRANSACTION_END and list(words[1:2]) != ["TO"]:  # not ROLLBACK TO
            self._explicit = False

    def _failed(self, words: Sequence[str]) -> None:
        self.failures += 1
        if self.autocommit:
            return  # the engine or the server undid the statement and knows the state
        keyword = words[0] if words else ""
        if keyword in _TRANSACTION_END and list(words[1:2]) != ["TO"]:
            self._explicit = False  # a failed COMMIT still ends the transaction
        if not self._explicit:
            self.rollback_quietly()

    def rollback_quietly(self) -> None:
        try:
            self.connection.rollback()
        except Exception:  # noqa: BLE001 - the error being reported matters more
            pass

    # -- output ------------------------------------------------------------------------------
    def write_lines(self, lines: Sequence[str]) -> None:
        if lines:
            self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def report_lines(self, lines: Sequence[str]) -> None:
        self.err.write("\n".join(lines) + "\n")
        self.err.flush()

    def report_error(self, exc: BaseException, sql: str | None = None, *,
                     context: str = "") -> None:
        self.report_lines(self.error_lines(exc, sql, context=context))

    def error_lines(self, exc: BaseException, sql: str | None = None, *,
                    context: str = "") -> list[str]:
        return error_lines(exc, sql, database_errors=self._database_errors, context=context)
