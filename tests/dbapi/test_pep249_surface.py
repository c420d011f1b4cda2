"""The PEP 249 (DB-API 2.0) surface of the embedded driver (issue 2, part 10).

Everything here runs through ``aurora_lite.connect(DIR, storage="local")``, the way an
application uses the driver: module globals, the exception hierarchy (also as Connection
attributes), cursor attributes and methods, type objects against the type codes the driver
really puts in ``description``, the constructors bound as parameters and read back, and
``Connection.statistics()``. The type objects' comparison table and the constructors' edge
cases are unit-tested in tests/dbapi/test_types.py.
"""

from __future__ import annotations

import datetime
import threading

import pytest

import aurora_lite
import aurora_lite.dbapi

EXCEPTIONS = {
    # name: its direct base, as PEP 249 draws the tree
    "Warning": Exception,
    "Error": Exception,
    "InterfaceError": "Error",
    "DatabaseError": "Error",
    "DataError": "DatabaseError",
    "OperationalError": "DatabaseError",
    "IntegrityError": "DatabaseError",
    "InternalError": "DatabaseError",
    "ProgrammingError": "DatabaseError",
    "NotSupportedError": "DatabaseError",
}


@pytest.fixture
def connection(tmp_path):
    connection = aurora_lite.connect(str(tmp_path / "db"), storage="local")
    yield connection
    connection.close()


@pytest.fixture
def cursor(connection):
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)")
    cursor.executemany("INSERT INTO t VALUES (?, ?, ?)",
                       [(i, f"n{i}", i * 1.5) for i in range(1, 11)])
    connection.commit()
    return cursor


# -- module globals ----------------------------------------------------------------------------

def test_module_globals():
    for module in (aurora_lite, aurora_lite.dbapi):
        assert module.apilevel == "2.0"
        assert module.paramstyle == "qmark"
        assert type(module.threadsafety) is int and module.threadsafety in (0, 1, 2, 3)
    # The driver documents level 1 (aurora_lite/dbapi/__init__.py): threads may share the
    # module, not connections; each thread opens its own connection.
    assert aurora_lite.threadsafety == 1


def test_threadsafety_1_threads_share_the_module_with_a_connection_each(tmp_path):
    directory = str(tmp_path / "db")
    with aurora_lite.connect(directory, storage="local") as setup:
        setup.execute("CREATE TABLE t (thread INTEGER, n INTEGER, PRIMARY KEY (thread, n))")
    failures: list[BaseException] = []

    def work(number: int) -> None:
        try:
            with aurora_lite.connect(directory, storage="local") as own:
                for n in range(20):
                    own.execute("INSERT INTO t VALUES (?, ?)", (number, n))
                    count = own.execute("SELECT count(*) FROM t WHERE thread = ?",
                                        (number,)).fetchone()
                    assert count == (n + 1,)    # its own writes, uncommitted yet
                    own.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert failures == []
    with aurora_lite.connect(directory, storage="local") as check:
        assert check.execute("SELECT thread, count(*) FROM t GROUP BY thread ORDER BY thread"
                             ).fetchall() == [(0, 20), (1, 20), (2, 20)]


def test_qmark_parameters(cursor):
    cursor.execute("SELECT name FROM t WHERE id = ? OR id = ? ORDER BY id", (2, 3))
    assert cursor.fetchall() == [("n2",), ("n3",)]
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.execute("SELECT name FROM t WHERE id = ?", (1, 2))   # wrong number


def test_named_parameters_are_accepted(cursor):
    cursor.execute("SELECT name FROM t WHERE id = :low OR id = :high OR id = :low ORDER BY id",
                   {"high": 4, "low": 1})
    assert cursor.fetchall() == [("n1",), ("n4",)]
    cursor.execute("INSERT INTO t (id, name) VALUES (:ident, :label)",
                   {"ident": 50, "label": "fifty"})
    cursor.execute("SELECT name FROM t WHERE id = 50")
    assert cursor.fetchone() == ("fifty",)
    with pytest.raises(aurora_lite.ProgrammingError, match=":high"):
        cursor.execute("SELECT 1 FROM t WHERE id = :low OR id = :high", {"low": 1})
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.execute("SELECT 1 FROM t WHERE id = :low", (1,))       # a sequence for :name


