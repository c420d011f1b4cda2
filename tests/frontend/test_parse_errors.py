"""Syntax errors, lenient-misparse rejection, unsupported constructs: SQLSTATEs and positions."""

from __future__ import annotations

import pytest

from aurora_lite import frontend
from aurora_lite.errors import DataError, NotSupportedError, ProgrammingError


@pytest.fixture(autouse=True)
def table(sql):
    sql("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL)")
    sql("CREATE TABLE u (a INTEGER, d TEXT)")


def error_of(session, text, params=None, kind=ProgrammingError):
    with pytest.raises(kind) as caught:
        frontend.execute(session, text, params)
    return caught.value


@pytest.mark.parametrize("text, near, position", [
    ("selec oops", "selec", 1),
    ("SELECT 1 2", "2", 10),
    ("SELECT * FORM t", "t", 15),
    ("SELECT a FROM t WHERE a = = 1", "=", 27),
    ("FOO BAR", "FOO", 1),
    ("SELECT a, FROM t", "FROM", 11),
    ("SELECT a FROM t t2 t3", "t3", 20),
    ("INSERT t VALUES (1)", "t", 8),
    ("INSERT INTO t VALUE (1)", "VALUE", 15),
    ("DELETE t WHERE a = 1", "t", 8),
    ("SELECT a FROM t WHERE a IN ()", ")", 29),
    ("SELECT t.a FROM t JOIN u WHERE t.a = 1", "WHERE", 26),
    ("UPDATE t a = 1", "=", 12),
])
def test_syntax_errors_name_the_token_and_position(session, text, near, position):
    error = error_of(session, text)
    assert error.sqlstate == "42601"
    assert f'"{near}"' in error.message
    assert error.position == position


@pytest.mark.parametrize("text", [
    "SELECT a FROM t WHERE",
    "SELECT a FROM t LIMIT",
    "SELECT (1",
])
def test_syntax_error_at_end_of_input(session, text):
    error = error_of(session, text)
    assert error.sqlstate == "42601"
    assert "end of input" in error.message or "near" in error.message


def test_limit_comma_form_is_rejected(session):
    error = error_of(session, "SELECT a FROM t LIMIT 1, 2")
    assert error.sqlstate == "42601"
    assert "LIMIT #,#" in error.message


def test_double_equals_is_not_an_operator(session):
    error = error_of(session, "SELECT a FROM t WHERE a == 1")
    assert error.sqlstate == "42883"
    assert error.position == 25


def test_unterminated_string(session):
    error = error_of(session, "SELECT 'abc")
    assert error.sqlstate == "42601"
    assert error.position == 8


def test_two_statements_are_refused(session):
    error = error_of(session, "SELECT 1; SELECT 2")
    assert error.sqlstate == "42601"


def test_trailing_semicolon_is_fine(sql):
    assert sql("SELECT 1;") == [(1,)]


@pytest.mark.parametrize("text, what", [
    ("ALTER TABLE t ADD COLUMN x INT", "ALTER"),
    ("TRUNCATE t", "TRUNCATE"),
    ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
    ("SELECT a FROM t UNION SELECT a FROM u ORDER BY a + 1", "ORDER BY of UNION"),
    ("SELECT a FROM t WHERE (a, a) IN (SELECT a, a FROM u)", "row constructor"),
    ("SELECT a FROM t WHERE a = ANY (ARRAY[1, 2])", "ANY"),
    ("CREATE TABLE v (a INT DEFAULT (SELECT 1))", "subquery"),
    ("SELECT a FROM t LIMIT (SELECT 1)", "subquery"),
    ("SELECT t.a FROM t RIGHT JOIN u ON t.a = u.a", "RIGHT JOIN"),
    ("SELECT t.a FROM t FULL JOIN u ON t.a = u.a", "FULL JOIN"),
    ("SELECT DISTINCT ON (a) a FROM t", "DISTINCT ON"),
    ("SELECT a FROM t FOR UPDATE", "FOR UPDATE"),
    ("SELECT row_number() OVER () FROM t", "window"),
    ("CREATE TABLE v (a INT CHECK (a > 0))", "CHECK"),
    ("CREATE TABLE v (a INT REFERENCES t (a))", "REFERENCES"),
    ("CREATE TABLE v (a JSON)", "JSON"),
    ("CREATE TABLE v AS SELECT 1", "AS"),
    ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "CONFLICT"),
    ("DELETE FROM t RETURNING a", "RETURNING"),
    ("EXPLAIN ANALYZE SELECT 1", "ANALYZE"),
    ("SAVEPOINT s", "SAVEPOINT"),
    ("ROLLBACK TO SAVEPOINT s", "ROLLBACK TO"),
    ("UPDATE t JOIN u ON t.a = u.a SET b = 'x'", "join"),
    ("SELECT * FROM LATERAL (SELECT 1) AS s", "LATERAL"),
    ("SELECT t.a FROM t NATURAL JOIN u", "NATURAL"),
    ("SELECT t.a FROM t JOIN u USING (a)", "USING"),
])
def test_unsupported_constructs_are_named(session, text, what):
    error = error_of(session, text, kind=NotSupportedError)
    assert error.sqlstate == "0A000"
    assert what.lower() in error.message.lower()


