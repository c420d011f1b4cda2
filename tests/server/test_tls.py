"""TLS: ``aurora-lite serve --tls-cert FILE --tls-key FILE [--tls-required]``.

The certificates are made for each run with the ``openssl`` command line (self-signed, for
localhost and 127.0.0.1); without openssl every test here is skipped, saying so.

* ``_startup`` in memory (trio memory streams, no socket): the byte an SSLRequest gets, 'S'
  with TLS configured and 'N' without, then the startup message through TLS or in the clear;
* the protocol over a stub engine in this process: GSSENCRequest 'N', a second SSLRequest,
  bytes sent after the SSLRequest, --tls-required (FATAL 28000, cancel in the clear still
  accepted), a garbage handshake, direct TLS, the statistics; the project's own driver with
  each sslmode, and its cancel request (in the clear) on a TLS connection;
* ``aurora-lite serve`` as a process: psycopg (sslmode require / disable), psql (sslmode=require,
  ``\\conninfo`` shows the SSL line), a garbage handshake beside a working client, and the
  start-up errors (a missing key, one option without the other, a key that does not match).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

import pytest
import trio
import trio.testing

from aurora_lite.dbapi import _remote
from aurora_lite.dbapi._pg import (
    PROTOCOL_3_0, CancelRequest, FrameBuffer, GSSENCRequest, Query, SSLRequest, StartupMessage,
    decode_backend, encode,
)
from aurora_lite.errors import InterfaceError, OperationalError
from aurora_lite.server import Server, ServerConfig
from aurora_lite.server._cli import network_note
from aurora_lite.server._connection import ClientConnection
from aurora_lite.server._startup import handshake
from aurora_lite.server._tls import TLSConfigError, key_file_warning, server_context
from tests.server._process import cli, serving
from tests.server._stub import StubBackend
from tests.server._wire import RawClient, errors_of, kinds

OPENSSL = shutil.which("openssl")
SSL_REQUEST = bytes.fromhex("00 00 00 08 04 d2 16 2f")        # docs/formats/pgwire.md
GSSENC_REQUEST = bytes.fromhex("00 00 00 08 04 d2 16 30")
PASSWORD = "tls-pencil"

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not "
                                "installed: it makes the test certificates")


def make_certificate(directory, name: str = "server") -> tuple[str, str]:
    """A self-signed EC certificate for localhost / 127.0.0.1 and its key (mode 0600)."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN=aurora-lite test {name}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls-other"), "other")


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=cafile)
    return context


def startup_bytes(user: str = "tester") -> bytes:
    return encode(StartupMessage(PROTOCOL_3_0, (("user", user), ("database", "db"))))


# -- _startup, in memory ---------------------------------------------------------------------------
def _handshake_in_memory(config: ServerConfig, client) -> tuple[Server, ClientConnection, dict]:
    """Run ``handshake`` on one end of a memory stream pair, ``client(stream)`` on the other."""
    result: dict = {}

    async def main():
        server = Server(StubBackend(), config)
        server_end, client_end = trio.testing.memory_stream_pair()
        connection = ClientConnection(server, server_end, 1, 2)

        async def server_side():
            result["handshake"] = await handshake(connection)

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server_side)
                result["client"] = await client(client_end)
        if connection.session is not None:
            connection.session.close()
        return server, connection

    server, connection = trio.run(main)
    return server, connection, result


async def _read_until_ready(stream) -> list:
    frames, messages = FrameBuffer(1 << 20), []
    while not messages or type(messages[-1]).__name__ != "ReadyForQuery":
        message = frames.next_message()
        if message is None:
            data = await stream.receive_some(65536)
            assert data, "the server closed the connection"
            frames.feed(data)
            continue
        messages.append(decode_backend(*message))
    return messages


