"""Sessions for frontend/exec tests: the in-memory engine double or the real engine.

``ENGINES`` (environment variable AURORA_TEST_ENGINES, default "memory,aurora") picks which
engines the ``session`` fixtures run against; switching every frontend test to another
engine is a change in this one place.
"""

from __future__ import annotations

import contextlib
import os

from tests.support.memory_engine import MemoryDatabase

ENGINES = [name for name in os.environ.get("AURORA_TEST_ENGINES", "memory,aurora").split(",")
           if name]


@contextlib.contextmanager
def open_session(kind: str, tmp_path=None, autocommit: bool = True):
    """Yield a fresh database's session (autocommit, like psql, unless told otherwise)."""
    if kind == "memory":
        session = MemoryDatabase().session()
        session.autocommit = autocommit
        yield session
        return
    from aurora_lite.txn import Database
    try:
        from tests.btree._memory_volume import MemoryVolume
        database = Database(MemoryVolume(), pool_pages=256, lock_timeout=2.0)
    except ImportError:               # the volume double moved: use a local volume instead
        database = Database.open(tmp_path / "db", fsync=False, lock_timeout=2.0)
    session = database.session()
    session.autocommit = autocommit
    try:
        yield session
    finally:
        session.close()
        database.close()
