"""Randomized subqueries and set operations checked against sqlite3 on the same data.

Built on the generator of test_random_oracle, kept to what PostgreSQL and SQLite agree on:
scalar subqueries are aggregates without GROUP BY (exactly one row; SQLite would silently take
the first of several), no ANY/ALL (SQLite has none), set operations of two operands only
(SQLite gives UNION, INTERSECT and EXCEPT one precedence, PostgreSQL binds INTERSECT tighter)
and without ALL for INTERSECT/EXCEPT. Correlated subqueries compare an inner column with an
outer one, through an index or not. The seed is printed; AURORA_ORACLE_SEED replays it.
"""

from __future__ import annotations

import os
import random
import sqlite3

import pytest

from tests.frontend.test_random_oracle import COLUMNS, INDEXES, SCHEMA, Gen, _normal, _rows

SEED = int(os.environ.get("AURORA_ORACLE_SEED", random.randrange(1 << 30)))
QUERIES = int(os.environ.get("AURORA_ORACLE_QUERIES", 100))


class SubGen(Gen):
    """Adds subqueries to predicates and select lists; ``depth`` bounds their nesting."""

    counter = 0

    def __init__(self, rng, tables, depth=0):
        super().__init__(rng, tables)
        self.depth = depth

    def _inner(self):
        SubGen.counter += 1
        table = self.rng.choice(list(COLUMNS))
        alias = f"s{SubGen.counter}"
        inner = SubGen(self.rng, [(alias, table)], self.depth + 1)
        where = []
        if self.rng.random() < 0.6:
            # Correlated: an inner column against an outer one.
            op = self.rng.choice(["=", "=", "<", ">="])
            where.append(f"{inner.column('int')[0]} {op} {self.column('int')[0]}")
        if self.rng.random() < 0.5:
            where.append(inner.predicate(1))
        where_sql = f" WHERE {' AND '.join(where)}" if where else ""
        return inner, f"{table} {alias}", where_sql

    def subquery_predicate(self):
        inner, source, where = self._inner()
        choice = self.rng.random()
        if choice < 0.35:
            negate = self.rng.choice(["", "NOT "])
            return f"{negate}EXISTS (SELECT 1 FROM {source}{where})"
        if choice < 0.7:
            negate = self.rng.choice(["", "NOT "])
            return (f"{self.int_expr(1)} {negate}IN "
                    f"(SELECT {inner.int_expr(1)} FROM {source}{where})")
        op = self.rng.choice(["=", "<", ">", "<>"])
        return f"{self.int_expr(1)} {op} {self.scalar(inner, source, where)}"

    def scalar(self, inner=None, source=None, where=None):
        if inner is None:
            inner, source, where = self._inner()
        aggregate = self.rng.choice([f"max({inner.int_expr(1)})", f"min({inner.column('int')[0]})",
                                     "count(*)", f"sum({inner.column('int')[0]})"])
        return f"(SELECT {aggregate} FROM {source}{where})"

    def predicate(self, depth=0):
        if self.depth < 2 and self.rng.random() < 0.3:
            return self.subquery_predicate()
        return super().predicate(depth)


def _simple_select(rng, with_subqueries):
    table = rng.choice(list(COLUMNS))
    gen = SubGen(rng, [("o", table)], 0 if with_subqueries else 2)
    output = gen.int_expr() if rng.random() < 0.8 else gen.scalar()
    where = f" WHERE {gen.predicate()}" if rng.random() < 0.7 else ""
    return f"SELECT {output} FROM {table} o{where}"


def make_query(rng):
    if rng.random() < 0.35:
        op = rng.choice(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"])
        left = _simple_select(rng, rng.random() < 0.5)
        right = _simple_select(rng, rng.random() < 0.5)
        order = rng.choice(["", " ORDER BY 1 NULLS FIRST", " ORDER BY 1 DESC NULLS LAST"])
        limit = f" LIMIT {rng.randrange(0, 6)}" if order and rng.random() < 0.3 else ""
        query = f"{left} {op} {right}{order}{limit}"
        return query, not order
    table = rng.choice(list(COLUMNS))
    gen = SubGen(rng, [("o", table)])
    outputs = [gen.int_expr() if rng.random() < 0.7 else gen.scalar()
               for _ in range(rng.randrange(1, 3))]
    where = f" WHERE {gen.predicate()}" if rng.random() < 0.85 else ""
    order = ", ".join(f"{i + 1} NULLS FIRST" for i in range(len(outputs)))
    return f"SELECT {', '.join(outputs)} FROM {table} o{where} ORDER BY {order}", False


@pytest.mark.parametrize("with_indexes", [False, True])
def test_random_subqueries_match_sqlite(sql, with_indexes):
    print(f"seed={SEED} (AURORA_ORACLE_SEED to replay)")
    rng = random.Random(SEED * 2 + with_indexes)
    oracle = sqlite3.connect(":memory:")
    for statement in SCHEMA:
        sql(statement)
        oracle.execute(statement)
    # Indexes on our side only (see test_random_oracle): SQLite 3.40 drops the NULLs of a
    # subquery read through a DESC index, so `x NOT IN (SELECT c ...)` came out TRUE for it.
    for statement in INDEXES if with_indexes else []:
        sql(statement)
    for table, rows in _rows(rng).items():
        for row in rows:
            marks = ", ".join("?" for _ in row)
            sql(f"INSERT INTO {table} VALUES ({marks})", row)
            oracle.execute(f"INSERT INTO {table} VALUES ({marks})", row)
    for _ in range(QUERIES):
        query, unordered = make_query(rng)
        expected = _normal(oracle.execute(query).fetchall())
        got = _normal(sql(query))
        if unordered:
            expected, got = sorted(expected, key=repr), sorted(got, key=repr)
        assert got == expected, query
