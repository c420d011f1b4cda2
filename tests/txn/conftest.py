from __future__ import annotations

import pytest

from aurora_lite.catalog import ColumnDef
from aurora_lite.txn import Database
from aurora_lite.values import SqlType

from tests.btree._memory_volume import MemoryVolume


def columns(*specs):
    types = {"int": SqlType.INTEGER, "text": SqlType.TEXT, "real": SqlType.REAL}
    return [ColumnDef(name, types[kind], kind.upper()) for name, kind in specs]


@pytest.fixture(params=["memory", "local"])
def database(request, tmp_path):
    if request.param == "memory":
        db = Database(MemoryVolume(), pool_pages=64, lock_timeout=0.5)
    else:
        db = Database.open(tmp_path / "db", fsync=False, pool_pages=64, lock_timeout=0.5)
    yield db
    db.close()


def make_table(session, name="t", unique=()):
    with session.statement(writes=True):
        session.create_table(name, columns(("id", "int"), ("name", "text"), ("score", "real")),
                             ("id",), list(unique))


def rows_of(session, name="t"):
    with session.statement(writes=False):
        view = session.read_view()
        return [row for batch in session.table(name).scan(view) for row in batch]
