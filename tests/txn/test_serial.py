"""SERIAL / BIGSERIAL columns: a per-table counter kept in the catalog B-tree.

PostgreSQL's semantics: a left-out (or DEFAULT) value is the next value of the column's
counter; explicit values are allowed and do not move the counter; values are never handed out
twice - not after a rollback (the counter does not go back), not after a restart, not after a
crash - as long as a committed transaction may have used them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import aurora_lite
from aurora_lite.errors import IntegrityError, ProgrammingError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def directory(tmp_path):
    return str(tmp_path / "db")


def connect(directory):
    return aurora_lite.connect(directory, storage="local")


def ids(cursor, table="s"):
    cursor.execute(f"SELECT id FROM {table} ORDER BY id")
    return [row[0] for row in cursor.fetchall()]


def test_values_come_from_the_counter(directory):
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id SERIAL PRIMARY KEY, v TEXT)")
    cursor.execute("INSERT INTO s (v) VALUES ('a')")
    assert cursor.lastrowid == 1
    cursor.execute("INSERT INTO s (v) VALUES ('b'), ('c'), ('d')")
    cursor.execute("INSERT INTO s VALUES (DEFAULT, 'e'), (DEFAULT, 'f')")
    cursor.execute("INSERT INTO s DEFAULT VALUES")
    cursor.execute("INSERT INTO s (v) SELECT v || '2' FROM s WHERE id <= 2")
    cursor.executemany("INSERT INTO s (v) VALUES (?)", [("x",), ("y",)])
    assert ids(cursor) == list(range(1, 12))
    cursor.execute("SELECT v FROM s WHERE id IN (7, 8, 9) ORDER BY id")
    assert cursor.fetchall() == [(None,), ("a2",), ("b2",)]
    # A SERIAL column is NOT NULL: an explicit NULL is refused, as in PostgreSQL.
    with pytest.raises(IntegrityError):
        cursor.execute("INSERT INTO s (id, v) VALUES (NULL, 'n')")
    connection.commit()
    connection.close()


def test_explicit_values_are_allowed_and_do_not_move_the_counter(directory):
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id SERIAL PRIMARY KEY, v TEXT)")
    cursor.execute("INSERT INTO s VALUES (DEFAULT, 'a'), (3, 'explicit'), (DEFAULT, 'b')")
    assert ids(cursor) == [1, 2, 3]
    # The counter reaches the explicit value: a unique violation, as in PostgreSQL; the
    # value is used up all the same (a sequence never goes back).
    with pytest.raises(IntegrityError):
        cursor.execute("INSERT INTO s (v) VALUES ('clash')")
    cursor.execute("INSERT INTO s (v) VALUES ('c')")
    assert ids(cursor) == [1, 2, 3, 4]
    # UPDATE ... SET id = DEFAULT takes the next value too.
    cursor.execute("UPDATE s SET id = DEFAULT WHERE v = 'explicit'")
    assert ids(cursor) == [1, 2, 4, 5]
    connection.commit()
    connection.close()


def test_a_rollback_does_not_give_values_back(directory):
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id BIGSERIAL PRIMARY KEY, v TEXT)")
    cursor.execute("INSERT INTO s (v) VALUES ('a'), ('b')")
    connection.commit()
    cursor.execute("INSERT INTO s (v) VALUES ('rolled back'), ('rolled back')")
    connection.rollback()
    cursor.execute("INSERT INTO s (v) VALUES ('c')")
    # A statement that fails after taking a value (the second row clashes): the statement
    # is undone, its value is not handed out again.
    with pytest.raises(IntegrityError):
        cursor.execute("INSERT INTO s VALUES (DEFAULT, 'e'), (1, 'clash')")
    cursor.execute("INSERT INTO s (v) VALUES ('d')")
    connection.commit()
    assert ids(cursor) == [1, 2, 5, 7]
    connection.close()


def test_restart_continues_above_the_largest_value_handed_out(directory):
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id SERIAL PRIMARY KEY, v TEXT)")
    cursor.execute("CREATE TABLE h (id SERIAL, v TEXT)")          # no key: hidden row ids
    cursor.execute("INSERT INTO s (v) VALUES ('a'), ('b'), ('c')")
    cursor.execute("INSERT INTO h (v) VALUES ('a'), ('b'), ('c')")
    connection.commit()
    # The largest rows go: the next value must still be above them (max(id) + 1 is not
    # enough).
    cursor.execute("DELETE FROM s WHERE id >= 2")
    cursor.execute("DELETE FROM h")
    connection.commit()
    connection.close()
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("INSERT INTO s (v) VALUES ('d')")
    cursor.execute("INSERT INTO h (v) VALUES ('d')")
    assert ids(cursor) == [1, 4]
    assert ids(cursor, "h") == [4]
    connection.commit()
    connection.close()


CRASHING_CHILD = textwrap.dedent("""
    import os, sys
    import aurora_lite
    connection = aurora_lite.connect(sys.argv[1], storage="local")
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id SERIAL PRIMARY KEY, v TEXT)")
    cursor.execute("INSERT INTO s (v) VALUES ('a'), ('b'), ('c')")
    connection.commit()
    cursor.execute("DELETE FROM s WHERE id = 3")
    connection.commit()
    cursor.execute("INSERT INTO s (v) VALUES ('never committed')")
    os._exit(0)                     # a crash: no rollback, no close
