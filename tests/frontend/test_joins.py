"""Inner joins (JOIN ... ON and comma joins), LEFT JOIN, join order and methods."""

from __future__ import annotations

import pytest

from aurora_lite.errors import ProgrammingError


@pytest.fixture(autouse=True)
def data(sql):
    sql.script("""
        CREATE TABLE dept (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, dept_id INTEGER, boss INTEGER);
        CREATE TABLE proj (id INTEGER PRIMARY KEY, emp_id INTEGER, title TEXT);
        INSERT INTO dept VALUES (1, 'eng'), (2, 'ops'), (3, 'empty');
        INSERT INTO emp VALUES (10, 'ann', 1, NULL), (11, 'bob', 1, 10), (12, 'cat', 2, 10),
                               (13, 'dan', NULL, 12);
        INSERT INTO proj VALUES (100, 10, 'x'), (101, 10, 'y'), (102, 12, 'z'),
                                (103, 99, 'orphan');
    """)


def test_inner_join_on(sql):
    assert sql("SELECT e.name, d.name FROM emp e JOIN dept d ON e.dept_id = d.id "
               "ORDER BY e.name") == [("ann", "eng"), ("bob", "eng"), ("cat", "ops")]
    assert sql("SELECT e.name, d.name FROM emp AS e INNER JOIN dept AS d ON d.id = e.dept_id "
               "WHERE d.name = 'eng' ORDER BY 1") == [("ann", "eng"), ("bob", "eng")]


def test_comma_join_with_where(sql):
    assert sql("SELECT e.name, p.title FROM emp e, proj p WHERE p.emp_id = e.id "
               "ORDER BY p.title") == [("ann", "x"), ("ann", "y"), ("cat", "z")]


def test_three_way_join(sql):
    rows = sql("SELECT d.name, e.name, p.title FROM dept d, emp e, proj p "
               "WHERE e.dept_id = d.id AND p.emp_id = e.id ORDER BY 3")
    assert rows == [("eng", "ann", "x"), ("eng", "ann", "y"), ("ops", "cat", "z")]


def test_self_join(sql):
    assert sql("SELECT e.name, b.name FROM emp e JOIN emp b ON e.boss = b.id "
               "ORDER BY e.name") == [("bob", "ann"), ("cat", "ann"), ("dan", "cat")]


def test_left_join(sql):
    assert sql("SELECT d.name, e.name FROM dept d LEFT JOIN emp e ON e.dept_id = d.id "
               "ORDER BY d.id, e.id") == [
        ("eng", "ann"), ("eng", "bob"), ("ops", "cat"), ("empty", None)]
    assert sql("SELECT e.name, p.title FROM emp e LEFT OUTER JOIN proj p ON p.emp_id = e.id "
               "ORDER BY e.id, p.id") == [
        ("ann", "x"), ("ann", "y"), ("bob", None), ("cat", "z"), ("dan", None)]


def test_left_join_on_versus_where(sql):
    # A condition on the right side in ON filters the right side only ...
    assert sql("SELECT d.name, e.name FROM dept d LEFT JOIN emp e "
               "ON e.dept_id = d.id AND e.name = 'bob' ORDER BY d.id") == [
        ("eng", "bob"), ("ops", None), ("empty", None)]
    # ... in WHERE it filters the joined rows (NULL-padded ones included).
    assert sql("SELECT d.name, e.name FROM dept d LEFT JOIN emp e ON e.dept_id = d.id "
               "WHERE e.name IS NULL") == [("empty", None)]
    # A condition on the left side in ON does not remove left rows.
    assert sql("SELECT d.name, e.name FROM dept d LEFT JOIN emp e "
               "ON e.dept_id = d.id AND d.id = 2 ORDER BY d.id") == [
        ("eng", None), ("ops", "cat"), ("empty", None)]


def test_left_join_non_equality(sql):
    assert sql("SELECT d.id, e.id FROM dept d LEFT JOIN emp e ON e.dept_id > d.id "
               "ORDER BY d.id, e.id") == [(1, 12), (2, None), (3, None)]


def test_left_join_then_inner_join(sql):
    rows = sql("SELECT d.name, e.name, p.title FROM dept d LEFT JOIN emp e ON e.dept_id = d.id "
               "JOIN proj p ON p.emp_id = e.id ORDER BY p.id")
    assert rows == [("eng", "ann", "x"), ("eng", "ann", "y"), ("ops", "cat", "z")]


