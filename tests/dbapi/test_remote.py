"""The DB-API checks run twice (the ``connect`` fixture of tests/dbapi/conftest.py): on the
embedded driver and on the remote driver through an ``aurora-lite serve`` process, both
through ``aurora_lite.connect``. Where the two differ by design (an error inside a
transaction: statement-level rollback embedded, a failed block remotely, as in PostgreSQL),
the test checks what both guarantee and says so. The remote-only tests at the end cover the
connection forms (URL, keywords) and what only a server does."""

from __future__ import annotations

import datetime
import itertools
import os
import threading
import time

import pytest

import aurora_lite
from aurora_lite import errors
from aurora_lite.dbapi import _remote
from aurora_lite.dbapi._types import BINARY, DATETIME, NUMBER, STRING

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


# -- the PEP 249 surface, in both modes -------------------------------------------------------
EXCEPTIONS = {"Warning": Exception, "Error": Exception, "InterfaceError": "Error",
              "DatabaseError": "Error", "DataError": "DatabaseError",
              "OperationalError": "DatabaseError", "IntegrityError": "DatabaseError",
              "InternalError": "DatabaseError", "ProgrammingError": "DatabaseError",
              "NotSupportedError": "DatabaseError"}


def test_module_globals_and_exception_classes(connect):
    assert (aurora_lite.apilevel, aurora_lite.threadsafety, aurora_lite.paramstyle) == \
        ("2.0", 1, "qmark")
    connection = connect(autocommit=True)
    for name, base in EXCEPTIONS.items():
        cls = getattr(aurora_lite, name)
        assert cls.__bases__ == ((base,) if isinstance(base, type)
                                 else (getattr(aurora_lite, base),))
        assert getattr(connection, name) is cls            # the optional extension
    for sql, name in (("select * from nowhere", "ProgrammingError"),
                      ("select 1 / 0", "DataError")):
        with pytest.raises(connection.DatabaseError) as caught:
            connection.cursor().execute(sql)
        assert type(caught.value) is getattr(connection, name)
    with pytest.raises(connection.ProgrammingError):
        connection.cursor().execute(42)


def test_cursor_attributes_and_methods(connect):
    connection = connect(autocommit=True)
    name = new_table(connection)
    cursor = connection.cursor()
    assert cursor.connection is connection
    assert (cursor.description, cursor.rowcount, cursor.arraysize) == (None, -1, 1)
    assert cursor.setinputsizes([int, str]) is None
    assert cursor.setoutputsize(100) is None and cursor.setoutputsize(100, 0) is None
    cursor.execute(f"insert into {name} values (?, ?), (?, ?), (?, ?)",
                   (1, "a", 2, "b", 3, "c"))
    assert (cursor.description, cursor.rowcount) == (None, 3)
    assert cursor.lastrowid is None or isinstance(cursor.lastrowid, int)
    cursor.execute(f"update {name} set v = v where id > ?", (1,))
    assert cursor.rowcount == 2
    cursor.execute(f"select id, v from {name} order by id")
    assert [column[:2] for column in cursor.description] == [("id", "integer"), ("v", "text")]
    assert all(len(column) == 7 for column in cursor.description)
    assert cursor.fetchmany() == [(1, "a")]                # arraysize rows
    cursor.arraysize = 5
    assert cursor.fetchmany() == [(2, "b"), (3, "c")]
    assert cursor.fetchmany() == [] and cursor.fetchone() is None and cursor.fetchall() == []
    assert cursor.rowcount == 3
    assert list(cursor.execute(f"select id from {name} where id < ? order by id", (3,))) == \
        [(1,), (2,)]
    cursor.close()
    cursor.close()                                         # closing twice is harmless
    for call in (lambda: cursor.execute("select 1"), cursor.fetchone, cursor.fetchall,
                 lambda: cursor.executemany(f"insert into {name} values (?, ?)", [])):
        with pytest.raises(errors.InterfaceError):
            call()
    connection.close()
    connection.close()
    with pytest.raises(errors.InterfaceError):
        connection.cursor()
    with pytest.raises(errors.InterfaceError):
        connection.commit()