@pytest.mark.parametrize("word", ["name", "date", "type", "limit", "table", "filter", "text"])
def test_named_parameters_may_be_called_like_keywords(cursor, word):
    cursor.execute(f"SELECT id FROM t WHERE name = :{word}", {word: "n3"})
    assert cursor.fetchall() == [(3,)]


# -- exceptions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, base", EXCEPTIONS.items())
def test_exception_hierarchy(name, base, connection):
    cls = getattr(aurora_lite, name)
    base_cls = base if isinstance(base, type) else getattr(aurora_lite, base)
    assert isinstance(cls, type) and issubclass(cls, Exception)
    assert base_cls in cls.__bases__, f"{name} should derive from {base_cls.__name__}"
    # Everything else is where PEP 249 puts it, and nowhere else.
    assert issubclass(cls, aurora_lite.Error) == (name != "Warning")
    assert issubclass(cls, aurora_lite.DatabaseError) == (
        base == "DatabaseError" or name == "DatabaseError")
    assert not issubclass(aurora_lite.Warning, aurora_lite.Error)
    # The same class through every door: the module, the driver package, the Connection.
    assert getattr(aurora_lite.dbapi, name) is cls
    assert getattr(aurora_lite.Connection, name) is cls
    assert getattr(connection, name) is cls


def test_errors_the_engine_raises_are_the_connections_classes(cursor, connection):
    with pytest.raises(connection.IntegrityError):
        cursor.execute("INSERT INTO t VALUES (1, 'again', 0)")
    with pytest.raises(connection.IntegrityError):
        cursor.execute("INSERT INTO t (id) VALUES (99)")                     # NOT NULL
    with pytest.raises(connection.ProgrammingError):
        cursor.execute("SELEC 1")
    with pytest.raises(connection.ProgrammingError):
        cursor.execute("SELECT nope FROM t")
    with pytest.raises(connection.DataError):
        cursor.execute("SELECT 1 / 0")
    with pytest.raises(connection.NotSupportedError):
        cursor.execute("CREATE SEQUENCE counter")
    connection.rollback()
    cursor.close()
    with pytest.raises(connection.InterfaceError):
        cursor.execute("SELECT 1")
    other = connection.cursor()
    other.execute("SELECT count(*) FROM t")
    assert other.fetchone() == (10,)                  # nothing of the failures stayed


# -- cursor attributes and methods -----------------------------------------------------------------

def test_setinputsizes_and_setoutputsize_are_no_ops(cursor):
    assert cursor.setinputsizes([10, None, aurora_lite.NUMBER]) is None
    assert cursor.setinputsizes([]) is None
    assert cursor.setoutputsize(1000) is None
    assert cursor.setoutputsize(1000, 1) is None
    cursor.execute("SELECT id, name FROM t WHERE id <= ? ORDER BY id", (3,))
    assert cursor.fetchall() == [(1, "n1"), (2, "n2"), (3, "n3")]   # nothing truncated


def test_description_is_a_sequence_of_7_tuples(cursor):
    cursor.execute("SELECT id, name, score, score * 2 AS doubled FROM t WHERE id = 1")
    description = cursor.description
    assert len(description) == 4
    for column in description:
        assert len(column) == 7
        name, type_code, display_size, internal_size, precision, scale, null_ok = column
        assert isinstance(name, str)
        assert type_code is not None
        for optional in (display_size, internal_size, precision, scale):
            assert optional is None or isinstance(optional, int)
        assert null_ok in (None, True, False)
    assert [column[0] for column in description] == ["id", "name", "score", "doubled"]
    assert description[0][6] is False and description[1][6] is False   # PRIMARY KEY, NOT NULL
    assert description[2][6] is True
    cursor.fetchall()
    cursor.execute("UPDATE t SET score = 0 WHERE id = 1")
    assert cursor.description is None                 # no rows: no description
    cursor.execute("CREATE TABLE other (x INTEGER)")
    assert cursor.description is None


