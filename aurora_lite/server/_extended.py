"""The extended query protocol of a connection: Parse, Bind, Describe, Execute, Close, Sync.

A mixin of ``ClientConnection`` (``_connection``), on top of ``StatementRunner``. After an
error every message up to the next Sync is skipped (``discarding``, handled by the message
loop). Describe of a portal runs its statement (its rows wait for Execute), so a
Parse/Bind/Describe/Execute/Sync round trip costs one worker-thread call at most; Describe of
a statement asks the backend to describe it without running it, when it can.
"""

from __future__ import annotations

from aurora_lite.dbapi._pg import (
    Bind, Close, Describe, Execute, ParameterDescription, Parse, Sync, count_parameters,
    encode, leading_keyword, pgtypes, split_statements,
)
from aurora_lite.errors import Error, InternalError, OperationalError, ProgrammingError
from aurora_lite.exec import Result
from aurora_lite.server import _portal
from aurora_lite.server._portal import Portal, Statement
from aurora_lite.server._statements import READY

_PARSE_COMPLETE = b"1\x00\x00\x00\x04"
_BIND_COMPLETE = b"2\x00\x00\x00\x04"
_CLOSE_COMPLETE = b"3\x00\x00\x00\x04"
_NO_DATA = b"n\x00\x00\x00\x04"
_EMPTY_QUERY = b"I\x00\x00\x00\x04"


class ExtendedProtocol:
    # -- extended query protocol ------------------------------------------------------------------
    async def _extended_error(self, error: BaseException) -> None:
        self.write_error(error)
        self.discarding = True
        await self._after_error()

    async def _on_parse(self, message: Parse) -> None:
        try:
            name = message.name
            if name and name in self.statements:
                raise ProgrammingError(f'prepared statement "{name}" already exists',
                                       sqlstate="42P05")
            if len(self.statements) >= self.config.max_prepared_statements:
                raise OperationalError("too many prepared statements on this connection",
                                       sqlstate="54000")
            sql = message.sql
            if ";" in sql and len(split_statements(sql)) > 1:
                raise ProgrammingError("cannot insert multiple commands into a prepared "
                                       "statement", sqlstate="42601")
            param_count = -1
            prepare = getattr(self.backend, "prepare", None)
            if name and prepare is not None:
                # A named statement is parsed once and kept: check it now, so its errors come
                # at Parse as PostgreSQL's do. (The unnamed one is checked when it runs; that
                # saves a worker-thread call per query.)
                param_count = await self.in_thread(prepare, self.session, sql,
                                                   message.param_oids)
            self.statements[name] = Statement(name, sql, message.param_oids,
                                              leading_keyword(sql), param_count)
            self.write(_PARSE_COMPLETE)
        except Error as error:
            await self._extended_error(error)

    async def _on_bind(self, message: Bind) -> None:
        try:
            statement = self.statements.get(message.statement)
            if statement is None:
                raise ProgrammingError(f'prepared statement "{message.statement}" does not '
                                       "exist", sqlstate="26000")
            name = message.portal
            if name and name in self.portals:
                raise ProgrammingError(f'portal "{name}" already exists', sqlstate="42P03")
            if len(self.portals) >= self.config.max_portals:
                raise OperationalError("too many portals on this connection",
                                       sqlstate="54000")
            params = _portal.decode_params(statement, message.param_formats, message.params)
            self.portals[name] = Portal(name, statement, params, message.result_formats)
            self.write(_BIND_COMPLETE)
        except Error as error:
            await self._extended_error(error)

    def _single(self, *following: bytes) -> bool:
        """Whether the buffered messages after this one are exactly ``following`` then Sync:
        the statement is the only one of its group and may commit by itself."""
        return self.frames.peek_types(len(following) + 1) == [*following, b"S"]

    async def _on_describe(self, message: Describe) -> None:
        try:
            if message.kind == "S":
                await self._describe_statement(message.name)
                return
            portal = self.portals.get(message.name)
            if portal is None:
                raise ProgrammingError(f'portal "{message.name}" does not exist',
                                       sqlstate="34000")
            if portal.statement.keyword == "" and not split_statements(portal.statement.sql):
                self.write(_NO_DATA)
                return
            if not portal.executed:
                # The columns are known once the statement runs: run it now (Execute sends
                # the rows). Prefetch a batch so a short query costs one worker call.
                with self._running():
                    await self._start(portal, self._single(b"E"), self.config.batch_rows)
            self.write(portal.description_bytes or _NO_DATA)
        except Exception as error:  # noqa: BLE001
            await self._extended_error(error)

    async def _describe_statement(self, name: str) -> None:
        statement = self.statements.get(name)
        if statement is None:
            raise ProgrammingError(f'prepared statement "{name}" does not exist',
                                   sqlstate="26000")
        if self.failed:
            raise InternalError("current transaction is aborted, commands ignored until end "
                                "of transaction block", sqlstate="25P02")
        describe = getattr(self.backend, "describe", None)
        if describe is not None:
            count, description, type_names = await self.in_thread(
                describe, self.session, statement.sql, statement.param_oids)
            statement.param_count = count
            self._write_parameter_description(statement)
            if description is None:
                self.write(_NO_DATA)
            else:
                result = Result(description=description, type_names=type_names)
                self.write(_portal.describe(result, ())[0])
            return
        if statement.param_count < 0:
            statement.param_count = max(count_parameters(statement.sql),
                                        len(statement.param_oids))
        self._write_parameter_description(statement)
        if statement.keyword not in _portal.ROW_KEYWORDS:
            # Includes INSERT ... RETURNING: not run just to be described.
            self.write(_NO_DATA)
            return
        # A backend that cannot describe: a dry run of the (read) statement with NULL
        # parameters gives the columns; its rows are never read.
        probe = Portal("", statement, (None,) * statement.param_count, ())
        with self._running():
            await self._start(probe, False, 0)
        self.write(probe.description_bytes or _NO_DATA)

    def _write_parameter_description(self, statement: Statement) -> None:
        given = statement.param_oids
        oids = [given[i] if i < len(given) and given[i] else pgtypes.TEXT
                for i in range(statement.param_count)]
        self.write(encode(ParameterDescription(tuple(oids))))

    async def _on_execute(self, message: Execute) -> None:
        try:
            portal = self.portals.get(message.portal)
            if portal is None:
                raise ProgrammingError(f'portal "{message.portal}" does not exist',
                                       sqlstate="34000")
            if portal.statement.keyword == "" and not split_statements(portal.statement.sql):
                self.write(_EMPTY_QUERY)  # only blanks and comments: nothing to run
                return
            with self._running():
                if not portal.executed:
                    prefetch = self.config.batch_rows if message.max_rows <= 0 else \
                        min(message.max_rows, self.config.batch_rows)
                    await self._start(portal, self._single(), prefetch)
                await self._send_rows(portal, message.max_rows)
        except Exception as error:  # noqa: BLE001
            await self._extended_error(error)
        finally:
            self._report_settings()

    async def _on_close(self, message: Close) -> None:
        if message.kind == "S":
            statement = self.statements.pop(message.name, None)
            if statement is not None:
                for name in [name for name, portal in self.portals.items()
                             if portal.statement is statement]:
                    del self.portals[name]
        else:
            self.portals.pop(message.name, None)
        self.write(_CLOSE_COMPLETE)

    async def _on_sync(self, message: Sync) -> None:
        self.discarding = False
        await self._end_group()
        # Portals live until the end of their transaction, unless WITH HOLD.
        self._drop_transaction_portals()
        self.write(READY[self.status()])
        await self.flush()

