"""INSERT / UPDATE / DELETE: results, defaults, assignment conversions, atomicity, Halloween."""

from __future__ import annotations

import random

import pytest

from aurora_lite.errors import DataError, IntegrityError, ProgrammingError


@pytest.fixture(autouse=True)
def table(sql):
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)")


def test_insert_result(sql):
    result = sql.result("INSERT INTO t VALUES (1, 'a', 1.0), (2, 'b', 2.0)")
    assert result.command_tag == "INSERT 0 2"
    assert result.rowcount == 2
    assert result.description is None
    assert result.lastrowid == 2


def test_lastrowid_of_a_table_without_primary_key(sql):
    sql("CREATE TABLE n (v TEXT)")
    first = sql.result("INSERT INTO n VALUES ('x')").lastrowid
    second = sql.result("INSERT INTO n VALUES ('y')").lastrowid
    assert isinstance(first, int) and second > first


def test_insert_column_list_in_any_order(sql):
    sql("INSERT INTO t (score, id, name) VALUES (0.5, 7, 'g')")
    assert sql("SELECT * FROM t") == [(7, "g", 0.5)]


def test_insert_arity_errors(sql):
    with pytest.raises(ProgrammingError) as caught:
        sql("INSERT INTO t VALUES (1, 'a', 1.0, 5)")
    assert caught.value.sqlstate == "42601"
    with pytest.raises(ProgrammingError):
        sql("INSERT INTO t (id, name) VALUES (1)")
    with pytest.raises(ProgrammingError) as caught:
        sql("INSERT INTO t (id, nope) VALUES (1, 2)")
    assert caught.value.sqlstate == "42703"
    with pytest.raises(ProgrammingError) as caught:
        sql("INSERT INTO t (id, id) VALUES (1, 2)")
    assert caught.value.sqlstate == "42701"


def test_assignment_conversions(sql):
    sql("INSERT INTO t VALUES (1, 'a', 2)")            # integer into double precision
    sql("INSERT INTO t VALUES (2.6, 'b', '3.5')")       # double into integer rounds; text literal
    sql("INSERT INTO t VALUES ('4', 4.5, NULL)")        # number into text
    assert sql("SELECT id, name, score FROM t ORDER BY id") == [
        (1, "a", 2.0), (3, "b", 3.5), (4, "4.5", None)]


def test_assignment_type_mismatch(sql):
    sql("CREATE TABLE b (flag BOOLEAN, day DATE)")
    with pytest.raises(ProgrammingError) as caught:
        sql("INSERT INTO b (flag) VALUES (1)")
    assert caught.value.sqlstate == "42804"
    with pytest.raises(DataError) as caught:
        sql("INSERT INTO b (day) VALUES ('not a date')")
    assert caught.value.sqlstate in ("22007", "22P02")


def test_multi_row_insert_is_atomic(sql):
    sql("INSERT INTO t VALUES (1, 'a', NULL)")
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO t VALUES (2, 'b', NULL), (3, 'c', NULL), (1, 'dup', NULL), "
            "(4, 'd', NULL)")
    assert caught.value.sqlstate == "23505"
    assert sql("SELECT id FROM t ORDER BY id") == [(1,)]
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO t VALUES (5, 'e', NULL), (6, 'f', NULL), (7, NULL, NULL)")
    assert caught.value.sqlstate == "23502"
    assert sql("SELECT id FROM t ORDER BY id") == [(1,)]


def test_failed_update_is_atomic(sql):
    sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    with pytest.raises(DataError):
        sql("UPDATE t SET score = 10 / (id - 2)")
    assert sql("SELECT score FROM t ORDER BY id") == [(1.0,), (2.0,), (3.0,)]
    with pytest.raises(IntegrityError):
        sql("UPDATE t SET id = 3 WHERE id = 1")
    assert sql("SELECT id FROM t ORDER BY id") == [(1,), (2,), (3,)]


def test_update(sql):
    sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', NULL)")
    result = sql.result("UPDATE t SET score = score * 10, name = name || '!' WHERE id >= 2")
    assert (result.command_tag, result.rowcount) == ("UPDATE 2", 2)
    assert sql("SELECT * FROM t ORDER BY id") == [
        (1, "a", 1.0), (2, "b!", 20.0), (3, "c!", None)]
    assert sql("UPDATE t SET score = DEFAULT WHERE id = 1") == 1
    assert sql("SELECT score FROM t WHERE id = 1") == [(None,)]
    assert sql("UPDATE t SET name = 'z' WHERE id = 99") == 0
    with pytest.raises(ProgrammingError) as caught:
        sql("UPDATE t SET nope = 1")
    assert caught.value.sqlstate == "42703"
    with pytest.raises(ProgrammingError):
        sql("UPDATE t SET name = 'a', name = 'b'")


