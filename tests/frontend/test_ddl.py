"""CREATE/DROP TABLE and INDEX: types, constraints, defaults, IF [NOT] EXISTS, errors."""

from __future__ import annotations

import datetime

import pytest

from aurora_lite.errors import IntegrityError, NotSupportedError, ProgrammingError
from aurora_lite.values import SqlType


def test_types_map_to_storage_types(sql, session):
    sql("CREATE TABLE t (a INTEGER, b INT, c BIGINT, d SMALLINT, e REAL, f DOUBLE PRECISION, "
        "g FLOAT, h TEXT, i VARCHAR(5), j CHAR(3), k BOOLEAN, l BYTEA, m DATE, n TIMESTAMP)")
    table = session.catalog.tables["t"]
    assert [c.type for c in table.columns] == [
        SqlType.INTEGER] * 4 + [SqlType.REAL] * 3 + [SqlType.TEXT] * 3 + [
        SqlType.BOOLEAN, SqlType.BYTEA, SqlType.DATE, SqlType.TIMESTAMP]
    assert table.columns[8].max_length == 5
    result = sql.result("SELECT * FROM t")
    assert result.type_names == ("integer",) * 4 + ("double precision",) * 3 + \
        ("text",) * 3 + ("boolean", "bytea", "date", "timestamp")


def test_result_of_create(sql):
    result = sql.result("CREATE TABLE t (a INT)")
    assert result.command_tag == "CREATE TABLE"
    assert result.description is None


def test_primary_key_forms(sql, session):
    sql("CREATE TABLE a (x INT PRIMARY KEY, y TEXT)")
    sql("CREATE TABLE b (x INT, y TEXT, PRIMARY KEY (y, x))")
    assert session.catalog.tables["a"].primary_key == ("x",)
    assert session.catalog.tables["b"].primary_key == ("y", "x")
    assert all(c.not_null for c in session.catalog.tables["b"].columns)
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE TABLE c (x INT PRIMARY KEY, y INT, PRIMARY KEY (y))")
    assert caught.value.sqlstate == "42P16"


def test_primary_key_enforced(sql):
    sql("CREATE TABLE t (x INT, y INT, z TEXT, PRIMARY KEY (x, y))")
    sql("INSERT INTO t VALUES (1, 1, 'a'), (1, 2, 'b')")
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO t VALUES (1, 2, 'c')")
    assert caught.value.sqlstate == "23505"
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO t VALUES (NULL, 2, 'c')")
    assert caught.value.sqlstate == "23502"


def test_not_null_and_unique(sql):
    sql("CREATE TABLE t (x INT NOT NULL, y TEXT UNIQUE, z INT, w INT, UNIQUE (z, w))")
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO t VALUES (NULL, 'a', 1, 1)")
    assert caught.value.sqlstate == "23502"
    sql("INSERT INTO t VALUES (1, 'a', 1, 1)")
    with pytest.raises(IntegrityError) as caught:
        sql("INSERT INTO t VALUES (2, 'a', 2, 2)")
    assert caught.value.sqlstate == "23505"
    with pytest.raises(IntegrityError):
        sql("INSERT INTO t VALUES (2, 'b', 1, 1)")
    # NULLs never clash in a unique constraint.
    sql("INSERT INTO t VALUES (3, NULL, 1, NULL), (4, NULL, 1, NULL)")
    assert sql("SELECT count(*) FROM t") == [(3,)]


def test_defaults_constant_and_expression(sql):
    sql("CREATE TABLE t (id INT PRIMARY KEY, a TEXT DEFAULT 'x', b INT DEFAULT 2 * 21, "
        "c REAL DEFAULT 1, d DATE DEFAULT '2020-02-03', e TIMESTAMP DEFAULT now(), f INT)")
    sql("INSERT INTO t (id) VALUES (1)")
    sql("INSERT INTO t (id, a, b) VALUES (2, DEFAULT, 7)")
    sql("INSERT INTO t VALUES (3, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT)")
    rows = sql("SELECT id, a, b, c, d, f FROM t ORDER BY id")
    assert rows == [(1, "x", 42, 1.0, datetime.date(2020, 2, 3), None),
                    (2, "x", 7, 1.0, datetime.date(2020, 2, 3), None),
                    (3, "x", 42, 1.0, datetime.date(2020, 2, 3), None)]
    stamps = sql("SELECT e FROM t")
    assert all(isinstance(row[0], datetime.datetime) for row in stamps)