def test_startup_answers_sslrequest_s_with_tls_and_n_without(certificate):
    cert, key = certificate

    async def tls_client(stream):
        await stream.send_all(SSL_REQUEST)
        answer = await stream.receive_some(1)
        tls = trio.SSLStream(stream, client_context(cert), server_hostname="localhost")
        await tls.send_all(startup_bytes())
        return answer, await _read_until_ready(tls), tls.selected_alpn_protocol()

    server, connection, result = _handshake_in_memory(
        ServerConfig(auth="trust", tls_cert=cert, tls_key=key), tls_client)
    answer, messages, alpn = result["client"]
    assert answer == b"S"
    assert result["handshake"] is True and connection.tls
    assert isinstance(connection.stream, trio.SSLStream)
    assert kinds(messages)[-1] == "ReadyForQuery"
    assert alpn is None   # this client offered no ALPN; libpq 17 offers "postgresql"
    assert server.statistics()["tls_connections"] == 1

    async def plain_client(stream):
        await stream.send_all(SSL_REQUEST)
        answer = await stream.receive_some(1)
        await stream.send_all(GSSENC_REQUEST)
        answer += await stream.receive_some(1)
        await stream.send_all(startup_bytes())
        return answer, await _read_until_ready(stream)

    server, connection, result = _handshake_in_memory(ServerConfig(auth="trust"), plain_client)
    answer, messages = result["client"]
    assert answer == b"NN"                     # SSLRequest, GSSENCRequest: both 'N'
    assert result["handshake"] is True and not connection.tls
    assert kinds(messages)[-1] == "ReadyForQuery"
    stats = server.statistics()
    assert (stats["tls"], stats["tls_connections"]) == ("off", 0)


def test_startup_offers_alpn_postgresql(certificate):
    cert, key = certificate

    async def alpn_client(stream):
        await stream.send_all(SSL_REQUEST)
        assert await stream.receive_some(1) == b"S"
        context = client_context(cert)
        context.set_alpn_protocols(["postgresql"])
        tls = trio.SSLStream(stream, context, server_hostname="127.0.0.1")
        await tls.do_handshake()
        protocol = tls.selected_alpn_protocol(), tls.version()
        await tls.send_all(startup_bytes())
        await _read_until_ready(tls)
        return protocol

    _, _, result = _handshake_in_memory(
        ServerConfig(auth="trust", tls_cert=cert, tls_key=key), alpn_client)
    alpn, version = result["client"]
    assert alpn == "postgresql" and version in ("TLSv1.2", "TLSv1.3")


# -- the protocol, over a stub engine in this process ----------------------------------------------
def tls_client(server, cafile: str | None = None) -> RawClient:
    """A RawClient that sent an SSLRequest, got 'S' and finished the TLS handshake."""
    client = RawClient(server.port)
    client.send(SSLRequest())
    assert client.recv_raw(1) == b"S"
    client.sock = client_context(cafile).wrap_socket(client.sock, server_hostname="localhost")
    return client


