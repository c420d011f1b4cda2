"""What the engine does not run fails with a PEP 249 exception naming what the user wrote.

sqlglot turns many functions and operators into its own node classes (string_agg is
GroupConcat, ``~`` is RegexpLike, MySQL's ifnull is Coalesce); the messages must name the
function or operator as written, never sqlglot's class, and must tell apart what PostgreSQL
has but aurora_lite does not run (NotSupportedError, 0A000) from what PostgreSQL does not have
either (ProgrammingError, 42883). SQLite's REPLACE / INSERT OR REPLACE, triggers and REINDEX
(all in the sqllogictest corpus) are NotSupportedError naming the construct.
"""

from __future__ import annotations

import pytest

from aurora_lite import frontend
from aurora_lite.errors import Error, NotSupportedError, ProgrammingError

NOT_SUPPORTED, UNDEFINED = (NotSupportedError, "0A000"), (ProgrammingError, "42883")

# sqlglot's names for the constructs below: none may reach a message.
INTERNAL_NAMES = ("group_concat", "regexp_like", "regexp_i_like", "timestamp_trunc",
                  "time_to_str", "logical_and", "exploding_generate_series", "extract(",
                  "Anonymous", "Func", "(GroupConcat)")


@pytest.fixture(autouse=True)
def table(sql):
    sql("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c TIMESTAMP, d BOOLEAN)")


