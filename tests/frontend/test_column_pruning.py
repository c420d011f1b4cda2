"""Column pruning: table scans decode only the columns a query reads.

The memory engine, like the real one, returns None for the columns a scan was told not to
decode, so a plan that prunes a column it reads gives wrong answers here too.
"""

from __future__ import annotations

from aurora_lite import frontend


def _scan_columns(session, sql):
    """The ``columns`` of every TableScan or HashedScan of the plan (None: all)."""
    from aurora_lite.exec import HashedScan, TableScan
    from aurora_lite.exec._explain import subqueries_of
    plan = frontend.prepare(sql).plan(session)
    found = []

    def visit(node):
        if isinstance(node, (TableScan, HashedScan)):
            found.append((node.alias, node.columns))
        for child in node.inputs():
            visit(child)
        for subquery in subqueries_of(node):
            visit(subquery.query)
    visit(plan)
    return found


def test_scans_read_only_what_the_query_uses(sql, session):
    sql("CREATE TABLE w (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, d TEXT)")
    sql("INSERT INTO w VALUES (1, 5, 1.5, 'x', 'p'), (2, 6, 2.5, 'y', 'q'), "
        "(3, NULL, 3.5, 'x', 'r')")
    sql("CREATE TABLE v (k INTEGER, e TEXT)")
    sql("INSERT INTO v VALUES (5, 'five'), (6, 'six')")
    query = "SELECT c, sum(b) FROM w WHERE a > 4 GROUP BY c ORDER BY c"
    assert _scan_columns(session, query) == [("w", (1, 2, 3))]
    assert sql(query) == [("x", 1.5), ("y", 2.5)]
    assert "Columns: a, b, c" in sql.explain(query)
    join = "SELECT w.d, v.e FROM w JOIN v ON v.k = w.a WHERE w.b < 3 ORDER BY 1"
    assert sorted(_scan_columns(session, join)) == [("v", None), ("w", (1, 2, 4))]
    assert sql(join) == [("p", "five"), ("q", "six")]
    assert _scan_columns(session, "SELECT * FROM w") == [("w", None)]
    assert _scan_columns(session, "SELECT count(*) FROM w") == [("w", ())]
    assert sql("SELECT count(*) FROM w") == [(3,)]
    correlated = "SELECT id FROM w WHERE EXISTS (SELECT * FROM v WHERE v.k = w.a) ORDER BY 1"
    assert sorted(_scan_columns(session, correlated)) == [("v", (0,)), ("w", (0, 1))]
    assert sql(correlated) == [(1,), (2,)]
    # UPDATE rewrites whole rows: its scan is never pruned.
    sql("UPDATE w SET b = b + 1 WHERE a = 5")
    assert sql("SELECT id, a, b, c, d FROM w WHERE id = 1") == [(1, 5, 2.5, "x", "p")]
