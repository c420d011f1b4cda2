"""Access paths shown by EXPLAIN, and their results checked against a full scan.

Every query here runs twice: once as written (the planner may use the primary key or an
index) and once with the predicate hidden from the planner (``+ 0`` on the column), which
forces a full scan with a filter; both must give the same rows.
"""

from __future__ import annotations

import random
import re

import pytest

SEED = random.randrange(1 << 30)


@pytest.fixture(autouse=True)
def data(sql):
    print(f"seed={SEED}")
    rng = random.Random(SEED)
    sql("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)")
    sql("CREATE INDEX t_a ON t (a)")
    sql("CREATE INDEX t_b_desc ON t (b DESC)")
    sql("CREATE INDEX t_a_c ON t (a, c DESC)")
    rows = []
    for i in range(1, 201):
        a = rng.choice([None] + list(range(10)))
        b = rng.choice(["x", "y", "z", "w"]) + str(rng.randrange(3)) \
            if rng.random() < 0.9 else None
        c = rng.choice([None, 0.5, 1.5, 2.5, 3.5])
        rows.append((i, a, b, c))
    for start in range(0, len(rows), 50):
        chunk = rows[start:start + 50]
        sql("INSERT INTO t VALUES " + ", ".join("(?, ?, ?, ?)" for _ in chunk),
            [v for row in chunk for v in row])
    sql("CREATE TABLE k2 (x INTEGER, y INTEGER, z TEXT, PRIMARY KEY (x, y))")
    sql("INSERT INTO k2 SELECT id % 7, id, b FROM t")


def index_scan(plan: str, index: str = "") -> bool:
    """Whether EXPLAIN output shows an index scan (index-only or not) of ``index``."""
    return re.search(rf"Index (Only )?Scan using {index}", plan) is not None


def same_as_full_scan(sql, query: str, hidden: str, params=None, ordered=False):
    got = sql(query, params)
    expected = sql(hidden, params)
    if ordered:
        assert got == expected
    else:
        assert sorted(got, key=repr) == sorted(expected, key=repr)
    return got


def test_pk_point_lookup(sql):
    plan = sql.explain("SELECT * FROM t WHERE id = 5")
    assert "PK Lookup on t" in plan and "Key Cond: (t.id = 5)" in plan
    assert sql("SELECT id FROM t WHERE id = 5") == [(5,)]
    assert sql("SELECT id FROM t WHERE id = ?", (500,)) == []
    plan = sql.explain("SELECT * FROM t WHERE id = ? AND a > 1", (5,))
    assert "PK Lookup" in plan and "Filter: (t.a > 1)" in plan


def test_pk_range(sql):
    plan = sql.explain("SELECT * FROM t WHERE id >= 10 AND id < 20")
    assert "PK Range Scan on t" in plan and "Filter" not in plan
    same_as_full_scan(sql, "SELECT id FROM t WHERE id >= 10 AND id < 20",
                      "SELECT id FROM t WHERE id + 0 >= 10 AND id + 0 < 20")
    same_as_full_scan(sql, "SELECT id FROM t WHERE 50 < id", "SELECT id FROM t WHERE 50 < id + 0")
    same_as_full_scan(sql, "SELECT id FROM t WHERE id <= ?", "SELECT id FROM t WHERE id + 0 <= ?",
                      (7,))


def test_composite_pk_prefix(sql):
    plan = sql.explain("SELECT * FROM k2 WHERE x = 3")
    assert "PK Range Scan on k2" in plan
    same_as_full_scan(sql, "SELECT y FROM k2 WHERE x = 3", "SELECT y FROM k2 WHERE x + 0 = 3")
    plan = sql.explain("SELECT * FROM k2 WHERE x = 3 AND y > 100")
    assert "PK Range Scan on k2" in plan and "y > 100" in plan and "Filter" not in plan
    same_as_full_scan(sql, "SELECT y FROM k2 WHERE x = 3 AND y > 100",
                      "SELECT y FROM k2 WHERE x + 0 = 3 AND y + 0 > 100")
    plan = sql.explain("SELECT * FROM k2 WHERE x = 3 AND y = 10")
    assert "PK Lookup on k2" in plan
    plan = sql.explain("SELECT * FROM k2 WHERE y = 10")
    assert "Seq Scan on k2" in plan


