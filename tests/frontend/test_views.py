"""CREATE VIEW / DROP VIEW: stored in the catalog, expanded where they are read."""

from __future__ import annotations

import pytest

from aurora_lite.errors import Error, ProgrammingError


@pytest.fixture
def data(sql):
    sql.script("""
        CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER, s TEXT);
        INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, NULL, 'c');
    """)
    return sql


def test_create_read_and_drop(data):
    assert data("CREATE VIEW v AS SELECT id, x FROM t WHERE x > 5") == -1
    assert data("SELECT * FROM v ORDER BY id") == [(1, 10), (2, 20)]
    assert data("SELECT w.id FROM v AS w WHERE w.x = 20") == [(2,)]
    # A view sees later changes of its tables.
    data("INSERT INTO t VALUES (4, 40, 'd')")
    assert data.one("SELECT count(*) FROM v") == 3
    data("DROP VIEW v")
    with pytest.raises(ProgrammingError) as caught:
        data("SELECT * FROM v")
    assert caught.value.sqlstate == "42P01"


def test_column_names_joins_and_nesting(data):
    data("CREATE VIEW v (ident, doubled) AS SELECT id, x * 2 FROM t")
    data("CREATE VIEW w AS SELECT ident FROM v WHERE doubled > 25")
    assert data("SELECT ident FROM w") == [(2,)]
    rows = data("SELECT t.s, v.doubled FROM t JOIN v ON v.ident = t.id ORDER BY t.id")
    assert rows == [("a", 20), ("b", 40), ("c", None)]
    assert [column[0] for column in data.result("SELECT * FROM v").description] == \
        ["ident", "doubled"]
    assert data("SELECT ident FROM v UNION SELECT id FROM t ORDER BY 1") == \
        [(1,), (2,), (3,)]
    assert data("SELECT id FROM t WHERE id IN (SELECT ident FROM w)") == [(2,)]


def test_errors(data):
    data("CREATE VIEW v AS SELECT id FROM t")
    for statement in ("CREATE VIEW v AS SELECT 1", "CREATE VIEW t AS SELECT 1",
                      "CREATE VIEW z AS SELECT nope FROM t", "CREATE VIEW z AS SELECT * FROM q",
                      "DROP VIEW nope", "DROP VIEW t", "DELETE FROM v", "UPDATE v SET id = 1",
                      "INSERT INTO v VALUES (1)", "CREATE VIEW z (a, b) AS SELECT 1",
                      "CREATE VIEW z AS SELECT 1 AS a, 2 AS a"):
        with pytest.raises(Error):
            data(statement)
    data("DROP VIEW IF EXISTS nope")
    data("DROP VIEW v")


def test_view_survives_reopening(tmp_path):
    import aurora_lite
    directory = tmp_path / "db"
    connection = aurora_lite.connect(str(directory), storage="local")
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (a INTEGER)")
    cursor.execute("INSERT INTO t VALUES (1), (2)")
    cursor.execute("CREATE VIEW big AS SELECT a FROM t WHERE a > 1")
    connection.commit()
    connection.close()
    connection = aurora_lite.connect(str(directory), storage="local")
    cursor = connection.cursor()
    cursor.execute("SELECT * FROM big")
    assert cursor.fetchall() == [(2,)]
    connection.close()
