"""One client connection: the startup handshake, then the simple and extended query protocols.

Life of a connection (docs/formats/pgwire.md has the message formats):

1. Startup: GSSENCRequest gets 'N'; SSLRequest gets 'N' too, unless the server has TLS
   configured: then 'S' and a TLS handshake (``_startup``), after which ``stream`` is a
   ``trio.SSLStream``; CancelRequest is passed to the server and the connection closes; a
   StartupMessage 3.0 names the user. Authentication is SCRAM-SHA-256 against the users
   file (``_startup``), or none with ``--auth trust``.
   Then ParameterStatus for each reported setting, BackendKeyData, ReadyForQuery.
2. Messages, one at a time: the simple Query protocol and the statements themselves are in
   ``_statements`` (``StatementRunner``), the extended protocol in ``_extended``
   (``ExtendedProtocol``); this module has the I/O, the message loop, cancel and timeouts,
   and the worker-thread calls. Rows are sent as they come, so a large result never sits in
   memory whole.

Errors a client causes become an ErrorResponse with a SQLSTATE and the connection goes on; the
bytes that cannot be framed (bad length, unknown message type) end the connection with a FATAL
ErrorResponse. No exception escapes to the server: each connection is its own task.
"""
from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Callable, Iterator

import trio

from aurora_lite.dbapi._pg import (
    BackendKeyData, Bind, Close, Describe, ErrorResponse, Execute, FrameBuffer,
    ParameterStatus, Parse, ProtocolViolation, Query, ReadyForQuery, Sync, Unsupported,
    decode_frontend, encode, error_fields,
)
from aurora_lite.errors import Error, OperationalError, ProgrammingError, QueryCanceledError
from aurora_lite.server._extended import ExtendedProtocol
from aurora_lite.server._portal import Portal, Statement
from aurora_lite.server._settings import Settings
from aurora_lite.server._statements import READY, StatementRunner, internal_error

log = logging.getLogger("aurora_lite.server")


class ClientGone(Exception):
    """The client closed the connection (or sent Terminate)."""


