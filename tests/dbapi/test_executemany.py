"""executemany: bulk INSERT, UPDATE/DELETE per parameter set, atomic as a whole - on the
embedded driver and on the remote one (the ``connect`` fixture, tests/dbapi/conftest.py).
Where the modes differ by design (after a failed executemany the remote transaction is failed,
as in PostgreSQL), the test checks what both guarantee and says so."""

from __future__ import annotations

import pytest

import aurora_lite

ROWS = 5000     # per mode: the remote one pipelines them in one write

@pytest.fixture
def connection(connect):
    return connect()


def test_bulk_insert_update_delete(connection, unique_name):
    t = unique_name()
    cursor = connection.cursor()
    cursor.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)")
    cursor.executemany(f"INSERT INTO {t} VALUES (?, ?, ?)",
                       [(i, f"n{i}", i / 2) for i in range(ROWS)])
    assert cursor.rowcount == ROWS
    cursor.executemany(f"UPDATE {t} SET score = score + ? WHERE id = ?",
                       [(1, 3), (1, 4), (5, 99999)])
    assert cursor.rowcount == 2
    cursor.executemany(f"DELETE FROM {t} WHERE id = :id", [{"id": 5}, {"id": 6}])
    assert cursor.rowcount == 2
    connection.commit()
    cursor.execute(f"SELECT count(*), sum(score) FROM {t}")
    count, total = cursor.fetchone()
    assert count == ROWS - 2
    assert total == sum(i / 2 for i in range(ROWS)) + 2 - 2.5 - 3.0
    connection.commit()


def test_executemany_in_autocommit_mode_is_one_statement(connect, unique_name):
    t = unique_name()
    connection = connect(autocommit=True)
    other = connect(autocommit=True)
    cursor = connection.cursor()
    cursor.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY)")
    cursor.executemany(f"INSERT INTO {t} VALUES (?)", [(i,) for i in range(100)])
    assert cursor.rowcount == 100 and not connection.in_transaction
    assert other.execute(f"SELECT count(*) FROM {t}").fetchall() == [(100,)]   # committed
    with pytest.raises(aurora_lite.IntegrityError):
        cursor.executemany(f"INSERT INTO {t} VALUES (?)", [(100,), (101,), (5,), (102,)])
    # Committed as a whole or not at all: the rows before the failing one are not there.
    assert not connection.in_transaction
    assert other.execute(f"SELECT count(*), max(id) FROM {t}").fetchall() == [(100, 99)]
    cursor.executemany(f"INSERT INTO {t} VALUES (?)", [])
    assert cursor.rowcount == 0
    cursor.executemany(f"INSERT INTO {t} VALUES (?)", iter([(200,), (201,)]))  # any iterable
    assert other.execute(f"SELECT count(*) FROM {t}").fetchall() == [(102,)]


def test_a_failing_row_undoes_the_whole_executemany(connection, unique_name):
    t = unique_name()
    cursor = connection.cursor()
    cursor.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    cursor.execute(f"INSERT INTO {t} VALUES (0, 'zero')")
    connection.commit()
    cursor.execute(f"INSERT INTO {t} VALUES (-1, 'kept until the rollback')")
    rows = [(i, f"n{i}") for i in range(1, 5000)] + [(5000, "zero")]
    with pytest.raises(aurora_lite.IntegrityError) as caught:
        cursor.executemany(f"INSERT INTO {t} VALUES (?, ?)", rows)
    assert caught.value.sqlstate == "23505"
    if connection.__class__.__module__.endswith("_remote"):
        # The transaction failed (PostgreSQL): nothing runs until it is rolled back.
        with pytest.raises(aurora_lite.InternalError) as caught:
            cursor.execute(f"SELECT count(*) FROM {t}")
        assert caught.value.sqlstate == "25P02"
    else:
        # Embedded: the executemany alone was undone; the transaction goes on.
        cursor.execute(f"SELECT count(*) FROM {t}")
        assert cursor.fetchone() == (2,)
    # Both: none of the 5000 rows is there, and a rollback leaves what was committed.
    connection.rollback()
    cursor.execute(f"SELECT id FROM {t}")
    assert cursor.fetchall() == [(0,)]
    connection.commit()


def test_executemany_refuses_queries_and_bad_parameters(connection, unique_name):
    t = unique_name()
    cursor = connection.cursor()
    cursor.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY)")
    connection.commit()
    for sql, parameters in ((f"SELECT * FROM {t} WHERE id = ?", [(1,)]),
                            (f"INSERT INTO {t} VALUES (?)", [(1, 2)]),
                            (f"INSERT INTO {t} VALUES (?)", ["1"]),
                            (f"INSERT INTO {t} VALUES (?)", [(object(),)])):
        with pytest.raises(aurora_lite.ProgrammingError):
            cursor.executemany(sql, parameters)
        connection.rollback()
    cursor.execute(f"SELECT count(*) FROM {t}")
    assert cursor.fetchone() == (0,)
    # The connection is still usable in both modes.
    cursor.executemany(f"INSERT INTO {t} VALUES (?)", [(1,), (2,)])
    connection.commit()
    assert connection.cursor().execute(f"SELECT count(*) FROM {t}").fetchone() == (2,)