def test_undefined_table_and_column(session):
    error = error_of(session, "SELECT a FROM nope")
    assert (error.sqlstate, error.position) == ("42P01", 15)
    error = error_of(session, "SELECT zz FROM t")
    assert (error.sqlstate, error.position) == ("42703", 8)
    error = error_of(session, "SELECT t.zz FROM t")
    assert error.sqlstate == "42703"
    error = error_of(session, "SELECT x.a FROM t")
    assert error.sqlstate == "42P01"


def test_ambiguous_column(session):
    error = error_of(session, "SELECT a FROM t, u")
    assert error.sqlstate == "42702"


def test_undefined_function(session):
    error = error_of(session, "SELECT nosuchfn(1)")
    assert error.sqlstate == "42883"
    error = error_of(session, "SELECT length(1)")
    assert error.sqlstate == "42883"


def test_operator_type_mismatch(session):
    error = error_of(session, "SELECT a FROM t WHERE b = 1")
    assert error.sqlstate == "42883"
    assert "text = integer" in error.message
    error = error_of(session, "SELECT b + 1 FROM t")
    assert error.sqlstate == "42883"


def test_where_must_be_boolean(session):
    error = error_of(session, "SELECT a FROM t WHERE a")
    assert error.sqlstate == "42804"
    assert "WHERE" in error.message


def test_bad_literal_for_type(session):
    error = error_of(session, "SELECT a FROM t WHERE a = 'abc'", kind=DataError)
    assert error.sqlstate == "22P02"


def test_unknown_type(session):
    error = error_of(session, "CREATE TABLE v (a integr)")
    assert error.sqlstate == "42704"


def test_aggregate_misuse(session):
    assert error_of(session, "SELECT a FROM t WHERE count(*) > 1").sqlstate == "42803"
    assert error_of(session, "SELECT a, count(*) FROM t").sqlstate == "42803"
    assert error_of(session, "SELECT sum(count(a)) FROM t").sqlstate == "42803"
    assert error_of(session, "SELECT a FROM t GROUP BY count(*)").sqlstate == "42803"


def test_errors_are_never_raw_python_exceptions(session):
    texts = ["", "   ", "SELECT", "SELECT FROM", "SELECT * FROM", "INSERT INTO", "UPDATE",
             "DELETE FROM", "CREATE", "CREATE TABLE", "CREATE TABLE x", "DROP", "DROP TABLE",
             "SELECT 1 +", "SELECT CASE", "SELECT CAST(1 AS)", "SELECT ((1)", ")", "'",
             "SELECT * FROM t WHERE a BETWEEN 1", "SELECT 1::nosuchtype", "EXPLAIN",
             "BEGIN foo", "COMMIT now", "SELECT count(DISTINCT *) FROM t"]
    for text in texts:
        try:
            frontend.execute(session, text)
        except (ProgrammingError, NotSupportedError, DataError):
            pass


def test_position_is_mapped_through_parameters(session):
    # ``?`` is rewritten to ``$1`` internally: positions still point into the original text.
    error = error_of(session, "SELECT a FROM t WHERE a = ? AND zz = 1", (1,))
    assert error.sqlstate == "42703"
    assert error.position == 33


def test_position_after_explain(session):
    error = error_of(session, "EXPLAIN SELECT zz FROM t")
    assert error.position == 16


@pytest.mark.parametrize("text", ["CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END",
                                  "DROP TRIGGER x", "CREATE FUNCTION f() RETURNS int AS 'x'",
                                  "CREATE TEMP TABLE x (a INT)", "CREATE SEQUENCE s",
                                  "DROP SCHEMA s"])
def test_other_schema_objects_are_not_supported(session, text):
    # The trigger's body holds a semicolon: still NotSupportedError, not "two statements".
    error = error_of(session, text, kind=NotSupportedError)
    assert error.sqlstate == "0A000"
    assert text.split()[1] in error.message or "TEMP TABLE" in error.message


def test_create_garbage_is_a_syntax_error(session):
    error = error_of(session, "CREATE BANANA x")
    assert (error.sqlstate, error.position) == ("42601", 8)
