"""Running statements on a connection: transactions, the simple Query protocol, SQL cursors.

A mixin of ``ClientConnection`` (``_connection``); it uses the connection's session, portals
and output. Transactions follow PostgreSQL. Outside BEGIN, the statements of one Query
message, or of the extended-protocol messages up to a Sync, form one implicit transaction: it
commits at the end (or at Sync) and rolls back entirely when one of them fails. Inside BEGIN,
a failed statement leaves the block in the failed state 'E', where everything but ROLLBACK /
COMMIT (which then rolls back) fails with 25P02. A lone statement runs with the session's
autocommit: the same meaning, one worker-thread call fewer.

A statement runs in a worker thread (the engine is synchronous) unless it is a read whose
recent runs were short (``_costs``): then it runs on the event loop, saving the thread round
trip. Rows are fetched and encoded ``batch_rows`` at a time and sent as they come.
"""

from __future__ import annotations

import itertools
import logging
import time

from aurora_lite.dbapi._pg import (
    CommandComplete, EmptyQueryResponse, ParameterStatus, Query, ReadyForQuery, encode,
    leading_keyword, split_statements,
)
from aurora_lite.errors import Error, InternalError, ProgrammingError
from aurora_lite.exec import Result
from aurora_lite.server import _cursors, _portal
from aurora_lite.server._portal import Portal, Statement

log = logging.getLogger("aurora_lite.server")

READY = {status: encode(ReadyForQuery(status)) for status in "ITE"}
_PORTAL_SUSPENDED = b"s\x00\x00\x00\x04"
_BEGIN_WORDS = frozenset({"BEGIN", "START"})
END_WORDS = frozenset({"COMMIT", "END", "ROLLBACK", "ABORT"})
_SETTING_WORDS = frozenset({"SET", "SHOW", "RESET"})


def _count(rows) -> int:
    return sum(1 for _ in rows)


def internal_error(error: BaseException) -> Error:
    """What a client sees of an exception that is not an aurora_lite error (a bug): a message,
    never a traceback (the traceback goes to the log)."""
    if isinstance(error, Error):
        return error
    if isinstance(error, RecursionError):
        return ProgrammingError("statement is too deeply nested", sqlstate="54001")
    if isinstance(error, MemoryError):
        return InternalError("out of memory while running the statement", sqlstate="53200")
    log.error("internal error", exc_info=error)
    return InternalError(f"internal error: {type(error).__name__}: {error}")