def test_chained_left_joins(sql):
    rows = sql("SELECT d.name, e.name, p.title FROM dept d LEFT JOIN emp e ON e.dept_id = d.id "
               "LEFT JOIN proj p ON p.emp_id = e.id ORDER BY d.id, e.id, p.id")
    assert rows == [("eng", "ann", "x"), ("eng", "ann", "y"), ("eng", "bob", None),
                    ("ops", "cat", "z"), ("empty", None, None)]


def test_cross_join(sql):
    assert sql("SELECT count(*) FROM dept, emp") == [(12,)]
    assert sql("SELECT count(*) FROM dept CROSS JOIN emp") == [(12,)]


def test_join_with_aggregate(sql):
    assert sql("SELECT d.name, count(e.id) FROM dept d LEFT JOIN emp e ON e.dept_id = d.id "
               "GROUP BY d.name ORDER BY d.name") == [("empty", 0), ("eng", 2), ("ops", 1)]


def test_null_keys_never_match(sql):
    sql("CREATE TABLE a (k INTEGER)")
    sql("CREATE TABLE b (k INTEGER)")
    sql("INSERT INTO a VALUES (1), (NULL)")
    sql("INSERT INTO b VALUES (1), (NULL)")
    assert sql("SELECT a.k, b.k FROM a JOIN b ON a.k = b.k") == [(1, 1)]
    assert sorted(sql("SELECT a.k, b.k FROM a LEFT JOIN b ON a.k = b.k"), key=repr) == \
        sorted([(1, 1), (None, None)], key=repr)


def test_join_int_with_real_keys(sql):
    sql("CREATE TABLE r (v REAL)")
    sql("INSERT INTO r VALUES (10.0), (10.5)")
    assert sql("SELECT e.name FROM emp e JOIN r ON r.v = e.id") == [("ann",)]


def test_duplicate_alias_and_bad_on_reference(sql):
    with pytest.raises(ProgrammingError) as caught:
        sql("SELECT 1 FROM emp, emp")
    assert caught.value.sqlstate == "42712"
    with pytest.raises(ProgrammingError) as caught:
        sql("SELECT 1 FROM dept d, emp e JOIN proj p ON p.emp_id = d.id")
    assert caught.value.sqlstate == "42P01"


def test_explain_hash_join_and_no_cartesian(sql):
    plan = sql.explain("SELECT * FROM emp e, proj p, dept d "
                       "WHERE p.emp_id = e.id AND e.dept_id = d.id")
    assert plan.count("Hash Join") == 2
    assert "Nested Loop" not in plan
    assert "Hash Cond" in plan


def test_explain_nested_loop_for_non_equality(sql):
    plan = sql.explain("SELECT * FROM emp e JOIN dept d ON e.dept_id < d.id")
    assert "Nested Loop" in plan and "Join Filter" in plan
    plan = sql.explain("SELECT * FROM dept d LEFT JOIN emp e ON e.dept_id = d.id")
    assert "Hash Left Join" in plan


def test_explain_pushes_single_table_predicates_into_scans(sql):
    plan = sql.explain("SELECT * FROM emp e JOIN dept d ON e.dept_id = d.id "
                       "WHERE d.name = 'eng' AND e.name <> 'x'")
    lines = plan.splitlines()
    dept_scan = next(i for i, line in enumerate(lines) if "Seq Scan on dept" in line)
    assert "Filter: (d.name = 'eng')" in lines[dept_scan + 1]
    emp_scan = next(i for i, line in enumerate(lines) if "Seq Scan on emp" in line)
    assert "Filter: (e.name <> 'x')" in lines[emp_scan + 1]


def test_parenthesized_joins(sql):
    assert sql("SELECT count(*) FROM ( dept AS a CROSS JOIN dept b )") == [(9,)]
    rows = sql("SELECT d.name, e.name, p.title FROM dept d LEFT JOIN "
               "(emp e JOIN proj p ON p.emp_id = e.id) ON e.dept_id = d.id ORDER BY d.id, p.id")
    assert rows == [("eng", "ann", "x"), ("eng", "ann", "y"), ("ops", "cat", "z"),
                    ("empty", None, None)]
    assert sql("SELECT * FROM (SELECT 1) AS s") == [(1,)]
    with pytest.raises(Exception) as caught:
        sql("SELECT * FROM (SELECT 1)")
    assert caught.value.sqlstate == "42601"