def test_rowcount(cursor):
    cursor.execute("INSERT INTO t VALUES (20, 'a', 1), (21, 'b', 2), (22, 'c', 3)")
    assert cursor.rowcount == 3
    cursor.execute("UPDATE t SET score = score + 1 WHERE id >= 20")
    assert cursor.rowcount == 3
    cursor.execute("UPDATE t SET score = 0 WHERE id = 12345")
    assert cursor.rowcount == 0
    cursor.execute("DELETE FROM t WHERE id IN (20, 21)")
    assert cursor.rowcount == 2
    cursor.executemany("INSERT INTO t VALUES (?, ?, ?)", [(30, "x", 0), (31, "y", 0)])
    assert cursor.rowcount == 2
    cursor.execute("CREATE TABLE u (x INTEGER)")
    assert cursor.rowcount == -1                      # not applicable
    cursor.execute("SELECT id FROM t WHERE id < 4")
    assert cursor.rowcount in (-1, 3)                 # -1: not known before fetching
    assert len(cursor.fetchall()) == 3
    assert cursor.rowcount == 3
    connection = cursor.connection
    connection.commit()                               # outside a write transaction too
    cursor.execute("SELECT id FROM t")
    assert cursor.rowcount in (-1, 13)
    cursor.fetchall()
    assert cursor.rowcount == 13


def test_lastrowid(cursor):
    cursor.execute("INSERT INTO t VALUES (77, 'x', 0)")
    assert cursor.lastrowid == 77                     # the integer primary key
    cursor.execute("CREATE TABLE nopk (v TEXT)")
    assert cursor.lastrowid is None
    cursor.execute("INSERT INTO nopk VALUES ('a')")
    first = cursor.lastrowid
    cursor.execute("INSERT INTO nopk VALUES ('b'), ('c')")
    last = cursor.lastrowid
    assert isinstance(first, int) and isinstance(last, int) and last > first
    cursor.execute("SELECT count(*) FROM nopk")
    assert cursor.lastrowid is None


def test_arraysize_is_honoured_by_fetchmany(cursor):
    assert cursor.arraysize == 1
    cursor.execute("SELECT id FROM t ORDER BY id")
    assert cursor.fetchmany() == [(1,)]
    cursor.arraysize = 4
    assert cursor.fetchmany() == [(2,), (3,), (4,), (5,)]
    assert cursor.fetchmany(2) == [(6,), (7,)]        # an explicit size wins
    assert cursor.fetchmany() == [(8,), (9,), (10,)]  # what is left
    assert cursor.fetchmany() == []
    assert cursor.fetchone() is None
    fresh = cursor.connection.cursor()
    assert fresh.arraysize == 1                       # per cursor, not per class
    fresh.arraysize = 3
    fresh.execute("SELECT id FROM t ORDER BY id")
    assert [len(fresh.fetchmany()) for _ in range(5)] == [3, 3, 3, 1, 0]


def test_iteration_and_fetch_methods(cursor):
    cursor.execute("SELECT id FROM t WHERE id <= 3 ORDER BY id")
    assert iter(cursor) is cursor
    assert [row for row in cursor] == [(1,), (2,), (3,)]
    cursor.execute("SELECT id FROM t WHERE id <= 3 ORDER BY id")
    assert cursor.fetchone() == (1,)
    assert cursor.fetchall() == [(2,), (3,)]
    cursor.execute("UPDATE t SET score = 1 WHERE id = 1")
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.fetchall()                             # the last statement made no rows


# -- type objects and constructors ---------------------------------------------------------------

TYPED_TABLE = """CREATE TABLE typed (
    i INTEGER PRIMARY KEY, b BIGINT, r REAL, d DOUBLE PRECISION, flag BOOLEAN,
    t TEXT, v VARCHAR(20), raw BYTEA, day DATE, at TIMESTAMP)"""
TYPE_OF_COLUMN = {
    "i": "NUMBER", "b": "NUMBER", "r": "NUMBER", "d": "NUMBER", "flag": "NUMBER",
    "t": "STRING", "v": "STRING", "raw": "BINARY", "day": "DATETIME", "at": "DATETIME",
}
TYPE_OBJECTS = ("STRING", "BINARY", "NUMBER", "DATETIME", "ROWID")