""")


def test_crash_does_not_reuse_committed_values(directory):
    subprocess.run([sys.executable, "-c", CRASHING_CHILD, directory], cwd=REPO, check=True,
                   timeout=120)
    connection = connect(directory)
    cursor = connection.cursor()
    assert ids(cursor) == [1, 2]
    cursor.execute("INSERT INTO s (v) VALUES ('d')")
    new = ids(cursor)[-1]
    assert new >= 4, "a value a committed transaction used was handed out again"
    connection.commit()
    connection.close()


def test_drop_and_recreate_starts_afresh(directory):
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id SERIAL, v TEXT)")
    cursor.execute("INSERT INTO s (v) VALUES ('a'), ('b')")
    connection.commit()
    cursor.execute("DROP TABLE s")
    cursor.execute("CREATE TABLE s (id SMALLSERIAL, n INTEGER)")
    cursor.execute("INSERT INTO s (n) VALUES (1)")
    connection.commit()
    assert ids(cursor) == [1]
    connection.close()
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("INSERT INTO s (n) VALUES (2)")
    assert ids(cursor) == [1, 2]
    connection.commit()
    connection.close()


@pytest.mark.parametrize("statement, sqlstate", [
    ("CREATE TABLE bad (id SERIAL DEFAULT 1)", "42601"),
    ("CREATE TABLE bad (id SERIAL NULL)", "42601"),
    ("SELECT CAST(1 AS SERIAL)", "42704"),
])
def test_what_postgresql_refuses(directory, statement, sqlstate):
    connection = connect(directory)
    with pytest.raises(ProgrammingError) as caught:
        connection.cursor().execute(statement)
    assert caught.value.sqlstate == sqlstate
    connection.close()


def test_the_column_stays_serial_and_not_null_after_reopening(directory):
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE s (id SERIAL, v TEXT)")
    connection.commit()
    connection.close()
    connection = connect(directory)
    cursor = connection.cursor()
    cursor.execute("INSERT INTO s (v) VALUES ('a')")
    with pytest.raises(IntegrityError):
        cursor.execute("INSERT INTO s (id, v) VALUES (NULL, 'b')")
    assert ids(cursor) == [1]
    connection.close()


def test_catalog_entries_golden():
    """docs/formats/catalog.md: the counter entry and a view's dependencies."""
    from aurora_lite.catalog import ColumnDef, TableDef, ViewDef
    from aurora_lite.catalog._store import (
        decode_entry, decode_serial, encode_entry, encode_serial, serial_key,
    )
    from aurora_lite.values import SqlType
    key = serial_key(5, "id")
    value = encode_serial("s", "id", 42)
    assert key == bytes.fromhex("53 00 00 00 00 00 00 00 05 69 64")
    assert value == b'{"column": "id", "format": 1, "last_value": 42, "table": "s"}'
    assert decode_serial(key, value) == 42
    view = ViewDef("w", "SELECT a FROM t, v", None, ("t", "v"))
    key, value = encode_entry(view)
    assert value == (b'{"columns": null, "depends_on": ["t", "v"], "format": 1, "name": "w", '
                     b'"sql": "SELECT a FROM t, v"}')
    assert decode_entry(key, value) == view
    # Written before dependencies were recorded: no field, depends_on None.
    assert decode_entry(b"Vw", b'{"columns": null, "format": 1, "name": "w", "sql": "x"}') == \
        ViewDef("w", "x", None, None)
    table = TableDef("s", (ColumnDef("id", SqlType.INTEGER, "SERIAL", True, None, None, True),
                           ColumnDef("v", SqlType.TEXT, "TEXT")), (), 5, 9)
    key, value = encode_entry(table)
    assert b'"serial": true' in value and value.count(b'"serial"') == 1
    assert decode_entry(key, value) == table