# (statement, (class, SQLSTATE), text the message must hold, position or None)
CASES = [
    # PostgreSQL functions and operators sqlglot knows by another name
    ("SELECT string_agg(b, ',') FROM t", NOT_SUPPORTED, "function string_agg", 8),
    ("SELECT STRING_AGG(b, ',' ORDER BY b) FROM t", NOT_SUPPORTED, "function string_agg", 8),
    ("SELECT b ~ 'x' FROM t", NOT_SUPPORTED, "the ~ operator", 10),
    ("SELECT b !~ 'x' FROM t", NOT_SUPPORTED, "the !~ operator", 10),
    ("SELECT b ~* 'x' FROM t", NOT_SUPPORTED, "the ~* operator", 10),
    ("SELECT b !~* 'x' FROM t", NOT_SUPPORTED, "the !~* operator", 10),
    ("SELECT date_trunc('day', c) FROM t", NOT_SUPPORTED, "function date_trunc", 8),
    ("SELECT to_char(c, 'YYYY') FROM t", NOT_SUPPORTED, "function to_char", 8),
    ("SELECT bool_and(d) FROM t", NOT_SUPPORTED, "function bool_and", 8),
    ("SELECT bool_or(d) FROM t", NOT_SUPPORTED, "function bool_or", 8),
    ("SELECT every(d) FROM t", NOT_SUPPORTED, "function every", 8),
    ("SELECT generate_series(1, 3)", NOT_SUPPORTED, "function generate_series", 8),
    ("SELECT date_part('year', c) FROM t", NOT_SUPPORTED, "function date_part", 8),
    ("SELECT date_part('year', abs(a)) FROM t", NOT_SUPPORTED, "function date_part", 8),
    ("SELECT extract(year FROM c) FROM t", NOT_SUPPORTED, "function extract", 8),
    ("SELECT a, array_agg(b) FROM t GROUP BY a", NOT_SUPPORTED, "function array_agg", 11),
    ("SELECT stddev(a) FROM t", NOT_SUPPORTED, "function stddev", 8),
    ("SELECT age(c) FROM t", NOT_SUPPORTED, "function age", 8),
    ("SELECT md5(b) FROM t", NOT_SUPPORTED, "function md5", 8),
    ("SELECT split_part(b, ',', 1) FROM t", NOT_SUPPORTED, "function split_part", 8),
    ("SELECT regexp_replace(b, 'x', 'y') FROM t", NOT_SUPPORTED, "function regexp_replace", 8),
    ("SELECT div(7, 2)", NOT_SUPPORTED, "function div", 8),
    ("SELECT version()", NOT_SUPPORTED, "function version", 8),
    ("SELECT * FROM generate_series(1, 3)", NOT_SUPPORTED, "table function generate_series",
     15),
    ("SELECT b SIMILAR TO 'x' FROM t", NOT_SUPPORTED, "SIMILAR TO", 8),
    ("SELECT count(*) FILTER (WHERE a > 1) FROM t", NOT_SUPPORTED, "FILTER", 8),
    ("SELECT 5 & 3", NOT_SUPPORTED, "the & operator", 8),
    ("SELECT row_number() OVER () FROM t", NOT_SUPPORTED, "window functions", 8),
    ("SELECT sum(a) OVER (PARTITION BY b) FROM t", NOT_SUPPORTED, "window functions", 8),
    ("WITH x AS (SELECT 1) SELECT * FROM x", NOT_SUPPORTED, "WITH", 1),
    # names PostgreSQL does not have (other dialects'): 42883 naming them, never run
    ("SELECT group_concat(b) FROM t", UNDEFINED, "function group_concat(text)", 8),
    ("SELECT ifnull(a, 1) FROM t", UNDEFINED, "function ifnull(integer, integer)", 8),
    ("SELECT nvl(a, 1) FROM t", UNDEFINED, "function nvl(", 8),
    ("SELECT iif(a > 1, 1, 2) FROM t", UNDEFINED, "function iif(", 8),
    ("SELECT if(a > 1, 1, 2) FROM t", UNDEFINED, "function if(", 8),
    ("SELECT len(b) FROM t", UNDEFINED, "function len(text)", 8),
    ("SELECT instr(b, 'x') FROM t", UNDEFINED, "function instr(", 8),
    ("SELECT lcase(b) FROM t", UNDEFINED, "function lcase(text)", 8),
    ("SELECT char(65)", UNDEFINED, "function char(integer)", 8),
    ("SELECT log2(8)", UNDEFINED, "function log2(integer)", 8),
    ("SELECT typeof(a) FROM t", UNDEFINED, "function typeof(integer)", 8),
    ("SELECT nosuchfn(1)", UNDEFINED, "function nosuchfn(integer)", 8),
    ("SELECT * FROM nosuchfn(1)", UNDEFINED, "function nosuchfn", 15),
    # SQLite's statements in the corpus
    ("REPLACE INTO t VALUES (1, 'a', NULL, NULL)", NOT_SUPPORTED, "REPLACE INTO", 1),
    ("INSERT OR REPLACE INTO t VALUES (1, 'a', NULL, NULL)", NOT_SUPPORTED,
     "INSERT OR REPLACE", 8),
    ("INSERT OR IGNORE INTO t VALUES (1, 'a', NULL, NULL)", NOT_SUPPORTED, "INSERT OR IGNORE",
     8),
    ("UPDATE OR REPLACE t SET a = 1", NOT_SUPPORTED, "UPDATE OR REPLACE", 8),
    ("CREATE TRIGGER t1r1 UPDATE ON t BEGIN SELECT 1; END;", NOT_SUPPORTED,
     "triggers are not supported", 1),
    ("CREATE TRIGGER t1r5 AFTER DELETE ON t BEGIN SELECT 1; DELETE FROM t; END", NOT_SUPPORTED,
     "triggers are not supported", 1),
    ("CREATE TEMP TRIGGER tr BEFORE INSERT ON t BEGIN SELECT 1; END;", NOT_SUPPORTED,
     "triggers are not supported", 1),
    ("CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", NOT_SUPPORTED,
     "triggers are not supported", 1),
    ("DROP TRIGGER IF EXISTS t1r1", NOT_SUPPORTED, "triggers are not supported", 1),
    ("DROP TRIGGER t1r1", NOT_SUPPORTED, "triggers are not supported", 1),
    ("REINDEX t1i1", NOT_SUPPORTED, "REINDEX", 1),
    ("REINDEX TABLE t", NOT_SUPPORTED, "REINDEX", 1),
    # other objects and statements: the object's kind, not the words after it
    ("CREATE SEQUENCE s", NOT_SUPPORTED, "CREATE SEQUENCE is", 1),
    ("DROP SEQUENCE IF EXISTS s", NOT_SUPPORTED, "DROP SEQUENCE is", 1),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", NOT_SUPPORTED, "CREATE OR REPLACE VIEW", 1),
    ("CREATE TEMP TABLE x (a INT)", NOT_SUPPORTED, "CREATE TEMP TABLE", 1),
    ("INSERT INTO t VALUES (1, 'a', NULL, NULL) ON CONFLICT DO NOTHING", NOT_SUPPORTED,
     "ON CONFLICT", None),
    ("INSERT INTO t VALUES (1, 'a', NULL, NULL) RETURNING a", NOT_SUPPORTED, "RETURNING", 53),
]


