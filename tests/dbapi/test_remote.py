"""The DB-API checks run twice: on the embedded driver and on the remote driver through
``aurora-lite``'s wire server (a parametrised fixture). Where the two differ by design (an
error inside a transaction: statement-level rollback embedded, a failed block remotely, as in
PostgreSQL), the test checks what both guarantee and says so."""

from __future__ import annotations

import datetime
import itertools
import os
import threading
import time

import pytest

from aurora_lite import dbapi, errors
from aurora_lite.dbapi import _remote
from aurora_lite.dbapi._types import BINARY, DATETIME, NUMBER, STRING

PASSWORD = "pw-✓"


@pytest.fixture(scope="module")
def remote_server(tmp_path_factory):
    from aurora_lite.server import (
        EngineBackend, Server, ServerConfig, ServerThread, UserStore, add_user,
    )
    directory = tmp_path_factory.mktemp("remote")
    add_user(directory, "dbapi", PASSWORD, iterations=1024)
    thread = ServerThread(Server(EngineBackend(directory, fsync=False),
                                 ServerConfig(port=0), UserStore(directory)))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop(timeout=30)


@pytest.fixture(scope="module")
def embedded_directory(tmp_path_factory):
    return str(tmp_path_factory.mktemp("embedded"))


@pytest.fixture(params=["embedded", "remote"])
def connect(request, embedded_directory):
    """connect(autocommit=False) -> a PEP 249 connection in this test's mode."""
    opened = []
    if request.param == "remote":
        port = request.getfixturevalue("remote_server").port

        def make(autocommit: bool = False):
            connection = _remote.connect(f"postgresql://dbapi:{PASSWORD}@127.0.0.1:{port}/db",
                                         autocommit=autocommit)
            opened.append(connection)
            return connection
    else:
        def make(autocommit: bool = False):
            connection = dbapi.connect(embedded_directory, autocommit=autocommit,
                                       fsync=False)
            opened.append(connection)
            return connection
    make.mode = request.param
    yield make
    for connection in opened:
        try:
            connection.close()
        except errors.Error:
            pass


_names = itertools.count()


def fill(connection, name: str, count: int, value: str = "v") -> None:
    """``count`` rows (i, value) in a few multi-row INSERTs (quicker than executemany)."""
    cursor = connection.cursor()
    for start in range(0, count, 500):
        rows = ", ".join(f"({i}, '{value}')" for i in range(start, min(start + 500, count)))
        cursor.execute(f"insert into {name} values {rows}")
    if not connection.autocommit:
        connection.commit()


def new_table(connection, columns: str = "id integer primary key, v text") -> str:
    name = f"r{os.getpid()}_{next(_names)}"
    connection.cursor().execute(f"create table {name} ({columns})")
    if not connection.autocommit:
        connection.commit()
    return name


def test_parameters_fetch_and_description(connect):
    connection = connect(autocommit=True)
    name = new_table(connection, "id integer primary key, f double precision, s text, "
                                 "b boolean, by bytea, d date, ts timestamp")
    row = (1, 2.5, "ünï 'q'", True, b"\x00\x01", datetime.date(2024, 2, 29),
           datetime.datetime(2024, 1, 2, 3, 4, 5, 678))
    cursor = connection.cursor()
    cursor.execute(f"insert into {name} values (?, ?, ?, ?, ?, ?, ?)", row)
    assert cursor.rowcount == 1
    cursor.execute(f"insert into {name} (id, s) values (:id, :s)", {"id": 2, "s": None})
    cursor.execute(f"select * from {name} order by id")
    assert [column[0] for column in cursor.description] == \
        ["id", "f", "s", "b", "by", "d", "ts"]
    types = [column[1] for column in cursor.description]
    assert types[0] == NUMBER and types[1] == NUMBER and types[2] == STRING
    assert types[3] == NUMBER and types[4] == BINARY
    assert types[5] == DATETIME and types[6] == DATETIME
    assert types == ["integer", "double precision", "text", "boolean", "bytea", "date",
                     "timestamp"]
    assert cursor.fetchone() == row
    assert cursor.fetchall() == [(2, None, None, None, None, None, None)]
    assert cursor.rowcount == 2
    assert cursor.fetchone() is None
    cursor.execute(f"select id from {name} where s = :s and id = :id", {"s": row[2], "id": 1})
    assert list(cursor) == [(1,)]


