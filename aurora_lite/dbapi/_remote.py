"""The remote PEP 249 driver: the embedded driver's Connection/Cursor surface over the
PostgreSQL wire protocol, to an ``aurora-lite serve`` server (or PostgreSQL itself).

    connect("postgresql://user:password@host:port/dbname")
    connect(host=..., port=..., user=..., password=..., dbname=...)

Each ``execute`` is one round trip of the extended protocol: Parse (unnamed), Bind
(parameters in binary where the type has a binary form, results in binary), Describe portal,
Execute, Sync; with autocommit off and no transaction open, a ``BEGIN`` rides in the same
write. ``?`` and ``:name`` placeholders are rewritten to ``$n`` on the client. Rows are read
from the socket as they are fetched, so a large result costs memory only as it is consumed;
the next statement on the connection first buffers whatever the previous cursor left unread.

Differences from the embedded driver, all PostgreSQL's semantics: after an error inside a
transaction (autocommit off), the transaction is failed; every statement but ``rollback()``
fails with 25P02 until it is rolled back (``commit()`` then rolls back and raises). ``lastrowid``
is always None. Errors keep their SQLSTATE and position; the class comes from the SQLSTATE.
Authentication is SCRAM-SHA-256 (the server's signature is checked too) or none; a server
asking for a cleartext or MD5 password is refused, so the password never crosses the wire.

TLS, with libpq's ``sslmode`` (keyword, URL option or PGSSLMODE; default ``prefer``):
``disable`` never; ``allow`` in the clear, then once more with TLS if the server refuses a
connection in the clear (FATAL 28000, as ``aurora-lite serve --tls-required`` does);
``prefer`` TLS if the server offers it ('S' to the SSLRequest), else in the clear, and in the
clear on a new connection if the TLS handshake fails (but never after a certificate that
failed verification); ``require`` TLS or nothing, the certificate not checked unless
``sslrootcert`` is given (then as verify-ca, as libpq does); ``verify-ca`` the certificate must
chain to ``sslrootcert`` (a PEM file; default ~/.postgresql/root.crt); ``verify-full`` that,
and it must name the host. ``sslrootcert=system`` uses the system's trusted roots and needs
verify-full. TLS 1.2 or later, the stdlib ``ssl`` module. ``Connection.ssl_in_use`` tells.
A CancelRequest (``interrupt()``) goes on a new connection in the clear, as libpq before 17
sends it: it carries only the process id and the key, which the server compares.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import getpass
import os
import socket
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from aurora_lite import errors
from aurora_lite.dbapi._pg import (
    AUTH_CLEARTEXT, AUTH_MD5, AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL,
    MECHANISM, PROTOCOL_3_0, Bind, CancelRequest, Describe, Execute, FrameBuffer, Parse,
    PasswordData, ProtocolViolation, Query, SASLInitialResponse, ScramClient, SSLRequest,
    StartupMessage, Sync, Terminate, decode_backend, decode_data_row, encode, exception_from_fields,
    leading_keyword, pgtypes, to_numbered,
)
from aurora_lite.errors import InterfaceError, OperationalError, ProgrammingError

DEFAULT_PORT = 5433
_MAX_MESSAGE = 1 << 30
_SUPPORTED_PARAMETERS = (type(None), bool, int, float, decimal.Decimal, str, bytes, bytearray,
                         memoryview, datetime.date, datetime.datetime, datetime.time)
_BINARY_PARAMETER_OIDS = frozenset({pgtypes.BOOL, pgtypes.BYTEA, pgtypes.INT8, pgtypes.FLOAT8,
                                    pgtypes.DATE, pgtypes.TIMESTAMP})
_SYNC = encode(Sync())
# Statements that return rows: executemany refuses them before sending anything (as the
# embedded driver does); others that turn out to return rows are refused after the fact.
_ROW_KEYWORDS = frozenset({"SELECT", "VALUES", "TABLE", "SHOW", "EXPLAIN", "FETCH"})
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_SSLMODE = "prefer"
# Whether each connection attempt asks for TLS, in order (libpq's sequence).
_ATTEMPTS = {"disable": (False,), "allow": (False, True), "prefer": (True, False),
             "require": (True,), "verify-ca": (True,), "verify-full": (True,)}
_SSL_REQUEST = encode(SSLRequest())


def parse_dsn(dsn: str) -> dict[str, Any]:
    """``postgresql://user:password@host:port/dbname?option=value`` -> keyword arguments."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InterfaceError(f"not a postgresql:// URL: {dsn!r}")
    options: dict[str, Any] = {}
    try:
        if parts.hostname:
            options["host"] = parts.hostname
        if parts.port:
            options["port"] = parts.port
    except ValueError as error:
        raise InterfaceError(f"bad connection URL: {error}") from None
    if parts.username:
        options["user"] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        options["password"] = urllib.parse.unquote(parts.password)
    dbname = urllib.parse.unquote(parts.path.lstrip("/"))
    if dbname:
        options["dbname"] = dbname
    for key, value in urllib.parse.parse_qsl(parts.query):
        if key == "connect_timeout":
            options[key] = float(value)
        elif key in ("application_name", "host", "user", "password", "dbname", "sslmode",
                     "sslrootcert"):
            options[key] = value
        elif key == "port":
            options[key] = int(value)
        else:
            raise InterfaceError(f"unknown connection URL option {key!r}")
    return options


