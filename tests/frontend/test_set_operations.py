"""UNION / INTERSECT / EXCEPT [ALL]: semantics, precedence, ORDER BY / LIMIT, types, errors."""

from __future__ import annotations

import pytest

from aurora_lite.errors import NotSupportedError, ProgrammingError


@pytest.fixture
def data(sql):
    sql.script("""
        CREATE TABLE a (x INTEGER, s TEXT);
        INSERT INTO a VALUES (1, 'p'), (2, 'q'), (2, 'q'), (3, NULL), (NULL, NULL);
        CREATE TABLE b (y INTEGER, r REAL);
        INSERT INTO b VALUES (2, 0.5), (3, 1.5), (3, 1.5), (4, NULL), (NULL, 2.5);
    """)
    return sql


def test_union_and_union_all(data):
    assert data("SELECT x FROM a UNION SELECT y FROM b ORDER BY 1 NULLS FIRST") == \
        [(None,), (1,), (2,), (3,), (4,)]
    rows = data("SELECT x FROM a UNION ALL SELECT y FROM b")
    assert sorted(rows, key=repr) == sorted([(1,), (2,), (2,), (3,), (None,), (2,), (3,),
                                             (3,), (4,), (None,)], key=repr)


def test_intersect_and_except(data):
    assert data("SELECT x FROM a INTERSECT SELECT y FROM b ORDER BY 1") == \
        [(2,), (3,), (None,)]
    assert data("SELECT x FROM a EXCEPT SELECT y FROM b ORDER BY 1") == [(1,)]
    assert data("SELECT x FROM a INTERSECT ALL SELECT y FROM b ORDER BY 1") == \
        [(2,), (3,), (None,)]
    assert data("SELECT y FROM b EXCEPT ALL SELECT x FROM a ORDER BY 1") == [(3,), (4,)]
    assert data("SELECT x FROM a EXCEPT ALL SELECT y FROM b ORDER BY 1") == [(1,), (2,)]


def test_precedence_intersect_binds_tighter(data):
    # 1 UNION (2 INTERSECT 3) = {1}; left to right it would be {}.
    assert data("SELECT 1 UNION SELECT 2 INTERSECT SELECT 3") == [(1,)]
    assert data("SELECT 1 EXCEPT SELECT 1 UNION SELECT 1") == [(1,)]


def test_order_by_name_position_and_limit(data):
    assert data("SELECT x AS k FROM a UNION SELECT y FROM b ORDER BY k DESC NULLS LAST "
                "LIMIT 2 OFFSET 1") == [(3,), (2,)]
    assert data("(SELECT x FROM a ORDER BY x LIMIT 1) UNION ALL "
                "(SELECT y FROM b ORDER BY y DESC LIMIT 1) ORDER BY 1") == [(1,), (None,)]
    with pytest.raises(NotSupportedError):
        data("SELECT x FROM a UNION SELECT y FROM b ORDER BY x + 1")
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT x FROM a UNION SELECT y FROM b ORDER BY y")
    assert caught.value.sqlstate == "42703"
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT x FROM a UNION SELECT y FROM b ORDER BY 2")
    assert caught.value.sqlstate == "42P10"


def test_types_unify_or_fail(data):
    rows = data("SELECT x FROM a WHERE x = 1 UNION SELECT r FROM b WHERE r = 0.5 ORDER BY 1")
    assert rows == [(0.5,), (1.0,)] and all(isinstance(v, float) for v, in rows)
    assert data("SELECT NULL UNION SELECT 1 ORDER BY 1") == [(1,), (None,)]
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT x FROM a UNION SELECT s FROM a")
    assert caught.value.sqlstate == "42804"
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT x, s FROM a UNION SELECT y FROM b")
    assert caught.value.sqlstate == "42601"


def test_operand_order_by_needs_parentheses(data):
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT x FROM a ORDER BY x UNION SELECT y FROM b")
    assert caught.value.sqlstate == "42601"
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT x FROM a LIMIT 1 UNION SELECT y FROM b")
    assert caught.value.sqlstate == "42601"


def test_set_operations_inside_subqueries_and_insert(data):
    assert data("SELECT x FROM a WHERE x IN (SELECT y FROM b UNION SELECT 1) ORDER BY x") == \
        [(1,), (2,), (2,), (3,)]
    assert data.one("SELECT count(*) FROM (SELECT x FROM a UNION SELECT y FROM b) AS u") == 5
    data("CREATE TABLE c (v INTEGER)")
    assert data("INSERT INTO c SELECT x FROM a INTERSECT SELECT y FROM b") == 3
    assert data("SELECT v FROM c ORDER BY v") == [(2,), (3,), (None,)]


def test_explain_set_operation(data):
    plan = data.explain("SELECT x FROM a EXCEPT SELECT y FROM b ORDER BY 1 LIMIT 2")
    assert plan.splitlines()[0] == "Limit"
    assert "Except" in plan and "Sort Key" in plan