def test_rowcount_executemany_and_fetchmany(connect):
    connection = connect(autocommit=True)
    name = new_table(connection)
    cursor = connection.cursor()
    cursor.executemany(f"insert into {name} values (?, ?)", [(i, f"v{i}") for i in range(50)])
    assert cursor.rowcount == 50
    cursor.execute(f"update {name} set v = 'x' where id < ?", (10,))
    assert cursor.rowcount == 10
    cursor.execute(f"delete from {name} where id >= ?", (40,))
    assert cursor.rowcount == 10
    cursor.execute(f"select id from {name} order by id")
    cursor.arraysize = 7
    assert len(cursor.fetchmany()) == 7
    assert [r[0] for r in cursor.fetchmany(5)] == list(range(7, 12))
    assert len(cursor.fetchall()) == 28
    with pytest.raises(errors.ProgrammingError):
        cursor.executemany(f"select id from {name} where id = ?", [(1,), (2,)])


def test_large_result_is_fetched_in_pieces(connect):
    connection = connect(autocommit=True)
    name = new_table(connection)
    fill(connection, name, 6000, "x" * 20)
    cursor = connection.cursor()
    cursor.execute(f"select id, v from {name} order by id")
    total = 0
    while batch := cursor.fetchmany(1000):
        assert batch[0][0] == total
        total += len(batch)
    assert total == 6000
    # A second cursor on the same connection while the first is half read.
    first = connection.cursor()
    first.execute(f"select id from {name} order by id")
    assert first.fetchone() == (0,)
    second = connection.cursor()
    second.execute(f"select count(*) from {name}")
    assert second.fetchall() == [(6000,)]
    assert len(first.fetchall()) == 5999


def test_commit_and_rollback(connect):
    writer = connect()
    reader = connect(autocommit=True)
    name = new_table(writer)
    cursor = writer.cursor()
    cursor.execute(f"insert into {name} values (1, 'a')")
    assert writer.in_transaction
    assert reader.execute(f"select count(*) from {name}").fetchall() == [(0,)]
    writer.commit()
    assert not writer.in_transaction
    assert reader.execute(f"select count(*) from {name}").fetchall() == [(1,)]
    cursor.execute(f"insert into {name} values (2, 'b')")
    writer.rollback()
    assert reader.execute(f"select count(*) from {name}").fetchall() == [(1,)]
    # Turning autocommit on commits what is pending.
    cursor.execute(f"insert into {name} values (3, 'c')")
    writer.autocommit = True
    assert reader.execute(f"select count(*) from {name}").fetchall() == [(2,)]


def test_error_inside_a_transaction_then_rollback(connect):
    connection = connect()
    name = new_table(connection)
    cursor = connection.cursor()
    cursor.execute(f"insert into {name} values (1, 'a')")
    connection.commit()
    cursor.execute(f"insert into {name} values (2, 'b')")
    with pytest.raises(errors.IntegrityError) as caught:
        cursor.execute(f"insert into {name} values (1, 'dup')")
    assert caught.value.sqlstate == "23505"
    # Embedded: the statement alone was undone. Remote: the whole block failed (PostgreSQL).
    # Both: after a rollback only the committed row is there.
    connection.rollback()
    cursor.execute(f"select id from {name}")
    assert cursor.fetchall() == [(1,)]


def test_context_managers(connect):
    connection = connect()
    name = new_table(connection)
    connection.close()
    with connect() as connection:
        connection.cursor().execute(f"insert into {name} values (1, 'kept')")
    assert connection.closed
    with pytest.raises(RuntimeError):
        with connect() as connection:
            connection.cursor().execute(f"insert into {name} values (2, 'dropped')")
            raise RuntimeError("boom")
    with connect(autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"select id from {name}")
        assert cursor.fetchall() == [(1,)]
    with pytest.raises(errors.InterfaceError):
        cursor.execute("select 1")
    with pytest.raises(errors.InterfaceError):
        connection.cursor()


@pytest.mark.parametrize("sql,cls,state", [
    ("select * from no_such_table", errors.ProgrammingError, "42P01"),
    ("selec 1", errors.ProgrammingError, "42601"),
    ("select 1 / 0", errors.DataError, "22012"),
    ("truncate t", errors.NotSupportedError, "0A000"),
])
def test_errors_map_to_pep249_classes(connect, sql, cls, state):
    connection = connect(autocommit=True)
    with pytest.raises(cls) as caught:
        connection.cursor().execute(sql)
    assert caught.value.sqlstate == state
    assert connection.cursor().execute("select 7").fetchall() == [(7,)]


