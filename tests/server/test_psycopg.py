"""psycopg 3 against ``aurora_lite.server`` on the real engine (SCRAM login): parameters of every
type, prepared statements, transactions, binary results, errors, cancel, concurrency."""

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
                    except psycopg.OperationalError:   # write lock or serialization
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
    assert stats["connections_accepted"] >= workers and stats["errors"] >= 0


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
