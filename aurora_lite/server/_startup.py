"""The first steps of a connection: startup packet, TLS, cancel, authentication.

``handshake(connection)`` returns True when the client is authenticated and has its session
(ParameterStatus, BackendKeyData and ReadyForQuery are queued), False when the connection
should simply close (a CancelRequest, or a client that went away), and sends a FATAL
ErrorResponse itself for a client that may not go on. The whole handshake must finish within
``authentication_timeout``.

Authentication is SCRAM-SHA-256 (docs/protocols/auth.md): the server sends
AuthenticationSASL, reads SASLInitialResponse, answers AuthenticationSASLContinue, reads the
SASLResponse and checks the proof against the stored verifier, then sends
AuthenticationSASLFinal (its own signature) and AuthenticationOk. An unknown user goes through
the same steps with a made-up salt and fails at the same point as a wrong password.

TLS (docs/formats/pgwire.md, "Startup packets"): without a certificate configured, SSLRequest
and GSSENCRequest are answered 'N' and the client goes on in the clear. With one
(``server.ssl_context``), an SSLRequest is answered 'S' and the server side of a TLS handshake
runs in a ``trio.SSLStream`` that from then on carries the connection; the StartupMessage
comes through it. Bytes the client sent after its SSLRequest, before the 'S' (which would
be taken as if they had come through TLS: CVE-2021-23214), another SSLRequest or a
GSSENCRequest after the handshake are protocol violations (FATAL 08P01). A failed handshake
closes that connection only (counted in ``tls_handshake_failures``, logged). A client may
also skip the SSLRequest and begin with the TLS handshake at once (PostgreSQL 17's direct
TLS, ``sslnegotiation=direct``), if it offers the ALPN protocol "postgresql". With
``tls_required``, a StartupMessage that did not come through TLS gets FATAL 28000, as from a
PostgreSQL server whose pg_hba.conf has only hostssl lines; a CancelRequest is still accepted
in the clear (PostgreSQL handles it before pg_hba.conf, and libpq before 17 always sends it
unencrypted).
"""

from __future__ import annotations

import logging

import trio

from aurora_lite.dbapi._pg import (
    AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL, MECHANISM, Authentication,
    AuthenticationFailed, CancelRequest, GSSENCRequest, NegotiateProtocolVersion,
    ProtocolViolation, ScramProtocolError, ScramServer, SSLRequest, StartupMessage,
    decode_sasl_initial, decode_startup, encode,
)
from aurora_lite.errors import Error, OperationalError
from aurora_lite.server._settings import Settings
from aurora_lite.server._tls import ALPN_PROTOCOL

log = logging.getLogger("aurora_lite.server")

_ENCODINGS = {"utf8", "utf-8", "unicode", "sql_ascii", "auto"}


async def _startup_packet(connection) -> bytes:
    while True:
        body = connection.frames.next_startup()
        if body is not None:
            return body
        await connection.receive()


async def _password_message(connection) -> bytes:
    type_byte, body = await connection.next_message()
    if type_byte == b"X":
        from aurora_lite.server._connection import ClientGone
        raise ClientGone()
    if type_byte != b"p":
        raise ProtocolViolation(f"expected a SASL response, got message type {type_byte!r}")
    return body


async def _authenticate(connection, user: str) -> bool:
    server = connection.server
    if server.config.auth == "trust":
        connection.write(encode(Authentication(AUTH_OK)))
        return True
    try:
        verifier = server.users.lookup(user)
    except (OSError, ValueError) as error:
        # A broken users file is the operator's problem: log it, tell the client no more
        # than for a wrong password.
        log.error("cannot read the users file: %s", error)
        verifier = None
    connection.write(encode(Authentication(AUTH_SASL, MECHANISM.encode() + b"\x00\x00")))
    await connection.flush()
    initial = decode_sasl_initial(await _password_message(connection))
    if initial.mechanism != MECHANISM:
        raise ProtocolViolation("client selected an invalid SASL authentication mechanism")
    if initial.data is None:
        raise ProtocolViolation("SASLInitialResponse without the client-first-message")
    exchange = ScramServer(user, verifier, mock_key=server.mock_key)
    connection.write(encode(Authentication(AUTH_SASL_CONTINUE, exchange.first(initial.data))))
    await connection.flush()
    final = exchange.final(await _password_message(connection))
    connection.write(encode(Authentication(AUTH_SASL_FINAL, final)))
    connection.write(encode(Authentication(AUTH_OK)))
    return True


async def handshake(connection) -> bool:
    server = connection.server
    with trio.move_on_after(server.config.authentication_timeout):
        return await _handshake(connection)
    server.count("auth_timeouts")
    if isinstance(connection.stream, trio.SSLStream) and not connection.tls:
        return False  # the TLS handshake itself did not finish: nothing can be sent
    await connection.fatal(OperationalError("canceling authentication due to timeout",
                                             sqlstate="08006"))
    return False


def peer_host(connection) -> str:
    stream = connection.stream
    while hasattr(stream, "transport_stream"):
        stream = stream.transport_stream
    try:
        return str(stream.socket.getpeername()[0])
    except (AttributeError, OSError, IndexError):
        return "?"


class _Replay(trio.abc.Stream):
    """A stream whose first bytes were already read: they are received again, first."""

    def __init__(self, stream: trio.abc.Stream, data: bytes) -> None:
        self.transport_stream = stream
        self._data = data

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if not self._data:
            return await self.transport_stream.receive_some(max_bytes)
        size = len(self._data) if max_bytes is None else max_bytes
        data, self._data = self._data[:size], self._data[size:]
        await trio.lowlevel.checkpoint()
        return data

    async def send_all(self, data) -> None:
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.transport_stream.aclose()


