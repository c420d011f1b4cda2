"""The statement cache (no sqlglot on a repeated statement, invalidation by DDL) and
transaction statements mapped to the session."""

from __future__ import annotations

import pytest
import sqlglot.parser
import sqlglot.tokens

from aurora_lite import frontend
from aurora_lite.errors import IntegrityError
from tests.support.engines import open_session


@pytest.fixture
def sqlglot_calls(monkeypatch):
    calls = {"parse": 0, "tokenize": 0}
    real_parse = sqlglot.parser.Parser.parse
    real_tokenize = sqlglot.tokens.Tokenizer.tokenize

    def parse(self, *args, **kwargs):
        calls["parse"] += 1
        return real_parse(self, *args, **kwargs)

    def tokenize(self, *args, **kwargs):
        calls["tokenize"] += 1
        return real_tokenize(self, *args, **kwargs)
    monkeypatch.setattr(sqlglot.parser.Parser, "parse", parse)
    monkeypatch.setattr(sqlglot.tokens.Tokenizer, "tokenize", tokenize)
    return calls


def test_repeated_statement_skips_sqlglot(sql, sqlglot_calls):
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    text = "SELECT v FROM t WHERE id = ? -- cache test"
    frontend.clear_cache()
    sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    before = dict(sqlglot_calls)
    assert sql(text, (1,)) == [("a",)]
    assert sqlglot_calls["parse"] > before["parse"]
    after_first = dict(sqlglot_calls)
    for key in (1, 2, 1):
        sql(text, (key,))
    assert sqlglot_calls == after_first
    insert = "INSERT INTO t VALUES (?, ?) -- cache test"
    sql(insert, (3, "c"))
    after_insert = dict(sqlglot_calls)
    sql(insert, (4, "d"))
    assert sqlglot_calls == after_insert


def test_plan_is_reused_until_the_catalog_changes(sql, session):
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    text = "SELECT id FROM t WHERE v = ?"
    prepared = frontend.prepare(text)
    first = prepared.plan(session, (1,))
    assert prepared.plan(session, (2,)) is first
    assert "Seq Scan" in sql.explain(text, (1,))
    sql("CREATE INDEX t_v ON t (v)")
    # The new index makes a new catalog: the statement is planned again and uses it.
    assert prepared.plan(session, (1,)) is not first
    assert "Index Only Scan using t_v" in sql.explain(text, (1,))
    sql("INSERT INTO t VALUES (1, 5)")
    assert sql(text, (5,)) == [(1,)]


def test_dropped_and_recreated_table(sql):
    sql("CREATE TABLE t (a INTEGER)")
    sql("INSERT INTO t VALUES (1)")
    assert sql("SELECT * FROM t") == [(1,)]
    sql("DROP TABLE t")
    sql("CREATE TABLE t (a TEXT, b INTEGER)")
    sql("INSERT INTO t VALUES ('x', 2)")
    assert sql("SELECT * FROM t") == [("x", 2)]


def test_cache_is_bounded(monkeypatch):
    from aurora_lite.frontend import _prepared
    monkeypatch.setattr(_prepared, "CACHE_SIZE", 5)
    frontend.clear_cache()
    for i in range(20):
        frontend.prepare(f"SELECT {i}")
    assert frontend.cache_info()["size"] == 5


def test_same_cached_statement_in_two_databases(tmp_path):
    # Plans are bound to one catalog object: another database rebinds, never reuses.
    with open_session("memory") as first, open_session("memory") as second:
        frontend.execute(first, "CREATE TABLE t (a INTEGER, b TEXT)")
        frontend.execute(second, "CREATE TABLE t (b TEXT, a INTEGER)")
        frontend.execute(first, "INSERT INTO t VALUES (1, 'x')")
        frontend.execute(second, "INSERT INTO t VALUES ('y', 2)")
        assert list(frontend.execute(first, "SELECT a, b FROM t").rows) == [(1, "x")]
        assert list(frontend.execute(second, "SELECT a, b FROM t").rows) == [(2, "y")]


def test_begin_commit_rollback(sql, session):
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    assert sql.result("BEGIN").command_tag == "BEGIN"
    assert session.in_transaction
    sql("INSERT INTO t VALUES (1)")
    assert sql.result("ROLLBACK").command_tag == "ROLLBACK"
    assert not session.in_transaction
    assert sql("SELECT count(*) FROM t") == [(0,)]
    sql("START TRANSACTION")
    sql("INSERT INTO t VALUES (2)")
    assert sql.result("COMMIT").command_tag == "COMMIT"
    assert sql("SELECT id FROM t") == [(2,)]
    sql("BEGIN WORK")
    sql("INSERT INTO t VALUES (3)")
    sql("END")
    sql("BEGIN TRANSACTION")
    sql("INSERT INTO t VALUES (4)")
    sql("ABORT")
    assert sql("SELECT id FROM t ORDER BY id") == [(2,), (3,)]
    # COMMIT / ROLLBACK without a transaction, BEGIN inside one: PostgreSQL only warns.
    sql("COMMIT")
    sql("ROLLBACK")
    sql("BEGIN")
    sql("BEGIN")
    sql("COMMIT")


def test_statement_atomicity_inside_a_transaction(sql):
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    sql("BEGIN")
    sql("INSERT INTO t VALUES (1)")
    with pytest.raises(IntegrityError):
        sql("INSERT INTO t VALUES (2), (1)")
    sql("INSERT INTO t VALUES (3)")
    sql("COMMIT")
    assert sql("SELECT id FROM t ORDER BY id") == [(1,), (3,)]


def test_non_autocommit_session_has_an_implicit_transaction(tmp_path):
    for kind in ("memory", "aurora"):
        with open_session(kind, tmp_path / kind, autocommit=False) as session:
            frontend.execute(session, "CREATE TABLE t (id INTEGER)")
            frontend.execute(session, "INSERT INTO t VALUES (1)")
            assert session.in_transaction
            frontend.execute(session, "ROLLBACK")
            assert not session.in_transaction


def test_split_statements():
    text = """
        CREATE TABLE t (a TEXT); -- comment; with a semicolon
        INSERT INTO t VALUES ('a;b'), ($$x;y$$);
        /* block; comment */ SELECT ';' AS "se;mi";
        ;
    """
    parts = frontend.split_statements(text)
    assert len(parts) == 3
    assert parts[0] == "CREATE TABLE t (a TEXT)"
    assert parts[1].startswith("INSERT") and "'a;b'" in parts[1]
    assert parts[2].endswith('AS "se;mi"')


def test_empty_statement(session):
    result = frontend.execute(session, "  -- nothing\n")
    assert result.description is None
