"""Subqueries as values: scalar, EXISTS, IN, ANY/ALL; correlated ones; in FROM; errors."""

from __future__ import annotations

import pytest

from aurora_lite.errors import NotSupportedError, ProgrammingError


@pytest.fixture
def data(sql):
    sql.script("""
        CREATE TABLE t1 (a INTEGER, b INTEGER, c INTEGER);
        INSERT INTO t1 VALUES (1, 10, 100), (2, 20, NULL), (3, 30, 300), (4, NULL, 400);
        CREATE TABLE t2 (id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
        INSERT INTO t2 VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 3, 'z'), (4, NULL, 'w');
    """)
    return sql


def test_scalar_subquery(data):
    assert data.one("SELECT (SELECT max(b) FROM t1)") == 30
    assert data("SELECT a FROM t1 WHERE b > (SELECT avg(b) FROM t1) ORDER BY a") == [(3,)]
    assert data.one("SELECT (SELECT b FROM t1 WHERE a = 99)") is None


def test_correlated_scalar_and_exists(data):
    rows = data("SELECT a, (SELECT count(*) FROM t2 WHERE t2.k = t1.a) FROM t1 ORDER BY a")
    assert rows == [(1, 2), (2, 0), (3, 1), (4, 0)]
    rows = data("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a) "
                "ORDER BY a")
    assert rows == [(1,), (3,)]
    rows = data("SELECT a FROM t1 WHERE NOT EXISTS (SELECT * FROM t2 WHERE t2.k = t1.a) "
                "ORDER BY a")
    assert rows == [(2,), (4,)]
    # An outer column two levels up.
    rows = data("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a AND "
                "EXISTS (SELECT 1 FROM t2 AS x WHERE x.id = t1.a + 1)) ORDER BY a")
    assert rows == [(1,), (3,)]


def test_in_subquery_null_semantics(data):
    # t1.c holds a NULL: NOT IN is never true, IN is true only on a match.
    assert data("SELECT a FROM t1 WHERE a * 100 IN (SELECT c FROM t1) ORDER BY a") == \
        [(1,), (3,), (4,)]
    assert data("SELECT a FROM t1 WHERE a * 100 NOT IN (SELECT c FROM t1)") == []
    assert data("SELECT a FROM t1 WHERE a NOT IN (SELECT k FROM t2 WHERE k IS NOT NULL) "
                "ORDER BY a") == [(2,), (4,)]
    # Empty subquery: IN is false and NOT IN true, even for a NULL operand.
    assert data.one("SELECT NULL IN (SELECT a FROM t1 WHERE a > 9)") is False
    assert data.one("SELECT NULL NOT IN (SELECT a FROM t1 WHERE a > 9)") is True
    assert data.one("SELECT NULL IN (SELECT a FROM t1)") is None
    assert data.one("SELECT 5 IN (SELECT c FROM t1)") is None
    assert data.one("SELECT 100 IN (SELECT c FROM t1)") is True


def test_any_all(data):
    assert data("SELECT a FROM t1 WHERE a > ALL (SELECT k FROM t2 WHERE k IS NOT NULL) "
                "ORDER BY a") == [(4,)]
    assert data("SELECT a FROM t1 WHERE a = ANY (SELECT k FROM t2) ORDER BY a") == \
        [(1,), (3,)]
    assert data("SELECT a FROM t1 WHERE a < SOME (SELECT 2) ORDER BY a") == [(1,)]
    assert data.one("SELECT 1 > ALL (SELECT a FROM t1 WHERE a > 9)") is True
    assert data.one("SELECT 9 > ALL (SELECT k FROM t2)") is None


def test_subquery_in_select_list_with_group_by(data):
    rows = data("SELECT k, count(*), (SELECT max(a) FROM t1 WHERE t1.a <= t2.k) FROM t2 "
                "GROUP BY k ORDER BY k NULLS FIRST")
    assert rows == [(None, 1, None), (1, 2, 1), (3, 1, 3)]
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT k, (SELECT max(a) FROM t1 WHERE t1.a = t2.id) FROM t2 GROUP BY k")
    assert caught.value.sqlstate == "42803"


def test_subquery_errors(data):
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT (SELECT a FROM t1)")
    assert caught.value.sqlstate == "21000"
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT (SELECT a, b FROM t1 WHERE a = 1)")
    assert caught.value.sqlstate == "42601"
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT 1 IN (SELECT a, b FROM t1)")
    assert caught.value.sqlstate == "42601"
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT a FROM t1 WHERE a IN (SELECT v FROM t2)")
    assert caught.value.sqlstate == "42883"
    with pytest.raises(NotSupportedError):
        data("SELECT (SELECT sum(t1.a)) FROM t1")


def test_subquery_in_from(data):
    rows = data("SELECT s.x, s.y FROM (SELECT a + 1 AS x, b FROM t1) AS s (x, y) "
                "WHERE s.x > 2 ORDER BY 1")
    assert rows == [(3, 20), (4, 30), (5, None)]
    rows = data("SELECT s.k, t1.a FROM (SELECT k, count(*) AS n FROM t2 GROUP BY k) s, t1 "
                "WHERE s.k = t1.a ORDER BY 1")
    assert rows == [(1, 1), (3, 3)]
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT * FROM (SELECT 1)")
    assert caught.value.sqlstate == "42601"


def test_update_and_delete_with_subqueries(data):
    data("UPDATE t1 SET c = (SELECT count(*) FROM t2 WHERE t2.k = t1.a) WHERE c IS NULL")
    assert data.one("SELECT c FROM t1 WHERE a = 2") == 0
    data("DELETE FROM t2 WHERE k IN (SELECT a FROM t1 WHERE b >= 30)")
    assert data("SELECT id FROM t2 ORDER BY id") == [(1,), (2,), (4,)]
    data("INSERT INTO t2 VALUES (10, (SELECT max(a) FROM t1), 'n')")
    assert data.one("SELECT k FROM t2 WHERE id = 10") == 4


