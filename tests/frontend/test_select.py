"""SELECT over tables: projection, WHERE with NULLs, ORDER BY, LIMIT, DISTINCT, GROUP BY."""

from __future__ import annotations

import pytest

from aurora_lite import frontend
from aurora_lite.errors import ProgrammingError


@pytest.fixture(autouse=True)
def data(sql):
    sql.script("""
        CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept TEXT,
                          salary INTEGER, bonus REAL);
        INSERT INTO emp VALUES
            (1, 'ann', 'eng', 100, 1.5),
            (2, 'bob', 'eng', 80, NULL),
            (3, 'cat', 'ops', 70, 2.0),
            (4, 'dan', NULL, 90, NULL),
            (5, 'eve', 'ops', NULL, 0.5),
            (6, 'fay', 'eng', 80, 3.0);
    """)


def test_star_and_qualified_star(sql):
    assert len(sql("SELECT * FROM emp")) == 6
    assert sql("SELECT e.* FROM emp e WHERE e.id = 1") == [(1, "ann", "eng", 100, 1.5)]
    assert sql("SELECT id, emp.name FROM emp WHERE id = 2") == [(2, "bob")]


def test_where_three_valued(sql):
    assert sql("SELECT id FROM emp WHERE salary > 75 ORDER BY id") == [(1,), (2,), (4,), (6,)]
    # NULL salary is neither > 75 nor NOT > 75.
    assert sql("SELECT id FROM emp WHERE NOT salary > 75 ORDER BY id") == [(3,)]
    assert sql("SELECT id FROM emp WHERE salary IS NULL") == [(5,)]
    assert sql("SELECT id FROM emp WHERE dept <> 'eng' ORDER BY id") == [(3,), (5,)]
    assert sql("SELECT id FROM emp WHERE dept = 'eng' OR bonus > 1 ORDER BY id") == \
        [(1,), (2,), (3,), (6,)]
    assert sql("SELECT id FROM emp WHERE dept IN ('ops', NULL) ORDER BY id") == [(3,), (5,)]
    assert sql("SELECT id FROM emp WHERE dept NOT IN ('ops', NULL)") == []
    assert sql("SELECT id FROM emp WHERE dept NOT IN ('ops') ORDER BY id") == \
        [(1,), (2,), (6,)]
    assert sql("SELECT id FROM emp WHERE name LIKE '%a%' ORDER BY id") == \
        [(1,), (3,), (4,), (6,)]


def test_order_by_nulls_default_and_explicit(sql):
    assert sql("SELECT id FROM emp ORDER BY salary, id") == \
        [(3,), (2,), (6,), (4,), (1,), (5,)]
    assert sql("SELECT id FROM emp ORDER BY salary DESC, id") == \
        [(5,), (1,), (4,), (2,), (6,), (3,)]
    assert sql("SELECT id FROM emp ORDER BY salary NULLS FIRST, id") == \
        [(5,), (3,), (2,), (6,), (4,), (1,)]
    assert sql("SELECT id FROM emp ORDER BY salary DESC NULLS LAST, id DESC") == \
        [(1,), (4,), (6,), (2,), (3,), (5,)]


def test_order_by_alias_position_and_expression(sql):
    assert sql("SELECT name AS n FROM emp ORDER BY n DESC LIMIT 2") == [("fay",), ("eve",)]
    assert sql("SELECT name, salary FROM emp ORDER BY 2 DESC NULLS LAST, 1 LIMIT 3") == \
        [("ann", 100), ("dan", 90), ("bob", 80)]
    assert sql("SELECT name FROM emp ORDER BY length(name) DESC, id LIMIT 1") == [("ann",)]
    assert sql("SELECT name FROM emp ORDER BY bonus * 2 NULLS FIRST, id LIMIT 3") == \
        [("bob",), ("dan",), ("eve",)]
    with pytest.raises(ProgrammingError) as caught:
        sql("SELECT name FROM emp ORDER BY 5")
    assert caught.value.sqlstate == "42P10"


def test_mixed_direction_sort(sql):
    assert sql("SELECT dept, name FROM emp ORDER BY dept DESC, name") == [
        (None, "dan"), ("ops", "cat"), ("ops", "eve"), ("eng", "ann"), ("eng", "bob"),
        ("eng", "fay")]


def test_limit_offset(sql):
    assert sql("SELECT id FROM emp ORDER BY id LIMIT 2") == [(1,), (2,)]
    assert sql("SELECT id FROM emp ORDER BY id LIMIT 2 OFFSET 3") == [(4,), (5,)]
    assert sql("SELECT id FROM emp ORDER BY id OFFSET 4") == [(5,), (6,)]
    assert sql("SELECT id FROM emp ORDER BY id LIMIT 0") == []
    assert sql("SELECT id FROM emp ORDER BY id LIMIT 10 OFFSET 10") == []
    assert sql("SELECT id FROM emp ORDER BY id LIMIT NULL") == [(i,) for i in range(1, 7)]
    assert len(sql("SELECT id FROM emp LIMIT 3")) == 3


