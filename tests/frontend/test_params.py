"""Statement parameters: ?, :name and $n styles; count/name checks; typing by value."""

from __future__ import annotations

import datetime

import pytest

from aurora_lite import frontend
from aurora_lite.errors import DataError, ProgrammingError


@pytest.fixture(autouse=True)
def table(sql):
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, day DATE)")
    sql("INSERT INTO t VALUES (1, 'a', 1.5, '2024-01-02'), (2, 'b', 2.5, NULL), "
        "(3, 'c', NULL, '2024-03-04')")


def test_qmark(sql):
    assert sql("SELECT name FROM t WHERE id = ?", (2,)) == [("b",)]
    assert sql("SELECT name FROM t WHERE id > ? AND id < ?", [1, 3]) == [("b",)]


def test_named(sql):
    assert sql("SELECT name FROM t WHERE id = :id", {"id": 3}) == [("c",)]
    assert sql("SELECT id FROM t WHERE id >= :x AND id <= :x + 1 ORDER BY id",
               {"x": 1, "unused": 9}) == [(1,), (2,)]


def test_numeric(sql):
    assert sql("SELECT name FROM t WHERE id = $1 OR id = $2 ORDER BY id", (1, 3)) == \
        [("a",), ("c",)]
    assert sql("SELECT $2, $1", ("x", 5)) == [(5, "x")]


@pytest.mark.parametrize("text, params", [
    ("SELECT ? + ?", (1,)),
    ("SELECT ?", (1, 2)),
    ("SELECT ?", None),
    ("SELECT 1", (1,)),
    ("SELECT :a", {"b": 1}),
    ("SELECT :a", (1,)),
    ("SELECT ?", {"a": 1}),
    ("SELECT $1, $2", (1,)),
])
def test_wrong_parameters(session, text, params):
    with pytest.raises(ProgrammingError):
        frontend.execute(session, text, params)


def test_mixed_styles(session):
    with pytest.raises(ProgrammingError):
        frontend.execute(session, "SELECT ?, :a", (1,))


def test_placeholders_in_strings_are_text(sql):
    assert sql("SELECT '?', ':a', ?", (1,)) == [("?", ":a", 1)]


def test_parameter_types(sql):
    assert sql("SELECT ? + 1, ? * 2, ? || 'x', ?", (1, 1.5, "a", None)) == \
        [(2, 3.0, "ax", None)]
    assert sql("SELECT day FROM t WHERE day = ?", (datetime.date(2024, 1, 2),)) == \
        [(datetime.date(2024, 1, 2),)]
    assert sql("SELECT ?", (b"\x00\x01",)) == [(b"\x00\x01",)]
    assert sql("SELECT ? AND true", (True,)) == [(True,)]


def test_string_parameter_takes_its_context_type(sql):
    # A str is 'unknown' like a quoted literal: compared with an integer it is an integer.
    assert sql("SELECT name FROM t WHERE id = ?", ("2",)) == [("b",)]
    with pytest.raises(DataError) as caught:
        sql("SELECT name FROM t WHERE id = ?", ("x",))
    assert caught.value.sqlstate == "22P02"


def test_same_text_different_types_rebinds(sql):
    assert sql("SELECT ? + 1", (1,)) == [(2,)]
    assert sql("SELECT ? + 1", (1.5,)) == [(2.5,)]
    assert sql("SELECT ? + 1", (None,)) == [(None,)]
    assert sql("SELECT ? + 1", (1,)) == [(2,)]


def test_null_parameter_compares_unknown(sql):
    assert sql("SELECT name FROM t WHERE id = ?", (None,)) == []
    assert sql("SELECT name FROM t WHERE score = ?", (None,)) == []
    assert sql("SELECT count(*) FROM t WHERE ? IS NULL", (None,)) == [(3,)]


def test_parameters_in_limit_and_offset(sql):
    assert sql("SELECT id FROM t ORDER BY id LIMIT ? OFFSET ?", (1, 1)) == [(2,)]
    assert sql("SELECT id FROM t ORDER BY id LIMIT ?", (None,)) == [(1,), (2,), (3,)]
    with pytest.raises(DataError):
        sql("SELECT id FROM t LIMIT ?", (-1,))


def test_parameters_in_insert_and_update(sql):
    assert sql("INSERT INTO t (id, name) VALUES (?, ?)", (4, "d")) == 1
    assert sql("UPDATE t SET name = ? WHERE id = ?", ("dd", 4)) == 1
    assert sql("SELECT name FROM t WHERE id = 4") == [("dd",)]
    assert sql("DELETE FROM t WHERE id = :id", {"id": 4}) == 1


def test_decimal_and_subclasses(sql):
    from decimal import Decimal

    class MyInt(int):
        pass
    assert sql("SELECT ? + ?", (Decimal("1.5"), MyInt(2))) == [(3.5,)]
    with pytest.raises(ProgrammingError):
        sql("SELECT ?", (object(),))