def connect(dsn: str | None = None, *, host: str | None = None, port: int | None = None,
            user: str | None = None, password: str | None = None, dbname: str | None = None,
            autocommit: bool = False, connect_timeout: float = 10.0,
            application_name: str = "aurora_lite", sslmode: str | None = None,
            sslrootcert: str | None = None, **unknown: Any) -> "Connection":
    """Open a connection to a server speaking the PostgreSQL protocol. Keywords override
    what the URL says; the password may also come from PGPASSWORD, the user from PGUSER,
    sslmode and sslrootcert from PGSSLMODE and PGSSLROOTCERT."""
    if unknown:
        raise InterfaceError(f"unknown connect() option(s): {', '.join(sorted(unknown))}")
    if dsn is not None and not isinstance(dsn, str):
        raise InterfaceError("connect() needs a postgresql:// URL or host=...")
    options: dict[str, Any] = parse_dsn(dsn) if dsn else {}
    for key, value in (("host", host), ("port", port), ("user", user), ("password", password),
                       ("dbname", dbname), ("sslmode", sslmode), ("sslrootcert", sslrootcert)):
        if value is not None:
            options[key] = value
    options.setdefault("connect_timeout", connect_timeout)
    options.setdefault("application_name", application_name)
    return Connection(autocommit=autocommit, **options)