def test_index_equality_and_range(sql):
    plan = sql.explain("SELECT * FROM t WHERE a = 3")
    assert index_scan(plan, "t_a on t") or index_scan(plan, "t_a_c on t")
    same_as_full_scan(sql, "SELECT id FROM t WHERE a = 3", "SELECT id FROM t WHERE a + 0 = 3")
    # a runs over 0..9: these ranges keep few enough rows for the index to pay.
    for op, value in (("<", 1), ("<=", 1), (">", 8), (">=", 8)):
        query = f"SELECT id FROM t WHERE a {op} {value}"
        assert index_scan(sql.explain(query))
        same_as_full_scan(sql, query, f"SELECT id FROM t WHERE a + 0 {op} {value}")
        same_as_full_scan(sql, f"SELECT id FROM t WHERE a {op} 4",
                          f"SELECT id FROM t WHERE a + 0 {op} 4")
    same_as_full_scan(sql, "SELECT id FROM t WHERE a > 2 AND a <= 6",
                      "SELECT id FROM t WHERE a + 0 > 2 AND a + 0 <= 6")


def test_desc_index_ranges(sql):
    plan = sql.explain("SELECT * FROM t WHERE b = 'x1'")
    assert index_scan(plan, "t_b_desc")
    for op in ("<", "<=", ">", ">=", "="):
        query = f"SELECT id FROM t WHERE b {op} 'x1'"
        assert index_scan(sql.explain(query), "t_b_desc")
        same_as_full_scan(sql, query, f"SELECT id FROM t WHERE b || '' {op} 'x1'")
    same_as_full_scan(sql, "SELECT id FROM t WHERE b > 'w2' AND b < 'y1'",
                      "SELECT id FROM t WHERE b || '' > 'w2' AND b || '' < 'y1'")


def test_composite_index_with_desc_second_column(sql):
    for predicate in ("a = 3 AND c > 1", "a = 3 AND c < 2.5", "a = 3 AND c >= 1.5 AND c <= 2.5",
                      "a = 3 AND c = 1.5", "a = 3"):
        query = f"SELECT id FROM t WHERE {predicate}"
        hidden = query.replace("a =", "a + 0 =").replace("c ", "c + 0 ")
        assert index_scan(sql.explain(query))
        same_as_full_scan(sql, query, hidden)


def test_null_bound_gives_no_rows(sql):
    assert sql("SELECT id FROM t WHERE a > ?", (None,)) == []
    assert sql("SELECT id FROM t WHERE id = ?", (None,)) == []


def test_sort_elision_on_primary_key(sql):
    plan = sql.explain("SELECT id FROM t ORDER BY id")
    assert "Sort" not in plan
    plan = sql.explain("SELECT id FROM t ORDER BY id DESC LIMIT 3")
    assert "Sort" not in plan and "(reverse)" in plan
    assert sql("SELECT id FROM t ORDER BY id DESC LIMIT 3") == [(200,), (199,), (198,)]
    plan = sql.explain("SELECT id FROM t WHERE id > 10 ORDER BY id LIMIT 3")
    assert "Sort" not in plan
    assert sql("SELECT id FROM t WHERE id > 10 ORDER BY id LIMIT 3") == [(11,), (12,), (13,)]


def test_sort_elision_on_index_with_limit(sql):
    query = "SELECT a, id FROM t WHERE a IS NOT NULL ORDER BY a LIMIT 5"
    plan = sql.explain(query)
    assert index_scan(plan) and "Sort" not in plan
    got = sql(query)
    assert [row[0] for row in got] == sorted(row[0] for row in got)
    expected = sorted(row[0] for row in sql("SELECT a FROM t WHERE a IS NOT NULL"))[:5]
    assert [row[0] for row in got] == expected


