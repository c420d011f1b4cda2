"""The listening server: accept connections, admit them, route cancel requests, count things.

``Server(backend, config, users)`` runs under trio (``await server.serve()``); each accepted
connection is a ``ClientConnection`` task, and nothing one client does can end another's task
or the server's (every handler catches what its client causes). ``ServerThread`` runs a server
on its own trio loop in a background thread, for tests and for programs that are not trio.

Backend key data: each connection gets a process id (a counter) and a random 32-bit secret;
a CancelRequest must name both, compared in constant time, or it is ignored (as PostgreSQL
does, silently).

TLS: with ``config.tls_cert`` / ``tls_key`` the certificate chain is loaded once, into
``server.ssl_context`` (or a context is passed in: ``aurora-lite serve`` loads it before it
opens the data directory, so a bad file stops it before anything starts); ``_startup``
answers an SSLRequest 'S' and wraps the connection in a ``trio.SSLStream``.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import secrets
import ssl
import threading
from collections import Counter
from typing import Any

import trio

from aurora_lite.server._backend import Backend
from aurora_lite.server._config import ServerConfig
from aurora_lite.server._connection import ClientConnection
from aurora_lite.server._costs import StatementCosts
from aurora_lite.server._tls import server_context
from aurora_lite.server._users import UserStore

log = logging.getLogger("aurora_lite.server")

# Connections still in their handshake are limited too, so a flood of idle sockets cannot
# exhaust memory: the admitted ones plus this many more.
_HANDSHAKE_ALLOWANCE = 32


class Server:
    def __init__(self, backend: Backend, config: ServerConfig | None = None,
                 users: UserStore | None = None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config or ServerConfig()
        if self.config.auth == "scram" and users is None:
            raise ValueError("SCRAM authentication needs a user store")
        if ssl_context is None and self.config.tls_cert is not None:
            # Loaded once, here; every TLS connection shares it (TLSConfigError names the file).
            ssl_context = server_context(self.config.tls_cert, self.config.tls_key)
        if ssl_context is not None and self.config.tls_cert is None:
            raise ValueError("an ssl_context needs tls_cert and tls_key in the config")
        self.ssl_context = ssl_context
        self.backend = backend
        self.users = users
        self.mock_key = secrets.token_bytes(32)
        self.limiter = trio.CapacityLimiter(self.config.worker_threads)
        self.writer_limiter = trio.CapacityLimiter(2)
        self.costs = StatementCosts(self.config.inline_budget)
        self.connections: dict[int, ClientConnection] = {}
        self._open_sockets = 0
        self._process_ids = itertools.count(secrets.randbelow(1 << 20) + 1000)
        self._counters: Counter[str] = Counter()
        self.port: int | None = None
        self.host = self.config.host
        self._cancel_scope: trio.CancelScope | None = None

    # -- bookkeeping -----------------------------------------------------------------------------
    def count(self, name: str, amount: int = 1) -> None:
        self._counters[name] += amount

    def admit(self, connection: ClientConnection) -> bool:
        """Register a connection that finished its startup packet, if there is room."""
        if len(self.connections) >= self.config.max_connections:
            self.count("connections_rejected")
            return False
        self.connections[connection.process_id] = connection
        return True

    def unregister(self, connection: ClientConnection) -> None:
        if self.connections.get(connection.process_id) is connection:
            del self.connections[connection.process_id]

    def cancel(self, process_id: int, secret_key: int) -> None:
        self.count("cancel_requests")
        connection = self.connections.get(process_id)
        if connection is not None and hmac.compare_digest(
                connection.secret_key.to_bytes(4, "big", signed=True),
                secret_key.to_bytes(4, "big", signed=True)):
            connection.cancel()

    def statistics(self) -> dict[str, Any]:
        """Counters of this server (connections, statements, rows and bytes, errors, cancel
        requests, timeouts) and the backend's own statistics under "engine"."""
        counters = self._counters
        stats: dict[str, Any] = {name: counters[name] for name in (
            "connections_accepted", "connections_rejected", "auth_failures", "auth_timeouts",
            "statements", "errors", "protocol_errors", "rows_sent", "bytes_sent",
            "bytes_received", "cancel_requests", "statement_timeouts", "idle_timeouts",
            "tls_connections", "tls_handshake_failures", "tls_required_rejections")}
        stats["tls"] = "off" if self.ssl_context is None else \
            "required" if self.config.tls_required else "on"
        stats["connections_active"] = len(self.connections)
        stats["connections_tls_active"] = sum(
            1 for connection in self.connections.values() if connection.tls)
        stats["sockets_open"] = self._open_sockets
        stats["worker_threads_busy"] = self.limiter.borrowed_tokens
        stats["listen"] = f"{self.host}:{self.port}"
        try:
            stats["engine"] = self.backend.statistics()
        except Exception as error:  # noqa: BLE001 - statistics must not fail
            stats["engine"] = {"error": str(error)}
        return stats

    # -- serving -----------------------------------------------------------------------------------
    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; ``task_status.started(port)`` once listening."""
        listeners = await trio.open_tcp_listeners(self.config.port, host=self.config.host)
        self.port = listeners[0].socket.getsockname()[1]
        with trio.CancelScope() as scope:
            self._cancel_scope = scope
            async with trio.open_nursery() as nursery:
                task_status.started(self.port)
                await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    def stop(self) -> None:
        """From the server's trio thread: stop listening and end every connection. Running
        statements are interrupted (a worker thread cannot be abandoned: the session would be
        left mid-statement), so shutdown waits only for them to notice."""
        for connection in list(self.connections.values()):
            if connection.session is not None:
                connection.session.interrupt()
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.count("connections_accepted")
        self._open_sockets += 1
        connection: ClientConnection | None = None
        try:
            if self._open_sockets > self.config.max_connections + _HANDSHAKE_ALLOWANCE:
                self.count("connections_rejected")
                return
            secret = secrets.randbits(32) - (1 << 31)
            connection = ClientConnection(self, stream, next(self._process_ids), secret)
            await connection.run()
        except Exception:  # noqa: BLE001 - one client never takes the server down
            log.exception("connection handler failed")
        finally:
            self._open_sockets -= 1
            with trio.CancelScope(shield=True):
                if connection is not None and connection.stream is not stream:
                    # TLS: send close_notify if the peer takes it within a second, then
                    # close the socket below in any case.
                    with trio.move_on_after(1):
                        try:
                            await connection.stream.aclose()
                        except Exception:  # noqa: BLE001
                            pass
                try:
                    await stream.aclose()
                except Exception:  # noqa: BLE001
                    pass


class ServerThread:
    """A server on its own trio loop in a daemon thread: ``start()`` returns once it listens;
    ``stop()`` ends it (and closes the backend when ``close_backend``)."""

    def __init__(self, server: Server, *, close_backend: bool = True) -> None:
        self.server = server
        self.close_backend = close_backend
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    def start(self, timeout: float = 30.0) -> "ServerThread":
        self._thread = threading.Thread(target=self._main, name="aurora-lite-server",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the server did not start listening in time")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                await nursery.start(self.server.serve)
                self._ready.set()
        try:
            trio.run(main)
        except BaseException as error:  # noqa: BLE001 - reported to start()
            self._error = error
            self._ready.set()
        finally:
            if self.close_backend:
                try:
                    self.server.backend.close()
                except Exception:  # noqa: BLE001
                    log.exception("closing the backend")

    def statistics(self) -> dict[str, Any]:
        return trio.from_thread.run_sync(self.server.statistics, trio_token=self._token)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        if self._token is not None and self._thread.is_alive():
            try:
                trio.from_thread.run_sync(self.server.stop, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the server thread did not stop in time")
        self._thread = None

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