def test_top_n_sort(sql):
    assert sql("SELECT id FROM emp ORDER BY salary DESC NULLS LAST, id LIMIT 2 OFFSET 1") == \
        [(4,), (2,)]


def test_distinct(sql):
    assert sorted(sql("SELECT DISTINCT dept FROM emp"), key=repr) == \
        sorted([("eng",), ("ops",), (None,)], key=repr)
    assert sql("SELECT DISTINCT dept FROM emp ORDER BY dept") == \
        [("eng",), ("ops",), (None,)]
    assert sql("SELECT DISTINCT salary / 10 FROM emp ORDER BY 1 LIMIT 2") == [(7,), (8,)]
    with pytest.raises(ProgrammingError) as caught:
        sql("SELECT DISTINCT dept FROM emp ORDER BY name")
    assert caught.value.sqlstate == "42P10"


def test_aggregates_without_group(sql):
    assert sql("SELECT count(*), count(salary), count(dept), sum(salary), min(salary), "
               "max(salary), avg(salary) FROM emp") == [(6, 5, 5, 420, 70, 100, 84.0)]
    assert sql("SELECT count(DISTINCT dept), count(DISTINCT salary), sum(DISTINCT salary), "
               "avg(DISTINCT salary) FROM emp") == [(2, 4, 340, 85.0)]
    assert sql("SELECT count(*), sum(salary), max(name) FROM emp WHERE id > 100") == \
        [(0, None, None)]
    assert sql("SELECT sum(bonus) FROM emp") == [(7.0,)]
    assert sql("SELECT count(*) + 1, max(salary) - min(salary) FROM emp") == [(7, 30)]


def test_group_by_and_having(sql):
    assert sql("SELECT dept, count(*), sum(salary) FROM emp GROUP BY dept ORDER BY dept") == \
        [("eng", 3, 260), ("ops", 2, 70), (None, 1, 90)]
    assert sql("SELECT dept FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY 1") == \
        [("eng",), ("ops",)]
    assert sql("SELECT dept, max(salary) AS top FROM emp GROUP BY 1 ORDER BY top DESC "
               "NULLS LAST") == [("eng", 100), (None, 90), ("ops", 70)]
    assert sql("SELECT salary / 10 AS k, count(*) FROM emp GROUP BY salary / 10 "
               "ORDER BY k NULLS FIRST") == [(None, 1), (7, 1), (8, 2), (9, 1), (10, 1)]
    assert sql("SELECT dept, count(*) FROM emp WHERE salary > 75 GROUP BY dept "
               "HAVING sum(salary) > 100 ORDER BY count(*)") == [("eng", 3)]
    assert sql("SELECT count(*) FROM emp GROUP BY dept HAVING dept = 'ops'") == [(2,)]
    with pytest.raises(ProgrammingError) as caught:
        sql("SELECT dept, name FROM emp GROUP BY dept")
    assert caught.value.sqlstate == "42803"


def test_group_by_output_alias(sql):
    assert sql("SELECT upper(dept) AS d, count(*) FROM emp GROUP BY d ORDER BY d") == \
        [("ENG", 3), ("OPS", 2), (None, 1)]


def test_having_without_group_by(sql):
    assert sql("SELECT count(*) FROM emp HAVING count(*) > 100") == []
    assert sql("SELECT count(*) FROM emp HAVING count(*) > 1") == [(6,)]


def test_lazy_result_and_rowcount(sql, session):
    from aurora_lite.frontend import _prepared
    sql("CREATE TABLE big (i INTEGER PRIMARY KEY)")
    sql("INSERT INTO big SELECT id FROM emp")
    result = frontend.execute(session, "SELECT * FROM emp")
    assert result.rowcount == 6 and result.command_tag == "SELECT 6"
    saved = _prepared.EAGER_ROWS
    _prepared.EAGER_ROWS = 2
    try:
        result = frontend.execute(session, "SELECT id FROM emp ORDER BY id")
        assert result.rowcount == -1
        assert list(result.rows) == [(i,) for i in range(1, 7)]
    finally:
        _prepared.EAGER_ROWS = saved


def test_case_over_columns(sql):
    assert sql("SELECT name, CASE WHEN salary >= 90 THEN 'high' WHEN salary >= 80 THEN 'mid' "
               "ELSE 'low' END FROM emp ORDER BY id") == [
        ("ann", "high"), ("bob", "mid"), ("cat", "low"), ("dan", "high"), ("eve", "low"),
        ("fay", "mid")]
    assert sql("SELECT sum(CASE dept WHEN 'eng' THEN 1 ELSE 0 END) FROM emp") == [(3,)]


def test_coalesce_over_columns(sql):
    assert sql("SELECT COALESCE(bonus, salary, -1) FROM emp ORDER BY id") == [
        (1.5,), (80.0,), (2.0,), (90.0,), (0.5,), (3.0,)]