def test_sort_needed_for_other_null_order(sql):
    plan = sql.explain("SELECT a FROM t ORDER BY a NULLS FIRST LIMIT 5")
    assert "Sort" in plan
    got = sql("SELECT a FROM t ORDER BY a NULLS FIRST LIMIT 5")
    nulls = sql("SELECT count(*) FROM t WHERE a IS NULL")[0][0]
    assert got[:min(nulls, 5)] == [(None,)] * min(nulls, 5)


def test_equality_prefix_gives_order_of_next_column(sql):
    query = "SELECT y FROM k2 WHERE x = 2 ORDER BY y DESC"
    plan = sql.explain(query)
    assert "Sort" not in plan
    got = sql(query)
    assert got == sorted(got, reverse=True)


def test_update_and_delete_through_an_index(sql):
    before = sql("SELECT count(*) FROM t WHERE a = 4")[0][0]
    plan = sql.explain("UPDATE t SET c = -1 WHERE a = 4")
    assert index_scan(plan)
    assert sql("UPDATE t SET c = -1 WHERE a = 4") == before
    assert sql("SELECT count(*) FROM t WHERE c = -1") == [(before,)]
    assert sql("DELETE FROM t WHERE a = 4") == before
    assert sql("SELECT count(*) FROM t WHERE a + 0 = 4") == [(0,)]


def test_randomized_ranges_against_full_scan(sql):
    rng = random.Random(SEED + 1)
    for _ in range(40):
        column, values = rng.choice([("id", list(range(-5, 210))), ("a", list(range(-1, 11))),
                                     ("b", ["w0", "x1", "y", "z2", "zz"])])
        ops = rng.sample(["<", "<=", ">", ">=", "="], rng.randrange(1, 3))
        parts = [f"{column} {op} ?" for op in ops]
        params = [rng.choice(values) for _ in ops]
        hidden_column = f"{column} + 0" if column != "b" else "b || ''"
        query = "SELECT id FROM t WHERE " + " AND ".join(parts)
        hidden = "SELECT id FROM t WHERE " + " AND ".join(
            f"{hidden_column} {op} ?" for op in ops)
        same_as_full_scan(sql, query, hidden, params)


def test_primary_key_in_list(sql):
    query = "SELECT id, a FROM t WHERE id IN (5, 3, 999, NULL, 3) ORDER BY id DESC"
    plan = sql.explain(query)
    assert "PK Lookup on t (5 keys) (reverse)" in plan and "Sort" not in plan
    same_as_full_scan(sql, query, query.replace("id IN", "id + 0 IN"), ordered=True)
    assert [row[0] for row in sql(query)] == [5, 3]
    assert sql("SELECT id FROM t WHERE id IN (?, ?) AND a IS NULL OR false", (1, 2)) == \
        sql("SELECT id FROM t WHERE id + 0 IN (?, ?) AND a IS NULL", (1, 2))
    assert "Index" not in sql.explain("UPDATE t SET a = 1 WHERE id IN (1, 2)")
    assert sql("UPDATE t SET c = 9.5 WHERE id IN (1, 2)") == 2


def test_range_estimates_use_the_column_extent(sql):
    sql("CREATE TABLE u (id INTEGER PRIMARY KEY, a INTEGER, pad TEXT)")
    sql("CREATE INDEX u_a ON u (a)")
    sql("INSERT INTO u SELECT y, y * 10, 'p' FROM k2")
    sql("INSERT INTO u SELECT y + 1000, y * 10 + 5, 'q' FROM k2")
    # 400 rows, a runs over 10..2005: a narrow range goes through the index, a wide one scans.
    assert index_scan(sql.explain("SELECT * FROM u WHERE a > 1950"), "u_a")
    assert "Seq Scan on u" in sql.explain("SELECT * FROM u WHERE a > 100")
    # Reading only indexed columns (and the primary key) needs no table lookups.
    plan = sql.explain("SELECT id, a FROM u WHERE a > 1600")
    assert "Index Only Scan using u_a" in plan
    same_as_full_scan(sql, "SELECT id, a FROM u WHERE a > 1600",
                      "SELECT id, a FROM u WHERE a + 0 > 1600")
    same_as_full_scan(sql, "SELECT id, pad FROM u WHERE a > 1950",
                      "SELECT id, pad FROM u WHERE a + 0 > 1950")
