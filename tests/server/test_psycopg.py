"""psycopg 3 against ``aurora_lite.server`` on the real engine (SCRAM login): parameters of every
type, prepared statements, transactions, binary results, errors, cancel, concurrency - first
in a server thread of this process, then (``test_served_*``) against a real ``aurora-lite
serve`` process with a user added by ``aurora-lite user add``."""

from __future__ import annotations

import datetime
import random
import os
import threading
import time

import pytest

psycopg = pytest.importorskip("psycopg")

from aurora_lite.server import (  # noqa: E402
    EngineBackend, Server, ServerConfig, ServerThread, UserStore, add_user,
)
from tests.server._process import cli, serve_module  # noqa: E402,F401 - fixture

PASSWORD = "s3cret-✓"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pgwire-engine")
    add_user(directory, "app", PASSWORD, iterations=1024)
    thread = ServerThread(Server(EngineBackend(directory, fsync=False),
                                 ServerConfig(port=0, statement_timeout=60),
                                 UserStore(directory)))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop(timeout=30)


@pytest.fixture
def connect(server):
    opened = []

    def make(**options):
        options.setdefault("autocommit", True)
        connection = psycopg.connect(host="127.0.0.1", port=server.port, user="app",
                                     password=PASSWORD, dbname="aurora", connect_timeout=10,
                                     **options)
        opened.append(connection)
        return connection

    yield make
    for connection in opened:
        connection.close()


_counter = iter(range(1_000_000))


def table(conn, columns: str = "id integer primary key, v text") -> str:
    name = f"t{os.getpid()}_{next(_counter)}"
    conn.execute(f"create table {name} ({columns})")
    return name


ALL_TYPES = ("id integer primary key, i integer, f double precision, s text, b boolean, "
             "by bytea, d date, ts timestamp")
ROW = (1, -(2**62), 3.25, "tëxt ✓ 'quoted'", True, b"\x00\xffbytes",
       datetime.date(2024, 2, 29), datetime.datetime(2023, 12, 31, 23, 59, 59, 123456))


def test_login_needs_the_right_password(server):
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host="127.0.0.1", port=server.port, user="app", password="wrong",
                        dbname="x", connect_timeout=10)
    assert "password authentication failed" in str(caught.value)