def wait_for_statistics(server, condition, timeout: float = 10) -> dict:
    """The server's statistics once ``condition(statistics)`` holds (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while not condition(stats := server.statistics()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return stats


@pytest.fixture
def tls_server(make_stub_server, certificate):
    cert, key = certificate
    return make_stub_server(tls_cert=cert, tls_key=key)[0]


@pytest.fixture
def tls_required_server(make_stub_server, certificate):
    cert, key = certificate
    return make_stub_server(tls_cert=cert, tls_key=key, tls_required=True)[0]


def test_tls_session_and_statistics(tls_server, certificate):
    with RawClient(tls_server.port) as client:
        client.send(GSSENCRequest())
        assert client.recv_raw(1) == b"N"         # GSSAPI: still 'N'
        client.send(SSLRequest())
        assert client.recv_raw(1) == b"S"
        client.sock = client_context(certificate[0]).wrap_socket(
            client.sock, server_hostname="localhost")
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert kinds(client.startup())[-1] == "ReadyForQuery"
        client.send(Query("rows 3"))
        assert kinds(client.until_ready()).count("DataRow") == 3
        stats = tls_server.statistics()
        assert stats["tls"] == "on"
        assert stats["tls_connections"] == 1 and stats["connections_tls_active"] == 1
    with RawClient(tls_server.port) as plain:          # TLS offered, not required
        assert kinds(plain.startup())[-1] == "ReadyForQuery"
        # The TLS client's end reaches the server's statistics a moment after its close.
        stats = wait_for_statistics(tls_server, lambda s: s["connections_tls_active"] == 0)
        assert stats["tls_connections"] == 1 and stats["connections_active"] == 1


def test_second_sslrequest_after_tls_is_a_protocol_violation(tls_server):
    with tls_client(tls_server) as client:
        client.send(SSLRequest())
        messages = []
        with pytest.raises(EOFError):
            while True:
                messages.append(client.read())
        assert errors_of(messages) == ["08P01"]
        assert messages[0].get("S") == "FATAL"
        assert "already encrypted" in messages[0].get("M")
    with tls_client(tls_server) as client:     # a GSSENCRequest inside TLS too
        client.send(GSSENCRequest())
        assert errors_of([client.read()]) == ["08P01"]
    assert tls_server.statistics()["protocol_errors"] == 2


def test_unencrypted_bytes_after_the_sslrequest_are_refused(tls_server):
    """CVE-2021-23214: bytes that came with the SSLRequest, before the 'S', must not be taken
    as if they had come through TLS."""
    with RawClient(tls_server.port) as client:
        client.send(SSL_REQUEST + startup_bytes())
        message = client.read()                # in the clear: there is no TLS yet
        assert errors_of([message]) == ["08P01"]
        assert message.get("M") == "received unencrypted data after SSL request"
        assert client.closed_by_server()


def test_tls_required_refuses_the_clear_with_28000(tls_required_server, certificate):
    server = tls_required_server
    with RawClient(server.port) as client:
        client.send(StartupMessage(PROTOCOL_3_0, (("user", "ann"), ("database", "shop"))))
        message = client.read()
        assert errors_of([message]) == ["28000"] and message.get("S") == "FATAL"
        assert message.get("M").startswith('TLS is required: host "127.0.0.1", user "ann", '
                                           'database "shop", no encryption')
        assert client.closed_by_server()
    with tls_client(server, certificate[0]) as client:
        messages = client.startup()
        assert kinds(messages)[-1] == "ReadyForQuery"
        key = next(m for m in messages if type(m).__name__ == "BackendKeyData")
        stats = server.statistics()
        assert stats["tls"] == "required"
        assert stats["tls_required_rejections"] == 1 and stats["tls_connections"] == 1
        # A CancelRequest still comes in the clear (libpq before 17 sends it so): it is
        # taken (and, nothing running, does nothing).
        with RawClient(server.port) as cancel:
            cancel.send(CancelRequest(key.process_id, key.secret_key))
            assert cancel.closed_by_server()
        assert server.statistics()["cancel_requests"] == 1
        client.send(Query("rows 1"))
        assert kinds(client.until_ready())[-1] == "ReadyForQuery"


def test_garbage_handshake_closes_only_that_connection(tls_server):
    with tls_client(tls_server) as good:
        assert kinds(good.startup())[-1] == "ReadyForQuery"
        with RawClient(tls_server.port) as bad:
            bad.send(SSLRequest())
            assert bad.recv_raw(1) == b"S"
            bad.send(os.urandom(512))
            assert bad.closed_by_server()
        good.send(Query("rows 2"))
        assert kinds(good.until_ready()).count("DataRow") == 2
    with RawClient(tls_server.port) as gone:       # 'S', then the client goes away
        gone.send(SSLRequest())
        assert gone.recv_raw(1) == b"S"
    stats = wait_for_statistics(tls_server, lambda s: s["tls_handshake_failures"] >= 2)
    assert stats["tls_handshake_failures"] == 2 and stats["tls_connections"] == 1


def test_direct_tls_needs_alpn_postgresql(tls_server, certificate):
    """PostgreSQL 17's direct TLS: the ClientHello first, no SSLRequest."""
    context = client_context(certificate[0])
    context.set_alpn_protocols(["postgresql"])
    with RawClient(tls_server.port) as client:
        client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
        assert client.sock.selected_alpn_protocol() == "postgresql"
        assert kinds(client.startup())[-1] == "ReadyForQuery"
        client.send(Query("rows 1"))
        assert kinds(client.until_ready()).count("DataRow") == 1
    with RawClient(tls_server.port) as client:
        client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
        client.send(SSLRequest())                 # inside TLS already
        assert errors_of([client.read()]) == ["08P01"]
    with RawClient(tls_server.port) as client:   # no ALPN: refused
        with pytest.raises((ssl.SSLError, OSError, EOFError)):  # TLS 1.3: EOF
            client.sock = client_context().wrap_socket(client.sock,
                                                       server_hostname="localhost")
            client.startup()
    stats = tls_server.statistics()
    assert stats["tls_connections"] == 2 and stats["tls_handshake_failures"] == 1


