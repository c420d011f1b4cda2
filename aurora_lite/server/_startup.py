"""The first steps of a connection: startup packet, TLS refusal, cancel, authentication.

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
    await connection.fatal(OperationalError("canceling authentication due to timeout",
                                             sqlstate="08006"))
    return False


async def _handshake(connection) -> bool:
    server = connection.server
    for _ in range(3):  # at most SSLRequest, GSSENCRequest, then the startup message
        message = decode_startup(await _startup_packet(connection))
        if isinstance(message, (SSLRequest, GSSENCRequest)):
            # No TLS / GSSAPI: 'N' and the client goes on in the clear (or gives up).
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