class Connection:
    """A PEP 249 connection to a server. The exception classes are attributes too."""

    Warning = errors.Warning
    Error = errors.Error
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 user: str | None = None, password: str | None = None,
                 dbname: str | None = None, autocommit: bool = False,
                 connect_timeout: float = 10.0, application_name: str = "aurora_lite",
                 sslmode: str | None = None, sslrootcert: str | None = None) -> None:
        self.host = host
        self.port = int(port)
        self.user = user or os.environ.get("PGUSER") or getpass.getuser()
        self.dbname = dbname or self.user
        self._password = password if password is not None else os.environ.get("PGPASSWORD")
        self._autocommit = bool(autocommit)
        self._frames = FrameBuffer(_MAX_MESSAGE)
        self._status = "I"
        self._closed = True
        self._active: Cursor | None = None
        self.parameters: dict[str, str] = {}
        self.notices: collections.deque[str] = collections.deque(maxlen=50)
        self.process_id = 0
        self._secret_key = 0
        self._connect_timeout = connect_timeout
        self.sslmode = sslmode or os.environ.get("PGSSLMODE") or DEFAULT_SSLMODE
        if self.sslmode not in SSL_MODES:
            raise InterfaceError(f"invalid sslmode value {self.sslmode!r}: one of "
                                 f"{', '.join(SSL_MODES)}")
        if sslrootcert is None:
            sslrootcert = os.environ.get("PGSSLROOTCERT") or None
        context = None if self.sslmode == "disable" else _tls_context(self.sslmode, sslrootcert)
        attempts = _ATTEMPTS[self.sslmode]
        for number, use_tls in enumerate(attempts, 1):
            try:
                self._connect_once(application_name, context if use_tls else None)
                return
            except _TryAgain as retry:
                self._abort()
                if number == len(attempts):
                    raise retry.error from None
            except BaseException:
                self._abort()
                raise

    def _connect_once(self, application_name: str, context: ssl.SSLContext | None) -> None:
        """One connection attempt, with TLS first when ``context``; _TryAgain when the next
        attempt of the sslmode should be made (on a new connection)."""
        host, timeout = self.host, self._connect_timeout
        self._frames = FrameBuffer(_MAX_MESSAGE)
        self._status = "I"
        self.parameters.clear()
        try:
            self._sock = socket.create_connection((host, self.port), timeout=timeout)
        except OSError as error:
            raise OperationalError(f"cannot connect to {host}:{self.port}: {error}",
                                   sqlstate="08001") from None
        self._closed = False
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            self._start_tls(context)
        try:
            self._startup(application_name)
        except OperationalError as error:
            # allow: a server that refuses clients in the clear gets a second try with TLS.
            if self.sslmode == "allow" and not self.ssl_in_use and error.sqlstate == "28000":
                raise _TryAgain(error) from None
            raise
        self._sock.settimeout(None)

    def _start_tls(self, context: ssl.SSLContext) -> None:
        """SSLRequest; on 'S' the TLS handshake (self._sock becomes an SSLSocket); on 'N' go on
        in the clear if the sslmode allows it."""
        self._send(_SSL_REQUEST)
        try:
            answer = self._sock.recv(1)
        except OSError as error:
            raise OperationalError(f"connection to the server lost during the SSL request: "
                                   f"{error}", sqlstate="08006") from None
        if answer == b"N":
            if self.sslmode in ("allow", "prefer"):
                return
            raise OperationalError(f"server {self.host}:{self.port} does not support SSL, but "
                                   f"SSL was required (sslmode={self.sslmode})",
                                   sqlstate="08001")
        if answer != b"S":
            error = OperationalError(
                "server closed the connection during the SSL request" if not answer else
                f"received invalid response to SSL negotiation: {answer!r}", sqlstate="08P01")
            if self.sslmode == "prefer":
                raise _TryAgain(error)
            raise error
        # Only the 'S' was read: anything the server sent after it belongs to the handshake,
        # never to the protocol (CVE-2021-23222).
        try:
            self._sock = context.wrap_socket(self._sock, server_hostname=self.host)
        except ssl.SSLCertVerificationError as error:
            raise OperationalError(f"SSL connection to {self.host}:{self.port}: the server's "
                                   f"certificate failed verification "
                                   f"(sslmode={self.sslmode}): {error.verify_message}",
                                   sqlstate="08001") from None
        except OSError as error:
            failed = OperationalError(f"SSL connection to {self.host}:{self.port} failed: "
                                      f"{error}", sqlstate="08001")
            if self.sslmode == "prefer":
                raise _TryAgain(failed) from None
            raise failed from None

    @property
    def ssl_in_use(self) -> bool:
        """The open connection is encrypted with TLS (as psycopg's ``pgconn.ssl_in_use``)."""
        return not self._closed and isinstance(getattr(self, "_sock", None), ssl.SSLSocket)

    @property
    def ssl_protocol(self) -> str | None:
        """The TLS version ("TLSv1.3"), None without TLS."""
        return self._sock.version() if self.ssl_in_use else None

    # -- transport ------------------------------------------------------------------------------
    def _abort(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except (OSError, AttributeError):
            pass

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as error:
            self._abort()
            raise OperationalError(f"connection to the server lost: {error}",
                                   sqlstate="08006") from None

    def _read(self) -> tuple[bytes, bytes]:
        """The next message that is not a ParameterStatus or a notice."""
        frames = self._frames
        while True:
            try:
                message = frames.next_message()
            except ProtocolViolation as error:
                self._abort()
                raise OperationalError(f"bad message from the server: {error}",
                                       sqlstate="08P01") from None
            if message is None:
                try:
                    data = self._sock.recv(max(65536, frames.needed()))
                except OSError as error:
                    self._abort()
                    raise OperationalError(f"connection to the server lost: {error}",
                                           sqlstate="08006") from None
                if not data:
                    self._abort()
                    raise OperationalError("server closed the connection unexpectedly",
                                           sqlstate="08006")
                frames.feed(data)
                continue
            type_byte, body = message
            if type_byte == b"S":
                status = decode_backend(type_byte, body)
                self.parameters[status.name] = status.value
            elif type_byte == b"N":
                notice = decode_backend(type_byte, body)
                self.notices.append(notice.get("M") or "")
            else:
                return type_byte, body

    def _error(self, body: bytes) -> errors.Error:
        return exception_from_fields(dict(decode_backend(b"E", body).fields))

    def _until_ready(self, error: errors.Error | None = None) -> errors.Error | None:
        """Read to ReadyForQuery; the first ErrorResponse seen (or ``error``) is returned."""
        while True:
            type_byte, body = self._read()
            if type_byte == b"Z":
                self._status = chr(body[0]) if body else "I"
                return error
            if type_byte == b"E" and error is None:
                error = self._error(body)

    # -- startup and authentication --------------------------------------------------------------
    def _startup(self, application_name: str) -> None:
        parameters = (("user", self.user), ("database", self.dbname),
                      ("client_encoding", "UTF8"), ("application_name", application_name))
        self._send(encode(StartupMessage(PROTOCOL_3_0, parameters)))
        scram: ScramClient | None = None
        while True:
            type_byte, body = self._read()
            if type_byte == b"E":
                error = self._error(body)
                self._abort()
                raise error
            if type_byte == b"R":
                request = decode_backend(type_byte, body)
                if request.code == AUTH_OK:
                    continue
                if request.code == AUTH_SASL:
                    mechanisms = request.data.split(b"\x00")
                    if MECHANISM.encode() not in mechanisms:
                        raise OperationalError("the server offers no SCRAM-SHA-256",
                                               sqlstate="28000")
                    if self._password is None:
                        raise OperationalError(f'password authentication failed for user '
                                               f'"{self.user}": no password given',
                                               sqlstate="28P01")
                    scram = ScramClient(self._password)
                    self._send(encode(SASLInitialResponse(MECHANISM, scram.first())))
                elif request.code == AUTH_SASL_CONTINUE and scram is not None:
                    self._send(encode(PasswordData(scram.final(request.data))))
                elif request.code == AUTH_SASL_FINAL and scram is not None:
                    scram.verify(request.data)
                elif request.code in (AUTH_CLEARTEXT, AUTH_MD5):
                    raise OperationalError("the server asked for a cleartext or MD5 password; "
                                           "refused: this driver only sends SCRAM proofs",
                                           sqlstate="28000")
                else:
                    raise OperationalError(f"unsupported authentication request "
                                           f"{request.code}", sqlstate="28000")
            elif type_byte == b"K":
                key = decode_backend(type_byte, body)
                self.process_id, self._secret_key = key.process_id, key.secret_key
            elif type_byte == b"Z":
                self._status = chr(body[0])
                return
            elif type_byte == b"v":
                continue
            else:
                raise OperationalError(f"unexpected message {type_byte!r} during startup",
                                       sqlstate="08P01")

    # -- PEP 249 -------------------------------------------------------------------------------
    def cursor(self) -> "Cursor":
        self._check()
        return Cursor(self)

    def commit(self) -> None:
        self._check()
        self._drain()
        if self._status == "I":
            return
        failed = self._status == "E"
        self._simple("COMMIT")
        if failed:
            raise errors.InternalError("the transaction had failed and was rolled back",
                                       sqlstate="25P02")

    def rollback(self) -> None:
        self._check()
        self._drain()
        if self._status != "I":
            self._simple("ROLLBACK")

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._sock.sendall(encode(Terminate()))
        except OSError:
            pass
        self._abort()

    # -- extensions ------------------------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._check()
        if value and self._status != "I":
            self.commit()
        self._autocommit = bool(value)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_transaction(self) -> bool:
        return self._status != "I"

    @property
    def transaction_status(self) -> str:
        """ReadyForQuery's status: 'I' idle, 'T' in a transaction, 'E' failed transaction."""
        return self._status

    def execute(self, sql: str, parameters=None) -> "Cursor":
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters) -> "Cursor":
        return self.cursor().executemany(sql, seq_of_parameters)

    def interrupt(self) -> None:
        """Cancel the statement running on this connection (callable from any thread): a
        CancelRequest on a new connection, as PostgreSQL clients do."""
        if self._closed:
            return
        try:
            with socket.create_connection((self.host, self.port),
                                          timeout=self._connect_timeout) as sock:
                sock.sendall(encode(CancelRequest(self.process_id, self._secret_key)))
                sock.settimeout(self._connect_timeout)
                try:
                    sock.recv(1)  # the server closes the connection when it is done
                except OSError:
                    pass
        except OSError as error:
            raise OperationalError(f"could not send the cancel request: {error}",
                                   sqlstate="08006") from None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._closed:
            return
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    # -- internals -----------------------------------------------------------------------------
    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")

    def _drain(self) -> None:
        active = self._active
        if active is not None:
            active._read_rest()

    def _simple(self, sql: str) -> None:
        self._send(encode(Query(sql)))
        error = self._until_ready()
        if error is not None:
            raise error

    def _begin_prefix(self) -> bytes:
        return b"" if self._autocommit or self._status != "I" else encode(Query("BEGIN"))