def _handshake_failed(connection, reason: object) -> bool:
    connection.server.count("tls_handshake_failures")
    log.warning("TLS handshake with %s failed: %s", peer_host(connection),
                str(reason) or type(reason).__name__)
    return False


async def _start_tls(connection, transport: trio.abc.Stream | None = None, *,
                     direct: bool = False) -> bool:
    """The server side of the TLS handshake (after the 'S', or at once for direct TLS).
    False if it failed."""
    server = connection.server
    connection.stream = stream = trio.SSLStream(transport or connection.stream,
                                                server.ssl_context, server_side=True)
    try:
        await stream.do_handshake()
    except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
        return _handshake_failed(connection, error.__cause__ or error)
    if direct and stream.selected_alpn_protocol() != ALPN_PROTOCOL:
        # PostgreSQL 17's rule: a client that skips the SSLRequest must say it speaks the
        # PostgreSQL protocol, so a TLS connection meant for another server is not taken.
        return _handshake_failed(connection, "direct TLS without the ALPN protocol "
                                             f"{ALPN_PROTOCOL!r}")
    connection.tls = True
    server.count("tls_connections")
    return True


async def _direct_tls(connection) -> bool | None:
    """With TLS configured, the first bytes may be a TLS record instead of a startup packet
    (PostgreSQL 17's ``sslnegotiation=direct``: 0x16 cannot begin a startup packet, whose
    length is at most 10000). True / False: it was, and the handshake succeeded / failed;
    None: it was not (the bytes are in the frame buffer, read as a startup packet)."""
    from aurora_lite.server._connection import ClientGone
    data = await connection.stream.receive_some(65536)
    if not data:
        raise ClientGone()
    connection.server.count("bytes_received", len(data))
    if data[0] != 0x16:
        connection.frames.feed(data)
        return None
    return await _start_tls(connection, _Replay(connection.stream, data), direct=True)


async def _handshake(connection) -> bool:
    server = connection.server
    if server.ssl_context is not None and not connection.frames.buffered:
        if await _direct_tls(connection) is False:
            return False
    for _ in range(3):  # at most SSLRequest, GSSENCRequest, then the startup message
        message = decode_startup(await _startup_packet(connection))
        if isinstance(message, (SSLRequest, GSSENCRequest)) and connection.tls:
            raise ProtocolViolation(f"{type(message).__name__} received on a connection "
                                    "already encrypted with TLS")
        if isinstance(message, SSLRequest) and server.ssl_context is not None:
            if connection.frames.buffered:
                raise ProtocolViolation("received unencrypted data after SSL request")
            await connection.stream.send_all(b"S")
            if not await _start_tls(connection):
                return False
            continue
        if isinstance(message, (SSLRequest, GSSENCRequest)):
            # No TLS configured / no GSSAPI: 'N' and the client goes on in the clear (or
            # gives up).
            await connection.stream.send_all(b"N")
            continue
        if isinstance(message, CancelRequest):
            server.cancel(message.process_id, message.secret_key)
            return False
        break
    else:
        raise ProtocolViolation("too many encryption requests")
    assert isinstance(message, StartupMessage)
    major, minor = message.protocol >> 16, message.protocol & 0xFFFF
    if major != 3:
        await connection.fatal(OperationalError(
            f"unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0",
            sqlstate="0A000"))
        return False
    params = message.params
    unknown_options = tuple(name for name in params if name.startswith("_pq_."))
    if minor > 0 or unknown_options:
        connection.write(encode(NegotiateProtocolVersion(0, unknown_options)))
    user = params.get("user", "")
    if not user:
        await connection.fatal(OperationalError(
            "no PostgreSQL user name specified in startup packet", sqlstate="28000"))
        return False
    if server.config.tls_required and not connection.tls:
        server.count("tls_required_rejections")
        await connection.fatal(OperationalError(
            f'TLS is required: host "{peer_host(connection)}", user "{user}", database '
            f'"{params.get("database") or user}", no encryption (this server runs with '
            "--tls-required; connect with sslmode=require)", sqlstate="28000"))
        return False
    encoding = params.get("client_encoding", "UTF8").strip().strip("'").lower()
    if encoding not in _ENCODINGS:
        await connection.fatal(OperationalError(
            f'unsupported client encoding "{params["client_encoding"]}": aurora_lite speaks '
            "UTF8 only", sqlstate="22023"))
        return False
    if not server.admit(connection):
        await connection.fatal(OperationalError("sorry, too many clients already",
                                                 sqlstate="53300"))
        return False
    try:
        await _authenticate(connection, user)
    except AuthenticationFailed as error:
        server.count("auth_failures")
        await connection.fatal(error)
        return False
    except ScramProtocolError as error:
        server.count("auth_failures")
        await connection.fatal(error)
        return False
    connection.user = user
    connection.settings = settings = Settings(user, params.get("application_name", ""))
    config = server.config
    for name, value in (("statement_timeout", config.statement_timeout),
                        ("idle_session_timeout", config.idle_session_timeout),
                        ("idle_in_transaction_session_timeout",
                         config.idle_in_transaction_timeout)):
        settings.set_default(name, str(int(value * 1000)) if value else "0")
    # A backend may report parameters of its own (a read replica: in_hot_standby = on).
    for name, value in getattr(server.backend, "parameters", {}).items():
        settings.set_default(name, value)
    try:
        connection.session = server.backend.open_session()
    except Error as error:
        await connection.fatal(error)
        return False
    connection.send_startup_parameters()
    await connection.flush()
    return True
