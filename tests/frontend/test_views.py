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


# -- dependencies: PostgreSQL refuses to drop what a view reads (2BP01) -----------------------

def _dependent_error(data, statement):
    from aurora_lite.errors import InternalError
    with pytest.raises(InternalError) as caught:
        data(statement)
    error = caught.value
    assert error.sqlstate == "2BP01"
    return error


def test_drop_table_a_view_reads_is_refused(data):
    data("CREATE TABLE u (id INTEGER)")
    data("CREATE VIEW v AS SELECT id FROM t WHERE id IN (SELECT id FROM u)")
    for table in ("t", "u"):
        error = _dependent_error(data, f"DROP TABLE {table}")
        assert f"cannot drop table {table}" in error.message
        assert "view v" in error.message
        assert error.detail == f"view v depends on table {table}"
        _dependent_error(data, f"DROP TABLE IF EXISTS {table}")
    # Nothing was dropped, and the view still reads the same table.
    assert data("SELECT id FROM t ORDER BY id") == [(1,), (2,), (3,)]
    assert data("SELECT * FROM v") == []
    data("INSERT INTO u VALUES (2)")
    assert data("SELECT * FROM v") == [(2,)]
    data("DROP VIEW v")
    data("DROP TABLE u")
    data("DROP TABLE t")


def test_drop_view_another_view_reads_is_refused(data):
    data("CREATE VIEW v AS SELECT id, x FROM t")
    data("CREATE VIEW w AS SELECT id FROM v WHERE x > 10")
    data("CREATE VIEW z AS SELECT count(*) FROM w")
    error = _dependent_error(data, "DROP VIEW v")
    assert "view w" in error.message and "view z" not in error.message
    _dependent_error(data, "DROP VIEW w")
    _dependent_error(data, "DROP VIEW v, w")            # z still reads w
    error = _dependent_error(data, "DROP TABLE t")
    assert "view v" in error.message
    # One statement may drop a view together with the views that read it, in any order.
    data("DROP VIEW v, z, w")
    assert data("SELECT count(*) FROM t") == [(3,)]
    data("DROP TABLE t")


def test_cascade_stays_unsupported(data):
    from aurora_lite.errors import NotSupportedError
    data("CREATE VIEW v AS SELECT id FROM t")
    with pytest.raises(NotSupportedError) as caught:
        data("DROP TABLE t CASCADE")
    assert "CASCADE" in caught.value.message
    assert data("SELECT count(*) FROM v") == [(3,)]


def test_view_without_recorded_dependencies_is_protected_too(data, session):
    """A view stored before dependencies were recorded (``depends_on`` None): the frontend
    reads what it depends on from its SQL."""
    from aurora_lite.catalog import ViewDef
    with session.statement(writes=True):
        session.create_view(ViewDef("old", "SELECT id FROM t WHERE x > 0", None, None))
    assert data("SELECT * FROM old ORDER BY id") == [(1,), (2,)]
    error = _dependent_error(data, "DROP TABLE t")
    assert "view old" in error.message


def test_error_class_matches_the_wire_drivers():
    """The embedded exception is the class the remote driver makes of 2BP01 (psycopg's
    DependentObjectsStillExist is an InternalError too)."""
    from aurora_lite.dbapi._pg._errors import exception_class
    from aurora_lite.errors import InternalError
    assert exception_class("2BP01") is InternalError


def test_dependencies_survive_reopening(tmp_path):
    import aurora_lite
    from aurora_lite.errors import InternalError
    directory = str(tmp_path / "db")
    connection = aurora_lite.connect(directory, storage="local")
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (a INTEGER)")
    cursor.execute("CREATE TABLE u (a INTEGER)")
    cursor.execute("CREATE VIEW v AS SELECT a FROM t")
    cursor.execute("CREATE VIEW w AS SELECT v.a FROM v, u WHERE v.a = u.a")
    connection.commit()
    connection.close()
    connection = aurora_lite.connect(directory, storage="local")
    cursor = connection.cursor()
    for statement, dependent in (("DROP TABLE t", "view v"), ("DROP TABLE u", "view w"),
                                 ("DROP VIEW v", "view w")):
        with pytest.raises(InternalError) as caught:
            cursor.execute(statement)
        assert caught.value.sqlstate == "2BP01" and dependent in caught.value.message
        connection.rollback()
    cursor.execute("DROP VIEW w")
    cursor.execute("DROP VIEW v")
    cursor.execute("DROP TABLE t")
    # A table of the same name made later is a new table: nothing refers to the old one.
    cursor.execute("CREATE TABLE t (b TEXT)")
    connection.commit()
    connection.close()


def test_session_refuses_too(data, session):
    """The engine's own DROP guards callers that do not go through the frontend."""
    from aurora_lite.errors import InternalError
    data("CREATE VIEW v AS SELECT id FROM t")
    if type(session).__module__.startswith("tests."):
        pytest.skip("the memory engine double has no catalog of its own")
    with pytest.raises(InternalError) as caught:
        with session.statement(writes=True):
            session.drop_table("t")
    assert caught.value.sqlstate == "2BP01"
    assert data("SELECT count(*) FROM v") == [(3,)]