def test_error_position(connect):
    connection = connect(autocommit=True)
    with pytest.raises(errors.ProgrammingError) as caught:
        connection.cursor().execute("select 1, nope")
    assert caught.value.position == 11


def test_misuse(connect):
    connection = connect(autocommit=True)
    cursor = connection.cursor()
    with pytest.raises(errors.ProgrammingError):
        cursor.fetchone()
    cursor.execute("select 1 where 1 = 0")
    assert cursor.fetchall() == []
    name = new_table(connection)
    cursor.execute(f"insert into {name} values (1, 'x')")
    with pytest.raises(errors.ProgrammingError):
        cursor.fetchall()
    with pytest.raises(errors.ProgrammingError):
        cursor.execute("select ?", (1, 2))
    with pytest.raises(errors.ProgrammingError):
        cursor.execute("select ?", "not a sequence")
    cursor.close()
    with pytest.raises(errors.InterfaceError):
        cursor.fetchall()


def test_interrupt(connect):
    connection = connect(autocommit=True)
    name = new_table(connection)
    fill(connection, name, 4000)
    cursor = connection.cursor()
    timer = threading.Timer(0.3, connection.interrupt)
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(errors.OperationalError) as caught:
            # 16 million pairs: seconds of work, interruptible between batches of the join.
            cursor.execute(f"select count(*) from {name} a, {name} b")
            cursor.fetchall()
    finally:
        timer.cancel()
    assert caught.value.sqlstate == "57014"
    assert time.monotonic() - start < 60
    assert cursor.execute("select 1").fetchall() == [(1,)]


# -- remote only -----------------------------------------------------------------------------
def test_remote_connection_options(remote_server):
    port = remote_server.port
    keyword = _remote.connect(host="127.0.0.1", port=port, user="dbapi", password=PASSWORD,
                              dbname="db", autocommit=True)
    with keyword:
        assert keyword.parameters["server_version"] == "15.0 (aurora_lite)"
        assert keyword.transaction_status == "I"
    with pytest.raises(errors.OperationalError) as caught:
        _remote.connect(host="127.0.0.1", port=port, user="dbapi", password="wrong")
    assert caught.value.sqlstate == "28P01"
    with pytest.raises(errors.OperationalError) as caught:
        _remote.connect(host="127.0.0.1", port=port, user="dbapi")
    assert caught.value.sqlstate == "28P01"
    with pytest.raises(errors.InterfaceError):
        _remote.connect("mysql://x@y/z")
    with pytest.raises(errors.InterfaceError):
        _remote.connect(host="127.0.0.1", port=port, pool_pages=3)
    assert _remote.parse_dsn("postgresql://a%40b:p%3Aw@h:7/d%20b?connect_timeout=3") == {
        "user": "a@b", "password": "p:w", "host": "h", "port": 7, "dbname": "d b",
        "connect_timeout": 3.0}


def test_remote_failed_block_semantics(remote_server):
    connection = _remote.connect(host="127.0.0.1", port=remote_server.port, user="dbapi",
                                 password=PASSWORD)
    with connection:
        cursor = connection.cursor()
        with pytest.raises(errors.DataError):
            cursor.execute("select 1 / 0")
        assert connection.transaction_status == "E"
        with pytest.raises(errors.InternalError) as caught:
            cursor.execute("select 1")
        assert caught.value.sqlstate == "25P02"
        with pytest.raises(errors.InternalError):
            connection.commit()
        assert connection.transaction_status == "I"
        assert cursor.execute("select 2").fetchall() == [(2,)]


def test_remote_server_gone(tmp_path):
    from aurora_lite.server import Server, ServerConfig, ServerThread
    from tests.server._stub import StubBackend
    thread = ServerThread(Server(StubBackend(), ServerConfig(port=0, auth="trust"))).start()
    connection = _remote.connect(host="127.0.0.1", port=thread.port, user="x",
                                 autocommit=True)
    thread.stop()
    with pytest.raises(errors.OperationalError) as caught:
        connection.cursor().execute("rows 1")
    assert caught.value.sqlstate in ("08006", "08P01")
    assert connection.closed
    with pytest.raises(errors.OperationalError):
        _remote.connect(host="127.0.0.1", port=thread.port, user="x", connect_timeout=2)