class StatementRunner:
    # -- transactions -----------------------------------------------------------------------------
    def _open_group(self, single: bool) -> None:
        """Before a statement: outside any transaction, decide who commits it."""
        if self.session.in_transaction or self.group:
            return
        if single:
            self.session.autocommit = True
        else:
            self.session.autocommit = False
            self.group = True

    async def _end_group(self) -> None:
        """End of a Query message or Sync: commit the implicit transaction."""
        if not self.group:
            return
        self.group = False
        session = self.session
        try:
            if session.in_transaction and not self.explicit and not self.failed:
                if session.in_write_transaction:
                    await self.in_thread(session.commit)
                else:
                    session.commit()  # a reader's commit only lets go of its snapshot
        except Exception as error:  # noqa: BLE001 - reported to the client
            self.write_error(error)
            await self._after_error()
        finally:
            session.autocommit = True

    async def _rollback(self) -> None:
        session = self.session
        if session.in_write_transaction:
            await self.in_thread(session.rollback)
        else:
            session.rollback()

    async def _after_error(self) -> None:
        """A statement failed: the block fails ('E'), or the implicit transaction ends."""
        session = self.session
        if not session.in_transaction:
            self.explicit = self.failed = False
            return
        if self.explicit:
            self.failed = True
            return
        try:
            await self._rollback()
        except Exception as error:  # noqa: BLE001 - the session is unusable; say so
            self.write_error(error)

    def _track(self, keyword: str) -> None:
        if keyword in _BEGIN_WORDS:
            self.explicit = True
        elif keyword in END_WORDS:
            self.explicit = False
        if not self.session.in_transaction:
            self.explicit = self.failed = False

    # -- running one statement -------------------------------------------------------------------
    async def _start(self, portal: Portal, single: bool, prefetch: int) -> None:
        """Execute a portal's statement and fetch its first ``prefetch`` rows."""
        statement = portal.statement
        keyword = statement.keyword
        if self.failed:
            if keyword in END_WORDS:
                await self._rollback()
                self.explicit = self.failed = False
                _portal.start(portal, Result(command_tag="ROLLBACK"))
                return
            raise InternalError("current transaction is aborted, commands ignored until end "
                                "of transaction block", sqlstate="25P02")
        if keyword in _cursors.CURSOR_KEYWORDS:
            command = _cursors.parse(statement.sql)
            if command is not None:
                await self._cursor_command(portal, command, single, prefetch)
                return
        if keyword in _SETTING_WORDS:
            result = self.settings.handle(statement.sql)
            if result is not None:
                _portal.start(portal, result)
                return
        self._open_group(single)
        if self.server.costs.inline(statement.sql, keyword) and \
                not self.session.in_write_transaction:
            try:
                self._execute(portal, prefetch)
            except Error:
                raise
            except Exception as error:  # noqa: BLE001 - the boundary that turns bugs into errors
                raise internal_error(error) from None
        else:
            await self.in_thread(self._execute, portal, prefetch)
        self.server.count("statements")
        self._track(keyword)

    async def _cursor_command(self, portal: Portal, command, single: bool,
                              prefetch: int) -> None:
        if isinstance(command, _cursors.Declare):
            name = command.name
            if name in self.portals:
                raise ProgrammingError(f'cursor "{name}" already exists', sqlstate="42P03")
            if not command.hold and not self.explicit:
                raise InternalError("DECLARE CURSOR can only be used in transaction blocks",
                                    sqlstate="25P01")
            keyword = leading_keyword(command.query)
            if keyword not in _portal.ROW_KEYWORDS:
                raise ProgrammingError(f"cannot open {keyword or 'this'} query as cursor",
                                       sqlstate="42P11")
            query = Statement(name, command.query, portal.statement.param_oids, keyword, -1)
            cursor = Portal(name, query, portal.params, (1,) if command.binary else (),
                            cursor=True, hold=command.hold)
            self._open_group(single)
            try:
                await self.in_thread(self._execute, cursor, 0)
            except Error as error:
                if error.position:
                    error.position += command.query_offset
                raise
            if command.hold and cursor.lazy_writer:
                await self.in_thread(_portal.materialize, cursor)
            self.portals[name] = cursor
            _portal.start(portal, Result(command_tag="DECLARE CURSOR"))
        elif isinstance(command, _cursors.Fetch):
            cursor = self.portals.get(command.name)
            if cursor is None:
                raise ProgrammingError(f'cursor "{command.name}" does not exist',
                                       sqlstate="34000")
            if cursor.result is None or cursor.result.description is None:
                raise ProgrammingError(f'portal "{command.name}" cannot be run',
                                       sqlstate="55000")
            rows = cursor.rows if cursor.rows is not None else iter(())
            if command.count is not None:
                rows = itertools.islice(rows, command.count)
            if command.move:
                moved = await self.in_thread(_count, rows)
                _portal.start(portal, Result(command_tag=f"MOVE {moved}"))
                return
            _portal.start(portal, Result(description=cursor.result.description, rows=rows,
                                         command_tag="FETCH",
                                         type_names=cursor.result.type_names))
            if prefetch:
                portal.pending = await self.in_thread(_portal.next_batch, portal, prefetch)
        else:
            if command.name is None:
                for name in [name for name, other in self.portals.items() if other.cursor]:
                    del self.portals[name]
            elif self.portals.pop(command.name, None) is None:
                raise ProgrammingError(f'cursor "{command.name}" does not exist',
                                       sqlstate="34000")
            _portal.start(portal, Result(command_tag="CLOSE CURSOR"))

    def _drop_transaction_portals(self) -> None:
        """Outside a transaction only WITH HOLD cursors survive (as in PostgreSQL)."""
        if self.session is not None and not self.session.in_transaction and self.portals:
            self.portals = {name: portal for name, portal in self.portals.items()
                            if portal.hold}

    def _execute(self, portal: Portal, prefetch: int) -> None:
        """Worker thread (or the loop, for short reads): run the statement, keep its result in
        the portal, and note how long it took."""
        started = time.perf_counter()
        try:
            self._run_statement(portal, prefetch)
        finally:
            self.server.costs.record(portal.statement.sql, time.perf_counter() - started)

    def _run_statement(self, portal: Portal, prefetch: int) -> None:
        for other in self.portals.values():
            if other.lazy_writer and other is not portal:
                _portal.materialize(other)
        session = self.session
        result = self.backend.execute(session, portal.statement.sql, portal.params)
        _portal.start(portal, result)
        portal.lazy_writer = portal.rows is not None and session.in_write_transaction
        if prefetch and portal.rows is not None:
            portal.pending = _portal.next_batch(portal, prefetch)

    async def _send_rows(self, portal: Portal, max_rows: int) -> None:
        """Send the portal's rows (up to ``max_rows`` if positive), then CommandComplete or
        PortalSuspended."""
        batch_rows = self.config.batch_rows
        remaining = max_rows if max_rows > 0 else -1
        while True:
            pending = portal.pending
            if pending:
                if 0 <= remaining < len(pending):
                    take, portal.pending = pending[:remaining], pending[remaining:]
                else:
                    take, portal.pending = pending, []
                self.write(b"".join(take))
                portal.sent += len(take)
                self.server.count("rows_sent", len(take))
                if remaining > 0:
                    remaining -= len(take)
                if len(self.out) >= self.config.send_buffer:
                    await self.flush()
            if portal.done and not portal.pending:
                break
            if remaining == 0:
                self.write(_PORTAL_SUSPENDED)
                return
            self._check_cancel()
            size = batch_rows if remaining < 0 else min(batch_rows, remaining)
            portal.pending = await self.in_thread(self._fetch, portal, size)
        self.write(encode(CommandComplete(_portal.completion_tag(portal))))

    def _fetch(self, portal: Portal, size: int) -> list[bytes]:
        return _portal.next_batch(portal, size)

    # -- simple query protocol --------------------------------------------------------------------
    async def _on_query(self, message: Query) -> None:
        self.statements.pop("", None)
        self.portals.pop("", None)
        statements = split_statements(message.sql)
        if not statements:
            self.write(encode(EmptyQueryResponse()))
        single = len(statements) == 1
        for offset, sql in statements:
            portal = Portal("", Statement("", sql, (), leading_keyword(sql), 0), (), ())
            try:
                with self._running():
                    await self._start(portal, single, self.config.batch_rows)
                    if portal.description_bytes:
                        self.write(portal.description_bytes)
                    await self._send_rows(portal, 0)
            except Exception as error:  # noqa: BLE001 - every error goes to the client
                self.write_error(error, position_offset=offset)
                await self._after_error()
                break
            finally:
                self._report_settings()
        await self._end_group()
        self._drop_transaction_portals()
        self.write(READY[self.status()])
        await self.flush()

    def _report_settings(self) -> None:
        settings = self.settings
        if settings is not None and settings.changed:
            for name in settings.changed:
                self.write(encode(ParameterStatus(name, settings.get(name))))
            settings.changed.clear()

