"""Scalar expressions with PostgreSQL semantics (no table needed: SELECT without FROM)."""

from __future__ import annotations

import datetime

import pytest

from aurora_lite import frontend
from aurora_lite.errors import DataError, ProgrammingError


@pytest.mark.parametrize("text, expected", [
    ("7 / 2", 3), ("-7 / 2", -3), ("7 / -2", -3), ("-7 / -2", 3),
    ("7 % 3", 1), ("-7 % 3", -1), ("7 % -3", 1), ("-7 % -3", -1),
    ("7.0 / 2", 3.5), ("7 / 2.0", 3.5), ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9),
    ("- - + 5", 5), ("-(-5)", 5), ("- 5 + 3", -2), ("2 ^ 10", 1024.0),
    ("1 = 1.0", True), ("2 > 1.5", True), ("'abc' < 'abd'", True), ("'b' > 'abc'", True),
    ("'a' || 'b' || 'c'", "abc"), ("'n=' || 5", "n=5"), ("1.5 || 'x'", "1.5x"),
    ("true AND NULL", None), ("false AND NULL", False), ("true OR NULL", True),
    ("false OR NULL", None), ("NOT NULL::boolean", None), ("NOT false", True),
    ("NULL = NULL", None), ("NULL IS NULL", True), ("1 IS NOT NULL", True),
    ("NULL IS DISTINCT FROM NULL", False), ("1 IS DISTINCT FROM NULL", True),
    ("1 IS NOT DISTINCT FROM 1", True), ("(1 < 2) IS TRUE", True),
    ("NULL::boolean IS NOT FALSE", True),
    ("2 BETWEEN 1 AND 3", True), ("2 NOT BETWEEN 1 AND 3", False),
    ("NULL BETWEEN 1 AND 3", None), ("5 BETWEEN 1 AND NULL", None),
    ("0 BETWEEN 1 AND NULL", False),
    ("2 IN (1, 2)", True), ("3 IN (1, 2)", False), ("3 IN (1, NULL)", None),
    ("2 IN (1, NULL, 2)", True), ("3 NOT IN (1, 2)", True), ("3 NOT IN (1, NULL)", None),
    ("NULL IN (1)", None), ("1 IN (1.0, 2)", True),
    ("'abc' LIKE 'a%'", True), ("'abc' LIKE '_b_'", True), ("'abc' LIKE 'A%'", False),
    ("'abc' ILIKE 'A%'", True), ("'abc' NOT LIKE '%c'", False), ("'a%c' LIKE 'a\\%c'", True),
    ("'abc' LIKE 'a!%' ESCAPE '!'", False), ("'a.c' LIKE 'a_c'", True),
    ("'x\ny' LIKE 'x%'", True), ("NULL LIKE 'a'", None),
    ("CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' END", "b"),
    ("CASE WHEN false THEN 1 END", None), ("CASE 2 WHEN 1 THEN 'x' WHEN 2 THEN 'y' END", "y"),
    ("CASE NULL WHEN NULL THEN 1 ELSE 2 END", 2), ("CASE WHEN NULL THEN 1 ELSE 0 END", 0),
    ("CASE WHEN true THEN 1 ELSE 2.5 END", 1.0),
    ("COALESCE(NULL, 2, 3)", 2), ("COALESCE(NULL, NULL)", None), ("NULLIF(1, 1)", None),
    ("NULLIF(1, 2)", 1),
    ("CAST('12' AS INTEGER)", 12), ("'12'::int + 1", 13), ("CAST(2.5 AS INTEGER)", 2),
    ("CAST(3.5 AS INTEGER)", 4), ("CAST(-2.5 AS INT)", -2), ("CAST(1 AS TEXT)", "1"),
    ("CAST(1.5 AS TEXT)", "1.5"), ("CAST(2.0 AS TEXT)", "2"), ("CAST(1e20 AS TEXT)", "1e+20"),
    ("CAST(true AS TEXT)", "true"), ("CAST(1 AS BOOLEAN)", True), ("'yes'::boolean", True),
    ("CAST(5 AS DOUBLE PRECISION)", 5.0), ("'2024-02-29'::date", datetime.date(2024, 2, 29)),
    ("'2024-02-29 10:11:12'::timestamp", datetime.datetime(2024, 2, 29, 10, 11, 12)),
    ("'2024-03-01'::date - 1", datetime.date(2024, 2, 29)),
    ("'2024-03-01'::date - '2024-02-01'::date", 29),
    ("abs(-3)", 3), ("abs(-2.5)", 2.5), ("round(2.5)", 2.0), ("round(3.5)", 4.0),
    ("round(2.345, 2)", 2.35), ("round(-2.345, 2)", -2.35), ("ceil(1.2)", 2.0),
    ("floor(-1.2)", -2.0), ("sqrt(16)", 4.0), ("power(2, 3)", 8.0), ("mod(-7, 3)", -1),
    ("sign(-4)", -1), ("length('héllo')", 5), ("lower('AbC')", "abc"), ("upper('AbC')", "ABC"),
    ("substr('hello', 2, 3)", "ell"), ("substring('hello' from 2)", "ello"),
    ("substr('hello', 0, 2)", "h"), ("substr('hello', -1, 3)", "h"),
    ("trim('  x  ')", "x"), ("trim(both 'x' from 'xxaxx')", "a"), ("ltrim('  x')", "x"),
    ("rtrim('x  ')", "x"), ("trim(leading 'x' from 'xxa')", "a"),
    ("replace('abcabc', 'b', 'X')", "aXcaXc"), ("position('c' in 'abc')", 3),
    ("strpos('abc', 'z')", 0), ("left('abcde', 2)", "ab"), ("right('abcde', 2)", "de"),
    ("left('abcde', -2)", "abc"), ("repeat('ab', 3)", "ababab"), ("lpad('7', 3, '0')", "007"),
    ("rpad('ab', 4)", "ab  "), ("reverse('abc')", "cba"), ("initcap('hello world')",
                                                          "Hello World"),
    ("concat('a', NULL, 1, true)", "a1true"), ("concat_ws('-', 'a', NULL, 'b')", "a-b"),
    ("greatest(1, 5, 3)", 5), ("least(2, NULL, 1)", 1), ("length(NULL)", None),
    ("upper(NULL) IS NULL", True), ("chr(65)", "A"), ("ascii('A')", 65),
    ("9223372036854775807", 9223372036854775807),
    ("$$it's$$", "it's"), ("$q$a$$b$q$", "a$$b"), ("$$it''s$$", "it''s"),
    ("$$a$$ || 'b'", "ab"), ("$$12$$::int + 1", 13),
])
def test_value(session, text, expected):
    result = frontend.execute(session, f"SELECT {text}")
    value = list(result.rows)[0][0]
    assert value == expected and type(value) is type(expected), (value, expected)