def test_correlated_subquery_uses_an_index_and_explain_shows_it(data):
    data("CREATE INDEX t2_k ON t2 (k)")
    plan = data.explain("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a)")
    assert "SubPlan (exists) for t1.a" in plan
    assert "Index Only Scan using t2_k on t2" in plan
    assert "Index Cond: (t2.k = $1)" in plan
    assert data("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a) "
                "ORDER BY a") == [(1,), (3,)]


def test_correlated_runs_are_cached_per_outer_value(sql):
    sql("CREATE TABLE big (a INTEGER, g INTEGER)")
    sql("INSERT INTO big VALUES " + ", ".join(f"({i}, {i % 3})" for i in range(300)))
    calls = []
    from aurora_lite.exec import _subquery
    original = _subquery.SubqueryRunner._run

    def counting(self, p, key):
        calls.append(key)
        return original(self, p, key)
    _subquery.SubqueryRunner._run = counting
    try:
        rows = sql("SELECT g, (SELECT count(*) FROM big AS x WHERE x.g = big.g) FROM big "
                   "ORDER BY a LIMIT 3")
    finally:
        _subquery.SubqueryRunner._run = original
    assert rows == [(0, 100), (1, 100), (2, 100)]
    assert sorted(calls) == [(0,), (1,), (2,)]


def test_parameters_inside_subqueries(data):
    assert data("SELECT a FROM t1 WHERE a IN (SELECT k FROM t2 WHERE id > ?) ORDER BY a",
                (1,)) == [(1,), (3,)]
    assert data("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a AND "
                "t2.v = $1)", ("z",)) == [(3,)]


def test_correlated_subquery_without_index_uses_a_hashed_scan(data):
    """Without an index on t2.k the correlated equality is probed in a hash table built once
    per execution: NULL keys never match, a statement parameter filters while building, a
    second outer value compared with a non-key column filters each run's rows."""
    query = "SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a)"
    plan = data.explain(query)
    assert "Hashed Scan on t2" in plan
    assert "Hash Key: (t2.k = $1)" in plan
    assert data(query + " ORDER BY a") == [(1,), (3,)]
    rows = data("SELECT a, (SELECT count(*) FROM t2 WHERE t2.k = t1.a) FROM t1 ORDER BY a")
    assert rows == [(1, 2), (2, 0), (3, 1), (4, 0)]
    # A NULL probe finds nothing, and rows with a NULL key are never in a bucket.
    assert data("SELECT a, (SELECT count(*) FROM t2 WHERE t2.k = t1.b) FROM t1 "
                "ORDER BY a") == [(1, 0), (2, 0), (3, 0), (4, 0)]
    # Build filter (statement parameter) and per-run filter (another outer column).
    with_param = ("SELECT a, (SELECT count(*) FROM t2 WHERE t2.k = t1.a AND t2.v <> ?) "
                  "FROM t1 ORDER BY a")
    assert "Build Filter" in data.explain(with_param.replace("?", "'y'"))
    assert data(with_param, ("y",)) == [(1, 1), (2, 0), (3, 1), (4, 0)]
    residual = ("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a "
                "AND t2.id > t1.a) ORDER BY a")
    assert data(residual) == [(1,)]
    # Two keys: both columns hash.
    two = ("SELECT a FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.a "
           "AND t2.id = t1.a + 1) ORDER BY a")
    assert data(two) == [(1,)]


def test_hashed_scan_reads_the_table_once_per_execution(sql):
    sql("CREATE TABLE big (a INTEGER, g INTEGER)")
    sql("INSERT INTO big VALUES " + ", ".join(f"({i}, {i % 50})" for i in range(500)))
    from aurora_lite.exec import _hashed_scan
    original = _hashed_scan.HashedScanExecutor._table
    builds = []

    def counting(self, ctx):
        if self not in ctx.params.shared:
            builds.append(1)
        return original(self, ctx)
    _hashed_scan.HashedScanExecutor._table = counting
    try:
        rows = sql("SELECT a, (SELECT count(*) FROM big AS x WHERE x.g = big.a) FROM big "
                   "WHERE a < 60 ORDER BY a")
    finally:
        _hashed_scan.HashedScanExecutor._table = original
    assert rows == [(i, 10 if i < 50 else 0) for i in range(60)]
    assert builds == [1]


def test_not_in_keeps_nulls_read_through_a_descending_index(sql):
    # SQLite 3.40 loses the NULLs when the subquery is read through a DESC index (found by the
    # subquery oracle); PostgreSQL, and we, keep them: NOT IN is never true against a NULL.
    sql("CREATE TABLE outer_t (b INTEGER)")
    sql("CREATE TABLE inner_t (c INTEGER)")
    sql("CREATE INDEX inner_c ON inner_t (c DESC)")
    sql("INSERT INTO outer_t VALUES (9), (5), (NULL)")
    sql("INSERT INTO inner_t VALUES (NULL), (5), (10)")
    assert sql("SELECT b FROM outer_t WHERE b NOT IN (SELECT c FROM inner_t)") == []
    assert sql("SELECT b FROM outer_t WHERE b IN (SELECT c FROM inner_t)") == [(5,)]
    sql("DELETE FROM inner_t WHERE c IS NULL")
    assert sql("SELECT b FROM outer_t WHERE b NOT IN (SELECT c FROM inner_t)") == [(9,)]
