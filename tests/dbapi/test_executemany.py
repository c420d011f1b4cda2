"""executemany: bulk INSERT, UPDATE/DELETE per parameter set, atomic as a whole."""

from __future__ import annotations

import pytest

import aurora_lite


@pytest.fixture
def connection(tmp_path):
    connection = aurora_lite.connect(str(tmp_path / "db"), storage="local")
    yield connection
    connection.close()


def test_bulk_insert_update_delete(connection):
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)")
    cursor.executemany("INSERT INTO t VALUES (?, ?, ?)",
                       [(i, f"n{i}", i / 2) for i in range(20000)])
    assert cursor.rowcount == 20000
    cursor.executemany("UPDATE t SET score = score + ? WHERE id = ?", [(1, 3), (1, 4), (5, 99999)])
    assert cursor.rowcount == 2
    cursor.executemany("DELETE FROM t WHERE id = :id", [{"id": 5}, {"id": 6}])
    assert cursor.rowcount == 2
    connection.commit()
    cursor.execute("SELECT count(*), sum(score) FROM t")
    count, total = cursor.fetchone()
    assert count == 19998
    assert total == sum(i / 2 for i in range(20000)) + 2 - 2.5 - 3.0


def test_a_failing_row_undoes_the_whole_executemany(connection):
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    cursor.execute("INSERT INTO t VALUES (0, 'zero')")
    rows = [(i, f"n{i}") for i in range(1, 5000)] + [(5000, "zero")]
    with pytest.raises(aurora_lite.IntegrityError):
        cursor.executemany("INSERT INTO t VALUES (?, ?)", rows)
    cursor.execute("SELECT count(*) FROM t")
    assert cursor.fetchone() == (1,)
    connection.commit()


def test_executemany_refuses_queries_and_bad_parameters(connection):
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.executemany("SELECT * FROM t WHERE id = ?", [(1,)])
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.executemany("INSERT INTO t VALUES (?)", [(1, 2)])
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.executemany("INSERT INTO t VALUES (?)", ["1"])