def test_update_primary_key_is_halloween_safe(sql):
    sql("INSERT INTO t VALUES (1, 'a', NULL), (2, 'b', NULL), (3, 'c', NULL)")
    # Each row must move exactly once, even though it moves ahead of the scan.
    assert sql("UPDATE t SET id = id + 10") == 3
    assert sql("SELECT id, name FROM t ORDER BY id") == [(11, "a"), (12, "b"), (13, "c")]


def test_update_with_alias(sql):
    sql("INSERT INTO t VALUES (1, 'a', 1)")
    assert sql("UPDATE t AS x SET score = x.score + 1 WHERE x.id = 1") == 1
    assert sql("SELECT score FROM t") == [(2.0,)]


def test_delete(sql):
    sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', NULL), (3, 'c', 3)")
    result = sql.result("DELETE FROM t WHERE score IS NULL")
    assert (result.command_tag, result.rowcount) == ("DELETE 1", 1)
    assert sql("DELETE FROM t WHERE id = 1") == 1
    assert sql("DELETE FROM t") == 1
    assert sql("SELECT count(*) FROM t") == [(0,)]


def test_insert_select_is_halloween_safe(sql):
    sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)")
    assert sql("INSERT INTO t SELECT id + 2, name, score FROM t") == 2
    assert sql("INSERT INTO t (id, name) SELECT id + 4, upper(name) FROM t") == 4
    assert sql("SELECT count(*), max(id) FROM t") == [(8, 8)]
    assert sql("SELECT name FROM t WHERE id = 5") == [("A",)]
    with pytest.raises(ProgrammingError):
        sql("INSERT INTO t (id) SELECT id, name FROM t")


def test_insert_default_values(sql):
    sql("CREATE TABLE d (a INT DEFAULT 3, b TEXT)")
    assert sql("INSERT INTO d DEFAULT VALUES") == 1
    assert sql("SELECT * FROM d") == [(3, None)]


def test_delete_and_update_use_the_primary_key(sql):
    sql("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    plan = sql.explain("DELETE FROM t WHERE id = 2")
    assert "PK Range Scan on t" in plan
    plan = sql.explain("UPDATE t SET score = 0 WHERE id > 1")
    assert "PK Range Scan on t" in plan and "Key Cond" in plan
    assert sql("UPDATE t SET score = 0 WHERE id > 1") == 2
    assert sql("SELECT score FROM t ORDER BY id") == [(1.0,), (0.0,), (0.0,)]


@pytest.mark.parametrize("indexed", [False, True])
def test_large_insert_is_atomic_and_keeps_indexes_in_step(sql, indexed):
    """Inserts of many rows go in sorted chunks; a duplicate or a bad row in a later chunk
    leaves nothing of the statement, and every index still matches the table."""
    sql("CREATE TABLE big (id INTEGER PRIMARY KEY, grp INTEGER, note TEXT)")
    sql("CREATE TABLE heap (grp INTEGER, note TEXT NOT NULL)")
    if indexed:
        sql("CREATE INDEX big_grp ON big (grp DESC)")
        sql("CREATE INDEX heap_grp ON heap (grp)")
    ids = list(range(0, 3000, 3))
    random.Random(7).shuffle(ids)
    values = ", ".join(f"({i}, {i % 7}, 'n{i}')" for i in ids)
    assert sql(f"INSERT INTO big VALUES {values}") == len(ids)
    assert sql("INSERT INTO heap SELECT grp, note FROM big") == len(ids)
    before = sql("SELECT count(*), sum(id) FROM big")
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO big VALUES " +
            ", ".join(f"({i}, 1, 'x')" for i in range(1, 1500, 3)) + ", (2997, 0, 'dup')")
    assert caught.value.sqlstate == "23505" and "big_pkey" in str(caught.value)
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO heap VALUES " + ", ".join("(1, 'x')" for _ in range(700)) +
            ", (1, 'y')" * 3 + ", (2, NULL)")
    assert sql("SELECT count(*), sum(id) FROM big") == before
    assert sql("SELECT count(*) FROM heap") == [(len(ids),)]
    by_group = sql("SELECT grp, count(*) FROM big GROUP BY grp ORDER BY grp")
    assert by_group == [(g, sum(1 for i in ids if i % 7 == g)) for g in range(7)]
    for g in range(7):
        assert sql(f"SELECT count(*) FROM big WHERE grp = {g}") == [(by_group[g][1],)]
        assert sql(f"SELECT count(*) FROM heap WHERE grp = {g}") == [(by_group[g][1],)]