def test_psycopg_direct_tls(tls_server):
    psycopg = pytest.importorskip("psycopg")
    if psycopg.pq.version() < 170000:
        pytest.skip(f"libpq {psycopg.pq.version()} has no sslnegotiation=direct (17 and later)")
    with psycopg.connect(host="127.0.0.1", port=tls_server.port, user="tester", dbname="db",
                         sslmode="require", sslnegotiation="direct", connect_timeout=10,
                         autocommit=True) as connection:
        assert connection.pgconn.ssl_in_use
        assert connection.execute("rows 2").fetchall()[1][0] == 1
    assert tls_server.statistics()["tls_connections"] == 1


# -- configuration errors --------------------------------------------------------------------------
def test_server_context_names_the_file_at_fault(tmp_path, certificate, other_certificate):
    cert, key = certificate
    assert server_context(cert, key).minimum_version == ssl.TLSVersion.TLSv1_2
    missing = str(tmp_path / "missing.key")
    with pytest.raises(TLSConfigError, match=f"cannot read the TLS key file {missing}: No such"):
        server_context(cert, missing)
    with pytest.raises(TLSConfigError, match="certificate file .*missing.crt"):
        server_context(str(tmp_path / "missing.crt"), key)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TLSConfigError, match=f"certificate file {garbage} holds no PEM"):
        server_context(str(garbage), key)
    with pytest.raises(TLSConfigError, match=f"key file {cert} holds no PEM private key"):
        server_context(cert, cert)
    broken = tmp_path / "broken.crt"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TLSConfigError, match=f"certificate file {broken} is not a valid"):
        server_context(str(broken), key)
    with pytest.raises(TLSConfigError, match=f"key file {other_certificate[1]} does not hold "
                                             f"the private key of the certificate in {cert}"):
        server_context(cert, other_certificate[1])
    encrypted = str(tmp_path / "encrypted.key")
    subprocess.run([OPENSSL, "pkey", "-in", key, "-out", encrypted, "-aes256", "-passout",
                    "pass:secret"], check=True, capture_output=True, timeout=60)
    with pytest.raises(TLSConfigError, match=f"key file {encrypted} is protected by a "
                                             "passphrase"):
        server_context(cert, encrypted)
    with pytest.raises(ValueError, match="both a certificate and a key"):
        ServerConfig(tls_cert=cert)
    with pytest.raises(ValueError, match="tls_required needs"):
        ServerConfig(tls_required=True)
    with pytest.raises(TLSConfigError):
        Server(StubBackend(), ServerConfig(auth="trust", tls_cert=cert, tls_key=missing))


def test_startup_notes(tmp_path, certificate):
    assert network_note("127.0.0.1", tls=False, tls_required=False) is None
    assert "there is no TLS" in network_note("0.0.0.0", tls=False, tls_required=False)
    offered = network_note("0.0.0.0", tls=True, tls_required=False)
    assert "there is no TLS" not in offered and "TLS is offered but not required" in offered
    assert network_note("0.0.0.0", tls=True, tls_required=True) is None
    assert key_file_warning(certificate[1]) is None
    loose = tmp_path / "loose.key"
    shutil.copy(certificate[1], loose)
    os.chmod(loose, 0o644)       # world-readable: too open, whoever owns it
    assert "readable by other users (mode 0644)" in key_file_warning(str(loose))


# -- the project's driver: sslmode -----------------------------------------------------------------
def _driver(server, **options):
    return _remote.connect(host="127.0.0.1", port=server.port, user="tester", dbname="db",
                           connect_timeout=10, autocommit=True, **options)