@pytest.mark.parametrize("text, sqlstate", [
    ("1 / 0", "22012"), ("1 % 0", "22012"), ("1.5 / 0", "22012"), ("mod(1, 0)", "22012"),
    ("9223372036854775807 + 1", "22003"), ("-9223372036854775807 - 2", "22003"),
    ("4611686018427387904 * 2", "22003"), ("'x'::int", "22P02"), ("'1.5'::int", "22P02"),
    ("'maybe'::boolean", "22P02"), ("sqrt(-1)", "2201F"), ("substr('a', 1, -1)", "22011"),
    ("CAST(1e300 * 1e300 AS INTEGER)", "22003"),
])
def test_runtime_errors(session, text, sqlstate):
    with pytest.raises(DataError) as caught:
        list(frontend.execute(session, f"SELECT {text}").rows)
    assert caught.value.sqlstate == sqlstate


@pytest.mark.parametrize("text, sqlstate", [
    ("1 + 'a'::text", "42883"), ("'a'::text || 1 || true", None), ("true + 1", "42883"),
    ("CAST(true AS DATE)", "42846"), ("CASE WHEN true THEN 1 ELSE 'x'::text END", "42804"),
    ("1 AND true", "42804"), ("NOT 5", "42804"), ("1 LIKE 'a'", "42883"),
    ("abs('x'::text)", "42883"), ("COALESCE(1, 'a'::text)", "42804"),
])
def test_type_errors(session, text, sqlstate):
    if sqlstate is None:
        assert list(frontend.execute(session, f"SELECT {text}").rows) == [("a1true",)]
        return
    with pytest.raises(ProgrammingError) as caught:
        frontend.execute(session, f"SELECT {text}")
    assert caught.value.sqlstate == sqlstate


def test_column_names_and_types(session):
    result = frontend.execute(
        session, "SELECT 1, 1 AS one, 1.5, 'x', NULL, count(*), abs(-1), CAST(1 AS TEXT), "
                 "1::int, CASE WHEN true THEN 1 END, true")
    names = [d[0] for d in result.description]
    assert names == ["?column?", "one", "?column?", "?column?", "?column?", "count", "abs",
                     "text", "int", "case", "?column?"]
    assert result.type_names == ("integer", "integer", "double precision", "text", "text",
                                 "integer", "integer", "text", "integer", "integer", "boolean")
    assert all(len(d) == 7 for d in result.description)


def test_select_without_from_with_where(session):
    assert list(frontend.execute(session, "SELECT 1 WHERE false").rows) == []
    assert list(frontend.execute(session, "SELECT 1 WHERE 1 = 1").rows) == [(1,)]


def test_constant_folding_keeps_runtime_errors_lazy(sql):
    sql("CREATE TABLE t (a INT)")
    # Division by zero in a branch that is never taken is not an error at planning time.
    assert sql("SELECT CASE WHEN a > 0 THEN 1 / 0 ELSE 0 END FROM t") == []