class _TryAgain(Exception):
    """This attempt failed in a way the sslmode answers with another attempt."""

    def __init__(self, error: errors.Error) -> None:
        super().__init__(str(error))
        self.error = error


def _tls_context(sslmode: str, sslrootcert: str | None) -> ssl.SSLContext:
    """The client's TLS context for an sslmode other than disable (libpq's rules)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_alpn_protocols(["postgresql"])  # as libpq 17 and later
    except NotImplementedError:  # pragma: no cover
        pass
    verify = sslmode in ("verify-ca", "verify-full")
    if sslrootcert is None and verify:
        default = os.path.join(os.path.expanduser("~"), ".postgresql", "root.crt")
        if not os.path.exists(default):
            raise OperationalError(
                f'root certificate file "{default}" does not exist: give sslrootcert=FILE, '
                f"use the system's trusted roots with sslrootcert=system, or change sslmode "
                f"to disable server certificate verification", sqlstate="08001")
        sslrootcert = default
    if sslrootcert == "system":
        if sslmode != "verify-full":
            raise InterfaceError(f'weak sslmode "{sslmode}" may not be used with '
                                 'sslrootcert=system (use "verify-full")')
        context.load_default_certs()
    elif sslrootcert is not None:
        try:
            context.load_verify_locations(cafile=sslrootcert)
        except (OSError, ValueError) as error:
            raise OperationalError(f'could not read root certificate file "{sslrootcert}": '
                                   f"{getattr(error, 'strerror', None) or error}",
                                   sqlstate="08001") from None
        verify = True  # libpq: with a root certificate, require behaves as verify-ca
    context.check_hostname = sslmode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    return context


def _encode_parameters(values: list) -> tuple[tuple[int, ...], tuple[int, ...], tuple]:
    """(OIDs, format codes, encoded values) for Bind; binary where the type has a form."""
    oids, formats, encoded = [], [], []
    for index, value in enumerate(values):
        if not isinstance(value, _SUPPORTED_PARAMETERS):
            raise ProgrammingError(f"unsupported parameter type {type(value).__name__} "
                                   f"(parameter {index + 1})", sqlstate="42804")
        oid = pgtypes.oid_for_value(value)
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        format_code = 1 if oid in _BINARY_PARAMETER_OIDS else 0
        oids.append(oid)
        formats.append(format_code)
        encoded.append(None if value is None else pgtypes.encoder(oid, format_code)(value))
    return tuple(oids), tuple(formats), tuple(encoded)


def _check_operation(operation: Any, parameters: Any) -> None:
    if not isinstance(operation, str):
        raise ProgrammingError("the statement must be a string")
    if parameters is not None and (not isinstance(parameters, (Sequence, Mapping))
                                   or isinstance(parameters, (str, bytes, bytearray))):
        raise ProgrammingError("parameters must be a sequence or a mapping")


def _rowcount(tag: str) -> int:
    words = tag.split()
    if words and words[0] in ("INSERT", "UPDATE", "DELETE", "SELECT", "MERGE", "FETCH",
                              "MOVE", "COPY") and words[-1].isdigit():
        return int(words[-1])
    return -1


class Cursor:
    """A PEP 249 cursor reading its rows from the connection as they are fetched."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: tuple | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.command_tag = ""
        self._rows: collections.deque[tuple] = collections.deque()
        self._decoders: list[Callable[[bytes], Any]] = []
        self._streaming = False
        self._fetched = 0
        self._closed = False
        self._executed = False

    # -- PEP 249 -------------------------------------------------------------------------------
    def execute(self, operation: str, parameters: Sequence | Mapping | None = None) -> "Cursor":
        self._check()
        _check_operation(operation, parameters)
        connection = self.connection
        connection._drain()
        self._reset()
        sql, values = to_numbered(operation, parameters)
        oids, formats, encoded = _encode_parameters(values)
        prefix = connection._begin_prefix()
        connection._send(prefix + encode(Parse("", sql, oids))
                         + encode(Bind("", "", formats, encoded, (1,)))
                         + encode(Describe("P", "")) + encode(Execute("", 0)) + _SYNC)
        if prefix:
            error = connection._until_ready()
            if error is not None:
                connection._until_ready()
                raise error
        self._executed = True
        self._read_head()
        return self

    def executemany(self, operation: str, seq_of_parameters) -> "Cursor":
        """Runs the statement once per parameter set, atomically as a whole, as the embedded
        driver does: the executions are pipelined (one write, one Sync), so outside a
        transaction they are one implicit transaction of the server, and inside one (autocommit
        off) they join it; the first error stops the rest and undoes the executions before it
        (remotely, the transaction is then failed, until rolled back)."""
        self._check()
        if isinstance(operation, str) and leading_keyword(operation) in _ROW_KEYWORDS:
            raise ProgrammingError("executemany() cannot run a statement that returns rows",
                                   sqlstate="42601")
        connection = self.connection
        connection._drain()
        self._reset()
        batch: list[bytes] = []
        parsed: dict[str, tuple[int, ...]] = {}
        executions = 0
        for parameters in seq_of_parameters:
            _check_operation(operation, parameters)
            sql, values = to_numbered(operation, parameters)
            oids, formats, encoded = _encode_parameters(values)
            if parsed.get(sql) != oids:
                batch.append(encode(Parse("", sql, oids)))
                parsed = {sql: oids}
            batch.append(encode(Bind("", "", formats, encoded, ())))
            batch.append(encode(Execute("", 0)))
            executions += 1
        if not executions:
            self.rowcount = 0
            return self
        prefix = connection._begin_prefix()
        connection._send(prefix + b"".join(batch) + _SYNC)
        if prefix:
            error = connection._until_ready()
            if error is not None:
                connection._until_ready()
                raise error
        total, counted, returned_rows = 0, True, False
        error = None
        while True:
            type_byte, body = connection._read()
            if type_byte == b"C":
                count = _rowcount(decode_backend(type_byte, body).tag)
                if count < 0:
                    counted = False
                total += max(count, 0)
            elif type_byte == b"D":
                returned_rows = True
            elif type_byte == b"E":
                error = connection._error(body)
            elif type_byte == b"Z":
                connection._status = chr(body[0])
                break
        self._executed = True
        if error is not None:
            raise error
        if returned_rows:
            raise ProgrammingError("executemany() cannot run a statement that returns rows")
        self.rowcount = total if counted else -1
        return self

    def fetchone(self) -> tuple | None:
        self._check_result()
        if not self._rows and self._streaming:
            self._read_rows(1)
        if not self._rows:
            return None
        self._fetched += 1
        return self._rows.popleft()

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        self._check_result()
        size = self.arraysize if size is None else size
        if len(self._rows) < size and self._streaming:
            self._read_rows(size - len(self._rows))
        rows = [self._rows.popleft() for _ in range(min(size, len(self._rows)))]
        self._fetched += len(rows)
        return rows

    def fetchall(self) -> list[tuple]:
        self._check_result()
        self._read_rest()
        rows = list(self._rows)
        self._rows.clear()
        self._fetched += len(rows)
        return rows

    def close(self) -> None:
        if self._streaming and not self.connection.closed:
            self._read_rest()
        self._closed = True
        self._rows.clear()

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> tuple:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading a result ------------------------------------------------------------------------
    def _reset(self) -> None:
        self.description = None
        self.rowcount = -1
        self.command_tag = ""
        self._rows.clear()
        self._decoders = []
        self._fetched = 0
        self._streaming = False

    def _read_head(self) -> None:
        """Read up to the first row (or the end): ParseComplete, BindComplete, RowDescription
        or NoData, and for statements without rows their completion."""
        connection = self.connection
        while True:
            type_byte, body = connection._read()
            if type_byte in (b"1", b"2"):
                continue
            if type_byte == b"T":
                fields = decode_backend(type_byte, body).fields
                self.description = tuple(
                    (field.name, pgtypes.type_name_for_oid(field.type_oid), None, None, None,
                     None, None) for field in fields)
                self._decoders = [pgtypes.decoder(field.type_oid, field.format)
                                  for field in fields]
                self._streaming = True
                connection._active = self
                return
            if type_byte == b"n":
                continue
            if type_byte in (b"C", b"I"):
                if type_byte == b"C":
                    self.command_tag = decode_backend(type_byte, body).tag
                    self.rowcount = _rowcount(self.command_tag)
                connection._until_ready()
                return
            if type_byte == b"E":
                raise connection._until_ready(connection._error(body))
            if type_byte == b"Z":
                connection._status = chr(body[0])
                return
            raise OperationalError(f"unexpected message {type_byte!r} from the server",
                                   sqlstate="08P01")

    def _read_rows(self, wanted: int) -> None:
        connection = self.connection
        decoders = self._decoders
        rows = self._rows
        read = 0
        while self._streaming and (wanted < 0 or read < wanted):
            type_byte, body = connection._read()
            if type_byte == b"D":
                try:
                    rows.append(tuple(None if value is None else decode(value)
                                      for decode, value in zip(decoders, decode_data_row(body))))
                except errors.Error:
                    self._finish_stream(None)
                    raise
                read += 1
            elif type_byte == b"C":
                self.command_tag = decode_backend(type_byte, body).tag
                self._finish_stream(None)
            elif type_byte == b"E":
                self._finish_stream(connection._error(body))
            elif type_byte == b"s":
                self._finish_stream(None)
            else:
                self._finish_stream(OperationalError(
                    f"unexpected message {type_byte!r} in a result", sqlstate="08P01"))

    def _finish_stream(self, error: errors.Error | None) -> None:
        connection = self.connection
        self._streaming = False
        if connection._active is self:
            connection._active = None
        error = connection._until_ready(error)
        self.rowcount = self._fetched + len(self._rows)
        if error is not None:
            raise error

    def _read_rest(self) -> None:
        if self._streaming:
            self._read_rows(-1)

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        if self.connection.closed:
            raise InterfaceError("the connection is closed")

    def _check_result(self) -> None:
        self._check()
        if self.description is None:
            raise ProgrammingError("the last statement did not produce rows"
                                   if self._executed else "no statement has been executed")

__all__ = ["connect", "parse_dsn", "Connection", "Cursor", "DEFAULT_PORT", "SSL_MODES"]