@pytest.mark.parametrize("binary", [False, True])
def test_parameters_and_results_of_every_type(connect, binary):
    conn = connect()
    name = table(conn, ALL_TYPES)
    conn.execute(f"insert into {name} values (%s, %s, %s, %s, %s, %s, %s, %s)", ROW)
    conn.execute(f"insert into {name} values (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (2,) + (None,) * 7)
    cursor = conn.cursor(binary=binary)
    rows = cursor.execute(f"select * from {name} order by id").fetchall()
    assert rows == [ROW, (2,) + (None,) * 7]
    assert [column.type_code for column in cursor.description] == \
        [20, 20, 701, 25, 16, 17, 1082, 1114]
    assert cursor.execute(f"select s from {name} where id = %s and b = %s and d = %s",
                          (1, True, ROW[6])).fetchall() == [(ROW[3],)]
    assert cursor.execute(f"select id from {name} where by = %s", (ROW[5],)).fetchall() == \
        [(1,)]


def test_placeholders_without_blanks(connect):
    # psycopg turns '%s,%s' into '$1,$2'.
    conn = connect()
    assert conn.execute("select %s,%s", (1, 2)).fetchall() == [(1, 2)]
    name = table(conn)
    conn.execute(f"insert into {name} values (%s,%s)", (1, "a"))
    assert conn.execute(f"select id,v from {name} where id=%s", (1,)).fetchall() == [(1, "a")]


def test_prepared_statements(connect):
    conn = connect()
    name = table(conn)
    for i in range(10):
        conn.execute(f"insert into {name} values (%s, %s)", (i, f"v{i}"), prepare=True)
    for i in range(10):
        assert conn.execute(f"select v from {name} where id = %s", (i,),
                            prepare=True).fetchone() == (f"v{i}",)
    assert conn.execute(f"select count(*) from {name}", prepare=True).fetchone() == (10,)
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute("select * from no_such_table", prepare=True)


def test_transactions(connect):
    conn = connect(autocommit=False)
    other = connect()
    name = table(conn)
    conn.commit()
    conn.execute(f"insert into {name} values (1, 'a')")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert other.execute(f"select count(*) from {name}").fetchone() == (0,)
    conn.commit()
    assert other.execute(f"select count(*) from {name}").fetchone() == (1,)
    conn.execute(f"insert into {name} values (2, 'b')")
    conn.rollback()
    assert other.execute(f"select count(*) from {name}").fetchone() == (1,)
    # An error inside a transaction: the block fails until rolled back.
    conn.execute(f"insert into {name} values (3, 'c')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(f"insert into {name} values (1, 'dup')")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        conn.execute("select 1")
    conn.rollback()
    assert conn.execute(f"select count(*) from {name}").fetchone() == (1,)
    conn.rollback()
    # The transaction() context manager commits, or rolls back on an exception.
    conn.autocommit = True
    with conn.transaction():
        conn.execute(f"insert into {name} values (4, 'd')")
    with pytest.raises(ZeroDivisionError):
        with conn.transaction():
            conn.execute(f"insert into {name} values (5, 'e')")
            raise ZeroDivisionError
    assert sorted(r[0] for r in other.execute(f"select id from {name}")) == [1, 4]


def test_errors_carry_sqlstate_and_position(connect):
    conn = connect()
    with pytest.raises(psycopg.errors.UndefinedTable) as caught:
        conn.execute("select * from nowhere")
    assert caught.value.sqlstate == "42P01"
    with pytest.raises(psycopg.errors.UndefinedColumn) as caught:
        conn.execute("select 1, nope")
    assert caught.value.diag.statement_position == "11"
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("select 1 / 0")
    with pytest.raises(psycopg.errors.SyntaxError):
        conn.execute("selec 1")
    assert conn.execute("select 2").fetchone() == (2,)


def test_executemany_and_large_results(connect):
    conn = connect()
    name = table(conn)
    with conn.cursor() as cursor:
        cursor.executemany(f"insert into {name} values (%s, %s)",
                           [(i, "x" * (i % 50)) for i in range(3000)])
    cursor = conn.cursor()
    cursor.execute(f"select id, v from {name} order by id")
    seen = 0
    while batch := cursor.fetchmany(700):
        assert batch[0][0] == seen
        seen += len(batch)
    assert seen == 3000
    with pytest.raises(psycopg.errors.UniqueViolation):
        with conn.cursor() as cursor:
            cursor.executemany(f"insert into {name} values (%s, %s)",
                               [(5000, "new"), (1, "dup")])
    # The pipeline was one implicit transaction: the row before the failure is gone too.
    assert conn.execute(f"select count(*) from {name} where id = 5000").fetchone() == (0,)
    # Server-side cursors (DECLARE / FETCH), in a transaction and WITH HOLD.
    with connect(autocommit=False) as tx:
        with tx.cursor(name="big") as cursor:
            cursor.itersize = 100
            cursor.execute(f"select id from {name} where id < %s order by id", (2500,))
            assert [row[0] for row in cursor] == list(range(2500))
    with connect() as auto:
        with auto.cursor(name="held", withhold=True, binary=True) as cursor:
            cursor.execute(f"select id, v from {name} order by id")
            assert cursor.fetchmany(3) == [(0, ""), (1, "x"), (2, "xx")]
            assert len(cursor.fetchall()) == 2997


def test_cancel(connect):
    conn = connect()
    name = table(conn)
    for start in range(0, 4000, 500):
        conn.execute(f"insert into {name} values "
                     + ", ".join(f"({i}, 'v')" for i in range(start, start + 500)))
    # cancel_safe: libpq's blocking PQcancel would hold the GIL the in-process server needs.
    timer = threading.Timer(0.3, conn.cancel_safe)
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            # 16 million pairs: seconds of work, interruptible between batches of the join.
            conn.execute(f"select count(*) from {name} a, {name} b")
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert conn.execute("select 1").fetchone() == (1,)


def test_many_concurrent_connections(connect, server):
    seed = random.randrange(1 << 32)
    print(f"seed={seed}")
    setup = connect()
    name = table(setup, "id integer primary key, worker integer, n integer")
    workers, per_worker = 16, 15
    failures: list[BaseException] = []
    retries: list[str] = []          # each is one ErrorResponse the server counted
    before = server.statistics()

    def work(worker: int) -> None:
        rng = random.Random(seed + worker)
        try:
            conn = connect(autocommit=rng.random() < 0.5)
            for n in range(per_worker):
                for attempt in range(20):
                    try:
                        conn.execute(f"insert into {name} values (%s, %s, %s)",
                                     (worker * 1000 + n, worker, n))
                        if not conn.autocommit:
                            conn.commit()
                        break
                    except psycopg.OperationalError as error:  # write lock or serialization
                        retries.append(error.sqlstate)
                        if not conn.autocommit:
                            conn.rollback()
                        time.sleep(rng.random() * 0.05)
                count = conn.execute(f"select count(*) from {name} where worker = %s",
                                     (worker,)).fetchone()[0]
                assert count == n + 1
                if not conn.autocommit:
                    conn.rollback()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures
    assert setup.execute(f"select count(*) from {name}").fetchone() == (workers * per_worker,)
    stats = server.statistics()
    print(f"{len(retries)} retries: {sorted(set(map(str, retries)))}")
    assert stats["connections_accepted"] - before["connections_accepted"] == workers
    # Every error the server sent was one of the retried write conflicts, nothing else.
    assert stats["errors"] - before["errors"] == len(retries)
    assert all(state is not None and state[:2] in ("40", "55") for state in retries), \
        retries
    inserts_and_counts = 2 * workers * per_worker
    assert stats["statements"] - before["statements"] >= inserts_and_counts


def test_describe_prepared_statement_without_running_it(connect, server):
    # A raw client: libpq's blocking PQprepare/PQdescribePrepared would hold the GIL the
    # in-process server needs.
    from aurora_lite.dbapi._pg import (
        PROTOCOL_3_0, Describe, Parse, PasswordData, SASLInitialResponse, ScramClient,
        StartupMessage, Sync,
    )
    from tests.server._wire import RawClient, errors_of, kinds

    conn = connect()
    name = table(conn, ALL_TYPES)
    with RawClient(server.port) as client:
        client.send(StartupMessage(PROTOCOL_3_0, (("user", "app"),)))
        client.read()
        scram = ScramClient(PASSWORD)
        client.send(SASLInitialResponse("SCRAM-SHA-256", scram.first()))
        client.send(PasswordData(scram.final(client.read().data)))
        client.until_ready()
        client.send(Parse("probe", f"select id, f, s, d from {name} where id = $1 and s = $2",
                          (20,)), Describe("S", "probe"),
                    Parse("ins", f"insert into {name} (id) values ($1)", (20,)),
                    Describe("S", "ins"), Sync())
        messages = client.until_ready()
        assert kinds(messages) == ["ParseComplete", "ParameterDescription", "RowDescription",
                                   "ParseComplete", "ParameterDescription", "NoData",
                                   "ReadyForQuery"]
        assert messages[1].oids == (20, 25)
        assert [(f.name, f.type_oid) for f in messages[2].fields] == \
            [("id", 20), ("f", 701), ("s", 25), ("d", 1082)]
        assert messages[4].oids == (20,)
        client.send(Parse("bad", "select * from nowhere", ()), Sync())
        assert errors_of(client.until_ready()) == ["42P01"]   # checked at Parse
    assert conn.execute(f"select count(*) from {name}").fetchone() == (0,)  # nothing ran


def test_empty_query(connect):
    conn = connect()
    cursor = conn.execute("-- nothing here")
    assert cursor.pgresult.status == psycopg.pq.ExecStatus.EMPTY_QUERY


# -- against a real ``aurora-lite serve`` process ----------------------------------------------------
# The same client, now against the command users run: a user added with ``aurora-lite user
# add`` (the password read from stdin), SCRAM login, and libpq's blocking calls (no GIL shared
# with the server here).

@pytest.fixture(scope="module")
def served(tmp_path_factory, serve_module):
    directory = tmp_path_factory.mktemp("psycopg-served")
    added = cli("user", "add", "app", str(directory), stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert cli("user", "list", str(directory)).stdout == "app\n"
    return serve_module(directory, "--quiet")


@pytest.fixture
def connect_served(served):
    opened = []

    def make(**options):
        options.setdefault("autocommit", True)
        connection = psycopg.connect(host="127.0.0.1", port=served.port, user="app",
                                     password=PASSWORD, dbname="aurora", connect_timeout=10,
                                     **options)
        opened.append(connection)
        return connection

    yield make
    for connection in opened:
        connection.close()


def test_served_scram_login(served, connect_served):
    conn = connect_served()
    assert conn.pgconn.used_password          # the server asked for it: SCRAM, not trust
    assert conn.info.parameter_status("server_version") == "15.0 (aurora_lite)"
    assert conn.execute("select 1").fetchone() == (1,)
    for password in ("wrong", ""):
        with pytest.raises(psycopg.OperationalError) as caught:
            psycopg.connect(host="127.0.0.1", port=served.port, user="app", password=password,
                            dbname="aurora", connect_timeout=10)
        assert "password authentication failed" in str(caught.value) or \
            "no password supplied" in str(caught.value)
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host="127.0.0.1", port=served.port, user="nobody", password="x",
                        dbname="aurora", connect_timeout=10)
    assert 'password authentication failed for user "nobody"' in str(caught.value)


@pytest.mark.parametrize("binary", [False, True])
def test_served_parameters_of_every_type(connect_served, binary):
    conn = connect_served()
    name = table(conn, ALL_TYPES)
    conn.cursor(binary=binary).execute(
        f"insert into {name} values (%s, %s, %s, %s, %s, %s, %s, %s)", ROW)
    cursor = conn.cursor(binary=binary)
    assert cursor.execute(f"select * from {name}").fetchall() == [ROW]
    assert [column.type_code for column in cursor.description] == \
        [20, 20, 701, 25, 16, 17, 1082, 1114]
    assert cursor.execute(f"select id from {name} where ts = %s and by = %s and f = %s",
                          (ROW[7], ROW[5], ROW[2])).fetchall() == [(1,)]


@pytest.mark.parametrize("binary", [False, True])
def test_served_float4_and_varchar_parameters(connect_served, binary):
    """float4 (OID 700) and varchar (OID 1043) parameters, sent in text (%t) or in binary
    (%b): the value comes back as sent (a float4 holds a binary32 value; the engine keeps it
    in double precision, the text in text)."""
    from psycopg.types.numeric import Float4
    from psycopg.types.string import StrBinaryDumperVarchar, StrDumperVarchar

    conn = connect_served()
    conn.adapters.register_dumper(str, StrDumperVarchar)
    conn.adapters.register_dumper(str, StrBinaryDumperVarchar)
    p = "%b" if binary else "%t"
    name = table(conn, "id integer primary key, r double precision, v text")
    values = [(1, 1.5, "varchar ✓ 'q'"), (2, -2.25, ""), (3, 3.4028234663852886e38, "x" * 300),
              (4, 0.10000000149011612, "ünï")]
    cursor = conn.cursor(binary=binary)
    for row_id, real, text in values:
        cursor.execute(f"insert into {name} values (%s, {p}, {p})", (row_id, Float4(real), text))
        assert cursor.execute(f"select {p}, {p}", (Float4(real), text)).fetchone() == \
            (real, text)
    assert cursor.execute(f"select id, r, v from {name} order by id").fetchall() == values
    assert cursor.execute(f"select id from {name} where v = {p} and r = {p}",
                          ("ünï", Float4(0.1))).fetchall() == [(4,)]
    # 0.1 as a float4 is binary32's 0.1 in both formats (PostgreSQL's float4in rounds the
    # text too): the server read the parameter as float4, not as float8 or unknown.
    assert cursor.execute(f"select {p}", (Float4(0.1),)).fetchone() == (0.10000000149011612,)
    assert cursor.execute(f"select {p}", (Float4(0.1),)).fetchone() != (0.1,)
    if not binary:
        # Beyond binary32's range (binary cannot even carry it): 22003, as PostgreSQL.
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            cursor.execute("select %t", (Float4(1e39),))
        assert cursor.execute("select %t", ("still here",)).fetchone() == ("still here",)


def test_served_prepared_statements(connect_served):
    conn = connect_served()
    name = table(conn)
    for i in range(10):
        conn.execute(f"insert into {name} values (%s, %s)", (i, f"v{i}"), prepare=True)
    assert conn.execute(f"select v from {name} where id = %s", (7,), prepare=True
                        ).fetchone() == ("v7",)
    # libpq's own named statements: Parse, Describe of the statement, Bind/Execute many times.
    pgconn = conn.pgconn
    result = pgconn.prepare(b"by_id", f"select id, v from {name} where id = $1".encode(),
                            [20])
    assert result.status == psycopg.pq.ExecStatus.COMMAND_OK
    described = pgconn.describe_prepared(b"by_id")
    assert described.nparams == 1 and described.param_type(0) == 20
    assert [(described.fname(i), described.ftype(i)) for i in range(described.nfields)] == \
        [(b"id", 20), (b"v", 25)]
    for i in (3, 9, 42):
        result = pgconn.exec_prepared(b"by_id", [str(i).encode()])
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK
        assert [result.get_value(row, 1) for row in range(result.ntuples)] == \
            ([f"v{i}".encode()] if i < 10 else [])
    # A second Parse of the same name is 42P05; a bad statement fails at Parse (42P01).
    assert pgconn.prepare(b"by_id", b"select 1").error_field(
        psycopg.pq.DiagnosticField.SQLSTATE) == b"42P05"
    assert pgconn.prepare(b"bad", b"select * from nowhere").error_field(
        psycopg.pq.DiagnosticField.SQLSTATE) == b"42P01"
    assert conn.execute("select 5").fetchone() == (5,)


def test_served_transactions(connect_served):
    conn = connect_served(autocommit=False)
    other = connect_served()
    name = table(conn)
    conn.commit()
    conn.execute(f"insert into {name} values (1, 'a')")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert other.execute(f"select count(*) from {name}").fetchone() == (0,)
    conn.commit()
    assert other.execute(f"select count(*) from {name}").fetchone() == (1,)
    conn.execute(f"insert into {name} values (2, 'b')")
    conn.rollback()
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(f"insert into {name} values (1, 'dup')")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        conn.execute("select 1")
    conn.rollback()
    conn.autocommit = True
    with conn.transaction():
        conn.execute(f"insert into {name} values (3, 'c')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        with conn.transaction():              # the failing block is rolled back whole
            conn.execute(f"insert into {name} values (4, 'd')")
            conn.execute(f"insert into {name} values (3, 'again')")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert sorted(row[0] for row in other.execute(f"select id from {name}")) == [1, 3]


def test_served_errors_carry_sqlstate(connect_served):
    conn = connect_served()
    name = table(conn)
    conn.execute(f"insert into {name} values (1, 'a')")
    cases = [(f"insert into {name} values (1, 'b')", psycopg.errors.UniqueViolation, "23505"),
             ("select 1 / 0", psycopg.errors.DivisionByZero, "22012"),
             ("select * from nowhere", psycopg.errors.UndefinedTable, "42P01"),
             ("selec 1", psycopg.errors.SyntaxError, "42601")]
    for sql, cls, state in cases:
        with pytest.raises(cls) as caught:
            conn.execute(sql)
        assert caught.value.sqlstate == state == caught.value.diag.sqlstate
        assert caught.value.diag.severity == "ERROR"
    with pytest.raises(psycopg.errors.UndefinedColumn) as caught:
        conn.execute(f"select id, nope from {name}")
    assert caught.value.diag.statement_position == "12"
    assert conn.execute(f"select v from {name}").fetchall() == [("a",)]


def test_served_cancel(connect_served):
    conn = connect_served()
    name = table(conn)
    conn.execute(f"insert into {name} values "
                 + ", ".join(f"({i}, 'v')" for i in range(3000)))
    timer = threading.Timer(0.3, conn.cancel)      # libpq's blocking cancel: fine here
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(f"select count(*) from {name} a, {name} b")
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert conn.execute("select 1").fetchone() == (1,)