@pytest.mark.parametrize("text, expected, name, position", CASES,
                         ids=[case[0][:40] for case in CASES])
def test_error_names_what_was_written(session, text, expected, name, position):
    cls, sqlstate = expected
    with pytest.raises(Error) as caught:
        frontend.execute(session, text)
    error = caught.value
    assert type(error) is cls, (type(error), error.message)
    assert error.sqlstate == sqlstate, error.message
    assert name in error.message, error.message
    for internal in INTERNAL_NAMES:
        if internal not in text.lower():
            assert internal not in error.message, error.message
    if position is not None:
        assert error.position == position, error.message


def test_replace_suggests_on_conflict(session):
    for text in ("REPLACE INTO t VALUES (1, 'a', NULL, NULL)",
                 "INSERT OR REPLACE INTO t VALUES (1, 'a', NULL, NULL)"):
        with pytest.raises(NotSupportedError) as caught:
            frontend.execute(session, text)
        assert "INSERT ... ON CONFLICT" in caught.value.message
        assert "SQLite" in caught.value.message


def test_nothing_was_run(sql):
    """A refused statement changed nothing (REPLACE did not insert, the trigger's DELETE
    did not run)."""
    sql("INSERT INTO t VALUES (1, 'x', NULL, NULL)")
    for text in ("REPLACE INTO t VALUES (2, 'a', NULL, NULL)",
                 "INSERT OR REPLACE INTO t VALUES (1, 'y', NULL, NULL)",
                 "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END"):
        with pytest.raises(NotSupportedError):
            sql(text)
    assert sql("SELECT a, b FROM t") == [(1, "x")]


def test_supported_calls_still_run(sql):
    """The name check lets through every spelling PostgreSQL has."""
    sql("INSERT INTO t VALUES (1, ' Ab ', NULL, true)")
    row = sql("SELECT coalesce(a, 0), nullif(a, 2), greatest(a, 2), least(a, 2), lpad('x', 3, "
              "'-'), rpad('x', 2), log(100), round(2.25, 1), trim(b), ltrim(b), rtrim(b), "
              "position('b' in b), substring(b from 2 for 2), substr(b, 2), left(b, 2), "
              "right(b, 2), chr(65), concat(a, 'x'), concat_ws('-', a, a), upper(b), "
              "lower(b), length(b), strpos(b, 'b'), replace(b, 'A', 'a'), abs(-a), "
              "mod(7, a + 1), power(2, 3), ceil(1.5), floor(1.5), sign(-2), sqrt(4.0) "
              "FROM t")
    assert row == [(1, 1, 2, 1, "--x", "x ", 2.0, 2.3, "Ab", "Ab ", " Ab", 3, "Ab", "Ab ",
                    " A", "b ", "A", "1x", "1-1", " AB ", " ab ", 4, 3, " ab ", 1, 1, 8.0,
                    2.0, 1.0, -1, 2.0)]
    assert sql("SELECT count(*), sum(a), avg(a), min(b), max(b) FROM t") == \
        [(1, 1, 1.0, " Ab ", " Ab ")]


def test_split_statements_keeps_a_sqlite_trigger_body_together():
    text = ("SELECT 1; CREATE TRIGGER t1r1 UPDATE ON t1 BEGIN SELECT 1; "
            "SELECT CASE WHEN 1 THEN 2 END; END; SELECT 2;")
    assert frontend.split_statements(text) == [
        "SELECT 1",
        "CREATE TRIGGER t1r1 UPDATE ON t1 BEGIN SELECT 1; SELECT CASE WHEN 1 THEN 2 END; END",
        "SELECT 2"]
    # PostgreSQL's trigger has no BEGIN: it ends at its semicolon.
    assert frontend.split_statements(
        "CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f(); SELECT 3") == [
        "CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "SELECT 3"]
    assert frontend.split_statements("BEGIN; SELECT 1; END;") == ["BEGIN", "SELECT 1", "END"]