# -- remote only -----------------------------------------------------------------------------
def test_public_connect_keyword_form(remote_options, remote_server):
    """aurora_lite.connect(host=..., port=..., user=..., password=...): the remote driver."""
    connection = aurora_lite.connect(**remote_options, dbname="db", autocommit=True)
    with connection:
        assert isinstance(connection, _remote.Connection)
        assert (connection.host, connection.port, connection.user, connection.dbname) == \
            ("127.0.0.1", remote_server.port, "dbapi", "db")
        assert connection.parameters["server_version"] == "15.0 (aurora_lite)"
        assert connection.parameters["application_name"] == "aurora_lite"
        assert connection.transaction_status == "I"
        name = new_table(connection)
        connection.execute(f"insert into {name} values (?, ?)", (1, "kw"))
        assert connection.execute(f"select v from {name}").fetchall() == [("kw",)]
    assert connection.closed
    # Without a dbname the user's name is the database name, as libpq does.
    with aurora_lite.connect(**remote_options) as default:
        assert default.dbname == "dbapi" and not default.autocommit
        assert default.execute("select 1").fetchall() == [(1,)]
    options = dict(remote_options)
    with pytest.raises(errors.OperationalError) as caught:
        aurora_lite.connect(**{**options, "password": "wrong"})
    assert caught.value.sqlstate == "28P01"
    with pytest.raises(errors.OperationalError) as caught:
        aurora_lite.connect(**{**options, "password": None})
    assert caught.value.sqlstate == "28P01" and "no password given" in str(caught.value)
    with pytest.raises(errors.OperationalError) as caught:     # this server has no TLS
        aurora_lite.connect(**options, sslmode="require")
    assert caught.value.sqlstate == "08001" and "does not support SSL" in str(caught.value)
    with pytest.raises(errors.InterfaceError) as caught:
        aurora_lite.connect(**options, sslmode="bogus")
    assert "invalid sslmode value 'bogus'" in str(caught.value)
    with pytest.raises(errors.InterfaceError) as caught:
        aurora_lite.connect(**options, sslcert="client.crt")
    assert "unknown connect() option(s): sslcert" in str(caught.value)
    with pytest.raises(errors.OperationalError) as caught:
        aurora_lite.connect(**{**options, "port": _free_port()}, connect_timeout=2)
    assert caught.value.sqlstate == "08001"


def test_public_connect_url_form(remote_url, remote_options, remote_server):
    """aurora_lite.connect("postgresql://user:password@host:port/dbname"), and keywords
    overriding what the URL says."""
    connection = aurora_lite.connect(remote_url, autocommit=True)
    with connection:
        assert isinstance(connection, _remote.Connection)
        assert (connection.user, connection.dbname) == ("dbapi", "db")
        assert connection.execute("select ?", ("url",)).fetchall() == [("url",)]
    with aurora_lite.connect(remote_url.replace("postgresql://", "postgres://")) as other:
        assert other.execute("select 2").fetchall() == [(2,)]
    without_password = f"postgresql://dbapi@127.0.0.1:{remote_server.port}/db"
    with pytest.raises(errors.OperationalError) as caught:
        aurora_lite.connect(without_password)
    assert caught.value.sqlstate == "28P01"
    with aurora_lite.connect(without_password, password=remote_options["password"]) as keyword:
        assert keyword.execute("select 3").fetchall() == [(3,)]
    query = f"{remote_url}?application_name=urltest&connect_timeout=5"
    with aurora_lite.connect(query, autocommit=True) as named:
        assert named.parameters["application_name"] == "urltest"
    with pytest.raises(errors.InterfaceError):
        aurora_lite.connect(f"{remote_url}?sslcert=client.crt")   # an option it does not know
    with pytest.raises(errors.OperationalError):
        aurora_lite.connect(f"{remote_url}?sslmode=require")      # this server has no TLS
    assert _remote.parse_dsn("postgresql://a%40b:p%3Aw@h:7/d%20b?connect_timeout=3") == {
        "user": "a@b", "password": "p:w", "host": "h", "port": 7, "dbname": "d b",
        "connect_timeout": 3.0}


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_remote_failed_block_semantics(remote_options):
    connection = aurora_lite.connect(**remote_options)
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