def test_driver_sslmodes(make_stub_server, tls_server, tls_required_server, certificate,
                         other_certificate, monkeypatch):
    monkeypatch.delenv("PGSSLMODE", raising=False)
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    cert = certificate[0]
    plain_server = make_stub_server()[0]
    for server, mode, encrypted in (
            (tls_server, None, True),                    # default: prefer
            (tls_server, "prefer", True), (tls_server, "require", True),
            (tls_server, "disable", False), (tls_server, "allow", False),
            (tls_required_server, "allow", True),        # refused in the clear, then TLS
            (tls_required_server, "require", True),
            (plain_server, "prefer", False), (plain_server, "allow", False),
            (plain_server, "disable", False)):
        with _driver(server, sslmode=mode) as connection:
            assert connection.ssl_in_use is encrypted, (server, mode)
            assert (connection.ssl_protocol is not None) is encrypted
            assert connection.execute("rows 2").fetchall()[1][0] == 1
    with pytest.raises(OperationalError, match="does not support SSL, but SSL was required"):
        _driver(plain_server, sslmode="require")
    with pytest.raises(OperationalError) as caught:
        _driver(tls_required_server, sslmode="disable")
    assert caught.value.sqlstate == "28000" and "TLS is required" in str(caught.value)
    # Verification: the self-signed certificate is its own root; it names 127.0.0.1.
    for mode in ("verify-ca", "verify-full", "require"):
        with _driver(tls_server, sslmode=mode, sslrootcert=cert) as connection:
            assert connection.ssl_in_use
    for mode in ("verify-ca", "require", "prefer"):     # never downgraded to the clear
        with pytest.raises(OperationalError, match="certificate failed verification"):
            _driver(tls_server, sslmode=mode, sslrootcert=other_certificate[0])
    url = (f"postgresql://tester@127.0.0.1:{tls_server.port}/db?sslmode=verify-full"
           f"&sslrootcert={cert}")
    with _remote.connect(url, autocommit=True) as connection:
        assert connection.ssl_in_use and connection.sslmode == "verify-full"
    monkeypatch.setenv("PGSSLMODE", "require")
    with pytest.raises(OperationalError, match="does not support SSL"):
        _driver(plain_server)
    monkeypatch.delenv("PGSSLMODE")
    with pytest.raises(InterfaceError, match="invalid sslmode value 'requires'"):
        _driver(tls_server, sslmode="requires")
    with pytest.raises(InterfaceError, match="invalid sslmode value"):
        _remote.connect(f"postgresql://tester@127.0.0.1:{tls_server.port}/db?sslmode=on")
    with pytest.raises(InterfaceError, match='weak sslmode "require"'):
        _driver(tls_server, sslmode="require", sslrootcert="system")
    with pytest.raises(OperationalError, match="could not read root certificate file"):
        _driver(tls_server, sslmode="verify-ca", sslrootcert=str(cert) + ".missing")
    monkeypatch.setenv("HOME", os.path.dirname(cert))      # no ~/.postgresql/root.crt
    with pytest.raises(OperationalError, match="root.crt\" does not exist"):
        _driver(tls_server, sslmode="verify-full")


def test_driver_cancel_goes_in_the_clear_to_a_tls_required_server(tls_required_server):
    import threading
    with _driver(tls_required_server, sslmode="require") as connection:
        assert connection.ssl_in_use
        timer = threading.Timer(0.3, connection.interrupt)
        timer.start()
        try:
            with pytest.raises(OperationalError) as caught:
                connection.execute("sleep 20").fetchall()
        finally:
            timer.cancel()
        assert caught.value.sqlstate == "57014"
        assert connection.execute("rows 1").fetchall()[0][0] == 0
    assert tls_required_server.statistics()["cancel_requests"] == 1


# -- aurora-lite serve, the process ----------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory, certificate):
    """Two ``aurora-lite serve`` processes with one user: TLS offered, and TLS required."""
    cert, key = certificate
    with serving() as start:
        servers = {}
        for name, extra in (("offered", ()), ("required", ("--tls-required",))):
            directory = tmp_path_factory.mktemp(f"serve-tls-{name}")
            assert cli("user", "add", "ann", str(directory),
                       stdin=f"{PASSWORD}\n").returncode == 0
            servers[name] = start(directory, "--tls-cert", cert, "--tls-key", key, *extra)
        yield servers


def _psycopg_connect(port: int, sslmode: str):
    psycopg = pytest.importorskip("psycopg")
    return psycopg.connect(host="127.0.0.1", port=port, user="ann", password=PASSWORD,
                           dbname="aurora", sslmode=sslmode, connect_timeout=10,
                           autocommit=True)


