"""The differences from PostgreSQL that docs/conformance.md ("Differences from PostgreSQL")
states: if one of these tests fails, the behaviour changed and the document must change too.
"""

from __future__ import annotations

import pytest

from aurora_lite.errors import DataError, IntegrityError


def test_integers_are_64_bit(sql):
    # PostgreSQL's int4 raises "integer out of range" here.
    assert sql.one("SELECT 2147483647 + 1") == 2147483648
    sql("CREATE TABLE n (a INTEGER)")
    sql("INSERT INTO n VALUES (2147483647)")
    assert sql.one("SELECT a + 1 FROM n") == 2147483648
    with pytest.raises(DataError) as caught:
        sql("SELECT 9223372036854775807 + 1")
    assert caught.value.sqlstate == "22003"


def test_decimal_literals_are_double_precision(sql):
    # PostgreSQL's numeric: 3, 3 and 0.3.
    assert sql.one("SELECT round(2.5)") == 2.0
    assert sql.one("SELECT CAST(2.5 AS INTEGER)") == 2
    assert sql.one("SELECT 0.1 + 0.2") == 0.30000000000000004
    assert sql.one("SELECT CAST(1e308 AS DOUBLE PRECISION) * 10") == float("inf")
    # With a digit count, round() rounds half away from zero.
    assert sql.one("SELECT round(2.25, 1)") == 2.3


def test_failed_statement_does_not_abort_an_explicit_transaction(sql):
    """The embedded engine undoes the statement and goes on (the wire server answers 25P02
    until ROLLBACK instead: tests/server/test_psycopg.py)."""
    sql("CREATE TABLE k (a INTEGER PRIMARY KEY)")
    sql("BEGIN")
    sql("INSERT INTO k VALUES (1)")
    with pytest.raises(IntegrityError):
        sql("INSERT INTO k VALUES (1)")
    sql("INSERT INTO k VALUES (2)")
    sql("COMMIT")
    assert sql("SELECT a FROM k ORDER BY a") == [(1,), (2,)]
