"""Rows decoded straight from pages equal rows decoded the general way, for every projection."""

from __future__ import annotations

import datetime
import random

import pytest

from aurora_lite.catalog import ColumnDef
from aurora_lite.values import SqlType

TYPES = [("i", SqlType.INTEGER, "INTEGER"), ("r", SqlType.REAL, "REAL"),
         ("t", SqlType.TEXT, "TEXT"), ("b", SqlType.BOOLEAN, "BOOLEAN"),
         ("y", SqlType.BYTEA, "BYTEA"), ("d", SqlType.DATE, "DATE"),
         ("s", SqlType.TIMESTAMP, "TIMESTAMP")]


def _value(rng, sql_type, big=False):
    if rng.random() < 0.15:
        return None
    if sql_type is SqlType.INTEGER:
        return rng.randint(-2**40, 2**40)
    if sql_type is SqlType.REAL:
        return rng.uniform(-1e6, 1e6)
    if sql_type is SqlType.TEXT:
        return "x\u00e9" * (rng.randrange(3000) if big else rng.randrange(12))
    if sql_type is SqlType.BOOLEAN:
        return rng.random() < 0.5
    if sql_type is SqlType.BYTEA:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
    if sql_type is SqlType.DATE:
        return datetime.date(2000, 1, 1) + datetime.timedelta(days=rng.randrange(9000))
    return datetime.datetime(2020, 1, 1) + datetime.timedelta(microseconds=rng.randrange(10**12))


@pytest.mark.parametrize("key", ["integer", "text", "rowid"])
def test_page_decoder_matches_general_decoder(database, key):
    seed = 4242
    print("seed", seed)
    rng = random.Random(seed)
    session = database.session()
    columns = [ColumnDef("k", SqlType.TEXT if key == "text" else SqlType.INTEGER,
                         "TEXT" if key == "text" else "INTEGER")]
    columns += [ColumnDef(name, sql_type, declared) for name, sql_type, declared in TYPES]
    primary = () if key == "rowid" else ("k",)
    with session.statement(writes=True):
        session.create_table("wide", columns, primary)
        rows = []
        for number in range(400):
            k = f"key-{number:05d}" * rng.randrange(1, 4) if key == "text" else number
            big = number % 97 == 0          # some rows go to overflow pages
            rows.append((k,) + tuple(_value(rng, t, big) for _n, t, _d in TYPES))
        session.table("wide").insert(rows)
    session.commit()
    with session.statement(writes=False):
        view = session.read_view()
        table = session.table("wide")
        expected = [row for batch in table.tree.scan(view) for row in
                    map(table.decode, batch[1])]
        assert len(expected) == 400
        width = len(columns)
        projections = [None, (), (0,), (3,), (2, 5), (width - 1, 1)]
        projections += [tuple(rng.sample(range(width), rng.randrange(1, width)))
                        for _ in range(6)]
        for projection in projections:
            got = [row for batch in table.scan(view, columns=projection) for row in batch]
            wanted = set(range(width)) if projection is None else set(projection)
            assert len(got) == len(expected)
            for full, row in zip(expected, got):
                for index in range(width):
                    if index in wanted:
                        assert row[index] == full[index], (projection, index)
        # Key ranges keep working with the projected path.
        low = expected[100][0]
        high = expected[200][0]
        key_of = [row[0] for row in expected]
        ranged = [row[0] for batch in table.scan(view, (low,), (high,), columns=(0,))
                  for row in batch] if key != "rowid" else key_of[100:201]
        assert ranged == key_of[100:201]