class ClientConnection(StatementRunner, ExtendedProtocol):
    def __init__(self, server, stream: trio.abc.Stream, process_id: int,
                 secret_key: int) -> None:
        self.server = server
        self.config = server.config
        self.backend = server.backend
        self.stream = stream       # a trio.SSLStream over the socket once TLS is on
        self.tls = False           # the TLS handshake succeeded
        self.process_id = process_id
        self.secret_key = secret_key
        self.frames = FrameBuffer(self.config.max_message_length)
        self.out = bytearray()
        self.session: Any = None
        self.settings: Settings | None = None
        self.user = ""
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, Portal] = {}
        self.explicit = False      # a BEGIN block is open
        self.failed = False        # ... and a statement in it failed: status 'E'
        self.group = False         # an implicit transaction of several statements is open
        self.discarding = False    # extended protocol: after an error, skip until Sync
        self.busy = False          # a statement is running: cancel and timeouts apply
        self.cancel_pending = False
        self.timed_out = False
        self._deadline = math.inf
        self._watch_scope: trio.CancelScope | None = None

    # -- output --------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self.out += data

    async def flush(self) -> None:
        if self.out:
            data = bytes(self.out)
            self.out.clear()
            await self.stream.send_all(data)
            self.server.count("bytes_sent", len(data))

    def write_error(self, error: BaseException, *, severity: str = "ERROR",
                    position_offset: int = 0) -> None:
        self.server.count("errors")
        self.write(encode(ErrorResponse(error_fields(internal_error(error), severity=severity,
                                                     position_offset=position_offset))))

    def status(self) -> str:
        if self.session is None or not self.session.in_transaction:
            return "I"
        return "E" if self.failed else "T"

    # -- input ---------------------------------------------------------------------------------
    async def receive(self) -> None:
        """Read more bytes (at most what the pending message still needs, or 64 KB)."""
        data = await self.stream.receive_some(max(65536, min(self.frames.needed(), 1 << 20)))
        if not data:
            raise ClientGone()
        self.server.count("bytes_received", len(data))
        self.frames.feed(data)

    async def next_message(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        while True:
            message = self.frames.next_message()
            if message is not None:
                return message
            await self.flush()
            if timeout is None:
                await self.receive()
                continue
            with trio.move_on_after(timeout):
                await self.receive()
                continue
            raise TimeoutError()

    # -- the connection's life -------------------------------------------------------------------
    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watchdog)
                try:
                    await self._converse()
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            self.server.unregister(self)
            with trio.CancelScope(shield=True):
                await self._close_session()

    async def _converse(self) -> None:
        from aurora_lite.server._startup import handshake
        try:
            if await handshake(self):
                await self._serve()
        except (ClientGone, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except ProtocolViolation as error:  # includes MessageTooLong
            self.server.count("protocol_errors")
            await self.fatal(error)

    async def fatal(self, error: BaseException, sqlstate: str | None = None) -> None:
        if sqlstate is not None:
            error = OperationalError(str(error), sqlstate=sqlstate)
        self.out.clear()
        self.write_error(error, severity="FATAL")
        with trio.move_on_after(2), trio.CancelScope(shield=True):
            try:
                await self.flush()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass

    async def _close_session(self) -> None:
        session = self.session
        self.session = None
        self.portals.clear()
        if session is None:
            return
        try:
            await trio.to_thread.run_sync(session.close, limiter=self.server.writer_limiter
                                          if session.in_write_transaction
                                          else self.server.limiter)
        except Exception as error:  # noqa: BLE001 - the client is gone; log and move on
            log.warning("closing session of connection %d: %s", self.process_id, error)

    async def _serve(self) -> None:
        handlers: dict[type, Callable] = {
            Query: self._on_query, Parse: self._on_parse, Bind: self._on_bind,
            Describe: self._on_describe, Execute: self._on_execute, Close: self._on_close,
            Sync: self._on_sync,
        }
        while True:
            timeout = self._idle_timeout()
            try:
                type_byte, body = await self.next_message(timeout)
            except TimeoutError:
                in_transaction = self.status() != "I"
                self.server.count("idle_timeouts")
                await self.fatal(OperationalError(
                    "terminating connection due to idle-in-transaction timeout"
                    if in_transaction else "terminating connection due to idle-session timeout",
                    sqlstate="25P03" if in_transaction else "57P05"))
                return
            if type_byte == b"X":
                return
            if type_byte == b"H":
                await self.flush()
                continue
            if self.discarding and type_byte != b"S":
                continue
            try:
                message = decode_frontend(type_byte, body)
            except ProtocolViolation as error:
                if type_byte not in b"QPBDECSdcfFp" or len(type_byte) != 1:
                    raise
                # A well-framed message with a bad body: an ordinary error, as PostgreSQL.
                self.server.count("protocol_errors")
                await self._extended_error(error)
                if type_byte == b"Q":
                    self.discarding = False
                    self.write(READY[self.status()])
                continue
            if isinstance(message, Unsupported):
                what = "COPY" if message.type in (b"d", b"c", b"f") else "the function call " \
                    "protocol"
                await self._extended_error(ProgrammingError(
                    f"{what} is not supported by aurora_lite", sqlstate="0A000"))
                continue
            handler = handlers.get(type(message))
            if handler is None:  # 'p' outside authentication
                raise ProtocolViolation("unexpected password message")
            await handler(message)

    def _idle_timeout(self) -> float | None:
        if self.frames.buffered:
            return None
        settings = self.settings
        if self.session is not None and self.session.in_transaction:
            configured = settings.timeout("idle_in_transaction_session_timeout") \
                if settings else None
            return configured or self.config.idle_in_transaction_timeout
        configured = settings.timeout("idle_session_timeout") if settings else None
        return configured or self.config.idle_session_timeout

    # -- cancel and statement timeout -----------------------------------------------------------
    async def _watchdog(self) -> None:
        while True:
            with trio.CancelScope(deadline=self._deadline) as scope:
                self._watch_scope = scope
                await trio.sleep_forever()
            self._watch_scope = None
            if self.busy and trio.current_time() >= self._deadline:
                self._deadline = math.inf
                self.timed_out = True
                self.server.count("statement_timeouts")
                if self.session is not None:
                    self.session.interrupt()

    def _arm(self) -> None:
        self.cancel_pending = False
        self.timed_out = False
        self.busy = True
        timeout = self.settings.timeout("statement_timeout") if self.settings else None
        timeout = timeout or self.config.statement_timeout
        if timeout:
            self._deadline = trio.current_time() + timeout
            if self._watch_scope is not None:
                self._watch_scope.deadline = self._deadline

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        """A statement (and the sending of its rows) is under way: the statement timeout
        runs and a CancelRequest applies."""
        self._arm()
        try:
            yield
        finally:
            self._disarm()

    def _disarm(self) -> None:
        self.busy = False
        self._deadline = math.inf
        if self._watch_scope is not None:
            self._watch_scope.deadline = math.inf

    def cancel(self) -> None:
        """A CancelRequest with this connection's key arrived (on another connection)."""
        if self.busy and self.session is not None:
            self.cancel_pending = True
            self.session.interrupt()

    def _check_cancel(self) -> None:
        if self.timed_out:
            raise QueryCanceledError("canceling statement due to statement timeout")
        if self.cancel_pending:
            raise QueryCanceledError("canceling statement due to user request")

    async def in_thread(self, function: Callable, *args: Any) -> Any:
        """Run engine work in a worker thread. A session that holds the write lock uses its
        own small limiter, so it can always finish while readers wait for it in every slot of
        the shared one (Invariant: the writer never waits for a slot a waiter holds)."""
        session = self.session
        limiter = self.server.writer_limiter if session.in_write_transaction \
            else self.server.limiter
        try:
            return await trio.to_thread.run_sync(function, *args, limiter=limiter)
        except QueryCanceledError:
            if self.timed_out:
                raise QueryCanceledError("canceling statement due to statement timeout") \
                    from None
            raise
        except Error:
            raise
        except Exception as error:  # noqa: BLE001 - the boundary that turns bugs into errors
            raise internal_error(error) from None

    # -- startup helpers (used by _startup) -------------------------------------------------------
    def send_startup_parameters(self) -> None:
        for name, value in self.settings.reported():
            self.write(encode(ParameterStatus(name, value)))
        self.write(encode(BackendKeyData(self.process_id, self.secret_key)))
        self.write(encode(ReadyForQuery("I")))