def test_default_evaluated_per_row(sql):
    sql("CREATE TABLE t (id INT PRIMARY KEY, r REAL DEFAULT random())")
    sql("INSERT INTO t (id) VALUES (1), (2), (3), (4)")
    assert len({row[0] for row in sql("SELECT r FROM t")}) == 4


def test_default_errors(sql):
    with pytest.raises(NotSupportedError):
        sql("CREATE TABLE t (a INT, b INT DEFAULT a)")
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE TABLE t (a INT DEFAULT 'x' || 'y')")
    assert caught.value.sqlstate == "42804"


def test_if_not_exists_and_duplicates(sql):
    sql("CREATE TABLE t (a INT)")
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE TABLE t (a INT)")
    assert caught.value.sqlstate == "42P07"
    sql("CREATE TABLE IF NOT EXISTS t (b INT)")
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE TABLE v (a INT, a TEXT)")
    assert caught.value.sqlstate == "42701"
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE TABLE v (a INT, PRIMARY KEY (b))")
    assert caught.value.sqlstate == "42703"


def test_drop_table(sql):
    sql("CREATE TABLE t (a INT)")
    assert sql.result("DROP TABLE t").command_tag == "DROP TABLE"
    with pytest.raises(ProgrammingError) as caught:
        sql("SELECT * FROM t")
    assert caught.value.sqlstate == "42P01"
    with pytest.raises(ProgrammingError) as caught:
        sql("DROP TABLE t")
    assert caught.value.sqlstate == "42P01"
    sql("DROP TABLE IF EXISTS t")
    sql("CREATE TABLE a (x INT)")
    sql("CREATE TABLE b (x INT)")
    sql("DROP TABLE a, b")
    with pytest.raises(ProgrammingError):
        sql("SELECT * FROM b")


def test_create_and_drop_index(sql, session):
    sql("CREATE TABLE t (a INT PRIMARY KEY, b INT, c TEXT)")
    result = sql.result("CREATE INDEX t_b ON t (b DESC, c)")
    assert result.command_tag == "CREATE INDEX"
    index = session.catalog.indexes["t_b"]
    assert index.columns == ("b", "c") and index.descending == (True, False)
    assert not index.unique
    sql("CREATE INDEX IF NOT EXISTS t_b ON t (c)")
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE INDEX t_b ON t (c)")
    assert caught.value.sqlstate == "42P07"
    assert sql.result("DROP INDEX t_b").command_tag == "DROP INDEX"
    with pytest.raises(ProgrammingError) as caught:
        sql("DROP INDEX t_b")
    assert caught.value.sqlstate == "42704"
    sql("DROP INDEX IF EXISTS t_b")
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE INDEX i ON nope (a)")
    assert caught.value.sqlstate == "42P01"
    with pytest.raises(ProgrammingError) as caught:
        sql("CREATE INDEX i ON t (zz)")
    assert caught.value.sqlstate == "42703"


def test_unique_index_on_existing_duplicates(sql):
    sql("CREATE TABLE t (a INT PRIMARY KEY, b INT)")
    sql("INSERT INTO t VALUES (1, 5), (2, 5)")
    with pytest.raises(IntegrityError):
        sql("CREATE UNIQUE INDEX tb ON t (b)")
    sql("UPDATE t SET b = 6 WHERE a = 2")
    sql("CREATE UNIQUE INDEX tb ON t (b)")
    with pytest.raises(IntegrityError):
        sql("INSERT INTO t VALUES (3, 6)")


def test_identifiers_fold_unless_quoted(sql, session):
    sql('CREATE TABLE MixedCase (Col INT, "Quoted" INT)')
    assert "mixedcase" in session.catalog.tables
    assert session.catalog.tables["mixedcase"].column_names == ("col", "Quoted")
    sql('INSERT INTO MIXEDCASE (COL, "Quoted") VALUES (1, 2)')
    assert sql('SELECT col, "Quoted" FROM mixedcase') == [(1, 2)]
    with pytest.raises(ProgrammingError):
        sql("SELECT quoted FROM mixedcase")


def test_varchar_limit(sql):
    from aurora_lite.errors import DataError
    sql("CREATE TABLE t (a VARCHAR(3))")
    sql("INSERT INTO t VALUES ('abc')")
    with pytest.raises(DataError) as caught:
        sql("INSERT INTO t VALUES ('abcd')")
    assert caught.value.sqlstate == "22001"
    assert sql("SELECT CAST('abcdef' AS VARCHAR(2))") == [("ab",)]