def test_type_objects_equal_the_type_codes_in_description(connection):
    cursor = connection.cursor()
    cursor.execute(TYPED_TABLE)
    cursor.execute("SELECT * FROM typed")
    assert [column[0] for column in cursor.description] == list(TYPE_OF_COLUMN)
    for column in cursor.description:
        expected = TYPE_OF_COLUMN[column[0]]
        for name in TYPE_OBJECTS:
            type_object = getattr(aurora_lite, name)
            assert (column[1] == type_object) == (name == expected), (column, name)
            assert (type_object == column[1]) == (name == expected), (column, name)
    # Expressions get type codes too.
    cursor.execute("SELECT count(*), 'a' || 'b', 1.5, CAST('ab' AS BYTEA), "
                   "CAST('2024-01-02' AS DATE), max(i) FROM typed")
    codes = [column[1] for column in cursor.description]
    assert codes[0] == aurora_lite.NUMBER and codes[1] == aurora_lite.STRING
    assert codes[2] == aurora_lite.NUMBER and codes[3] == aurora_lite.BINARY
    assert codes[4] == aurora_lite.DATETIME and codes[5] == aurora_lite.NUMBER
    assert not any(code == aurora_lite.ROWID for code in codes)


def test_constructors_bind_and_read_back(connection):
    cursor = connection.cursor()
    cursor.execute(TYPED_TABLE)
    ticks = 1_700_000_000
    rows = [
        (1, aurora_lite.Date(2024, 2, 29), aurora_lite.Timestamp(2024, 2, 29, 13, 45, 1, 250),
         aurora_lite.Binary(b"\x00\xff\x10")),
        (2, aurora_lite.DateFromTicks(ticks), aurora_lite.TimestampFromTicks(ticks),
         aurora_lite.Binary(bytearray(b"abc"))),
    ]
    cursor.executemany("INSERT INTO typed (i, day, at, raw) VALUES (?, ?, ?, ?)", rows)
    connection.commit()
    cursor.execute("SELECT i, day, at, raw FROM typed ORDER BY i")
    got = cursor.fetchall()
    assert got == [(1, datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 13, 45, 1, 250),
                    b"\x00\xff\x10"),
                   (2, datetime.datetime.fromtimestamp(ticks).date(),
                    datetime.datetime.fromtimestamp(ticks), b"abc")]
    assert type(got[0][3]) is bytes
    assert type(got[0][2]) is datetime.datetime and type(got[0][1]) is datetime.date
    assert aurora_lite.Time(1, 2, 3) == datetime.time(1, 2, 3)
    assert isinstance(aurora_lite.TimeFromTicks(ticks), datetime.time)
    # The engine has no TIME column type; a Time parameter is a DB-API error, never a crash.
    try:
        cursor.execute("SELECT ?", (aurora_lite.Time(1, 2, 3),))
    except aurora_lite.Error:
        pass


# -- statistics ----------------------------------------------------------------------------------

def test_statistics(connection):
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT)")
    connection.commit()
    before = connection.statistics()
    for key in ("commits", "redo_records_shipped", "redo_bytes_shipped", "page_bytes_shipped",
                "vdl"):
        assert key in before and isinstance(before[key], int), key
    assert before["page_bytes_shipped"] == 0          # redo shipping: never a page image

    cursor.executemany("INSERT INTO s VALUES (?, ?)", [(i, "x" * 100) for i in range(200)])
    connection.commit()
    after = connection.statistics()
    assert after["commits"] == before["commits"] + 1
    assert after["redo_records_shipped"] > before["redo_records_shipped"]
    assert after["redo_bytes_shipped"] >= before["redo_bytes_shipped"] + 200 * 100
    assert after["vdl"] > before["vdl"]
    assert after["page_bytes_shipped"] == 0

    cursor.execute("INSERT INTO s VALUES (1000, 'gone')")
    connection.rollback()
    rolled_back = connection.statistics()
    assert rolled_back["commits"] == after["commits"]  # a rollback is not a commit
    assert rolled_back["page_bytes_shipped"] == 0