def test_psycopg_sslmode_require_and_disable(served):
    psycopg = pytest.importorskip("psycopg")
    for name in ("offered", "required"):
        with _psycopg_connect(served[name].port, "require") as connection:
            assert connection.pgconn.ssl_in_use
            assert connection.execute("select %s::integer + 1", (41,)).fetchall() == [(42,)]
    url = f"postgresql://ann:{PASSWORD}@127.0.0.1:{served['required'].port}/aurora"
    with _remote.connect(f"{url}?sslmode=require", autocommit=True) as connection:
        assert connection.ssl_in_use and connection.ssl_protocol.startswith("TLSv1.")
        assert connection.execute("select ? || '!'", ("tls",)).fetchall() == [("tls!",)]
    with _remote.connect(url, autocommit=True) as connection:       # default: prefer
        assert connection.ssl_in_use
    with _psycopg_connect(served["offered"].port, "disable") as connection:
        assert not connection.pgconn.ssl_in_use
        assert connection.execute("select 'clear'").fetchall() == [("clear",)]
    with pytest.raises(psycopg.OperationalError) as caught:
        _psycopg_connect(served["required"].port, "disable")
    # libpq reports a startup FATAL as text only (the SQLSTATE 28000 is checked above, raw).
    assert "FATAL:  TLS is required" in str(caught.value)


def _psql_path() -> str:
    found = shutil.which("psql") or ("/usr/bin/psql" if os.path.exists("/usr/bin/psql")
                                     else None)
    if not found:
        pytest.skip("psql is not installed (tests/server/test_psql.py installs "
                    "postgresql-client where it can)")
    return found


def _psql(port: int, sslmode: str, script: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="10", LC_ALL="C.UTF-8")
    return subprocess.run([_psql_path(), "-X", f"host=127.0.0.1 port={port} user=ann "
                           f"dbname=aurora sslmode={sslmode}"], input=script,
                          capture_output=True, text=True, timeout=120, env=env)


def test_psql_sslmode_require(served):
    result = _psql(served["required"].port, "require", "\\conninfo\nselect 40 + 2 as n;\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('You are connected to database "aurora" as user "ann"')
    assert lines[1].startswith("SSL connection (protocol: TLSv1.")
    assert lines[2:] == [" n  ", "----", " 42", "(1 row)", ""]
    refused = _psql(served["required"].port, "disable", "select 1;\n")
    assert refused.returncode == 2 and "TLS is required" in refused.stderr


def test_served_garbage_handshake_beside_a_working_client(served):
    server = served["offered"]
    with _psycopg_connect(server.port, "require") as connection:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(SSL_REQUEST)
            assert raw.recv(1) == b"S"
            raw.sendall(os.urandom(1024))
            raw.settimeout(10)
            try:
                while raw.recv(4096):
                    pass
            except ConnectionResetError:
                pass                                  # closed, the hard way: as good
        assert connection.execute("select 7").fetchall() == [(7,)]
    with _psycopg_connect(server.port, "require") as again:
        assert again.execute("select 8").fetchall() == [(8,)]


def test_served_logs_the_failed_handshake(served):
    """Stops the TLS-offered server (last test of the module to use it)."""
    server = served["offered"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(SSL_REQUEST)
        assert raw.recv(1) == b"S"
        raw.sendall(b"\x16\x03\x01" + struct.pack(">H", 5) + b"hello")
        raw.settimeout(10)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    assert server.stop() == 0
    assert "TLS handshake with 127.0.0.1 failed" in server.stderr
    assert "there is no TLS" not in server.stderr


def test_serve_refuses_to_start_on_bad_tls_options(tmp_path, certificate, other_certificate):
    cert, key = certificate
    data = tmp_path / "data"
    missing = str(tmp_path / "nowhere" / "server.key")
    result = cli("serve", str(data), "--listen", "127.0.0.1:0", "--tls-cert", cert,
                 "--tls-key", missing)
    assert result.returncode == 1
    assert result.stderr.startswith("aurora-lite serve: cannot read the TLS key file "
                                    f"{missing}: No such file or directory")
    assert "listening" not in result.stdout
    assert not data.exists()                      # nothing started, not even the directory
    result = cli("serve", str(data), "--listen", "127.0.0.1:0", "--tls-cert", cert,
                 "--tls-key", other_certificate[1])
    assert result.returncode == 1 and "does not hold the private key" in result.stderr
    assert not data.exists()
    for options, message in ((("--tls-cert", cert), "--tls-cert needs --tls-key too"),
                             (("--tls-key", key), "--tls-key needs --tls-cert too"),
                             (("--tls-required",), "--tls-required needs --tls-cert")):
        result = cli("serve", str(data), "--listen", "127.0.0.1:0", *options)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not data.exists()
