"""The server's seam to the engine: open a session per client, run one statement in it.

``EngineBackend`` serves a data directory through ``aurora_lite.txn.Database`` and
``aurora_lite.frontend.execute``. Tests of the protocol inject a stub with the same three
methods, so the wire layer is tested without SQL.

Two optional methods make the extended protocol closer to PostgreSQL's:
``prepare(session, sql, param_oids)`` checks a statement at Parse (syntax, tables, columns)
and returns its parameter count, and
``describe(session, sql, param_oids)`` gives (parameter count, description, type names)
without running the statement, for a Describe of a prepared statement. A backend without them
gets errors at Bind/Execute time and dry-run descriptions instead.

The session a backend returns must offer what the server uses of ``aurora_lite.txn.Session``:
``autocommit`` (read/write), ``in_transaction``, ``in_write_transaction``, ``commit()``,
``rollback()``, ``interrupt()`` (from any thread) and ``close()``.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Protocol

from aurora_lite.dbapi._pg import pgtypes
from aurora_lite.exec import Result

# A value of each parameter type, so a statement can be bound (typed) without its values.
_SAMPLES: dict[int, Any] = {
    pgtypes.INT2: 0, pgtypes.INT4: 0, pgtypes.INT8: 0, pgtypes.OID: 0, pgtypes.FLOAT4: 0.0,
    pgtypes.FLOAT8: 0.0, pgtypes.NUMERIC: 0.0, pgtypes.BOOL: False, pgtypes.BYTEA: b"",
    pgtypes.DATE: datetime.date(2000, 1, 1), pgtypes.TIMESTAMP: datetime.datetime(2000, 1, 1),
    pgtypes.TIMESTAMPTZ: datetime.datetime(2000, 1, 1),
}
_EXPLAIN = (("QUERY PLAN", "text", None, None, None, None, False),)


class Backend(Protocol):
    def open_session(self) -> Any: ...

    def execute(self, session: Any, sql: str, params: tuple) -> Result: ...

    def statistics(self) -> dict: ...

    def close(self) -> None: ...


class EngineBackend:
    """One Database per server process; one Session per client connection.

    The directory is opened on the storage ``connect(DIR)`` would choose (so ``serve DIR`` and
    ``shell DIR`` agree): a new directory or a cluster directory on the six-segment storage
    (the writer lock, the nodes started if they are not running), a directory created as a
    local volume, or any directory with ``storage="local"`` / AURORA_LITE_STORAGE=local, on a
    local volume."""

    def __init__(self, directory: str | os.PathLike, **options: Any) -> None:
        from aurora_lite.dbapi._connection import (
            _acquire_database, _release_database, _storage_kind,
        )
        from aurora_lite.txn import Database
        os.makedirs(os.fspath(directory), exist_ok=True)
        self.directory = os.fspath(directory)
        self._release = None
        options = dict(options)
        kind = _storage_kind(self.directory, options.pop("storage", None))
        if kind == "local":
            self.database = Database.open(self.directory, **options)
        else:
            self.database = _acquire_database(self.directory, {**options, "storage": kind})
            self._release = _release_database

    @property
    def on_cluster(self) -> bool:
        return self._release is not None

    def open_session(self):
        session = self.database.session()
        # Each statement outside BEGIN commits by itself; the server turns autocommit off
        # for the statements of one Query or one Sync group (its implicit transaction).
        session.autocommit = True
        return session

    def execute(self, session, sql: str, params: tuple) -> Result:
        from aurora_lite import frontend
        return frontend.execute(session, sql, params)

    def prepare(self, session, sql: str, param_oids: tuple[int, ...]) -> int:
        """Parse and bind ``sql`` (as PostgreSQL's Parse analyses it: unknown tables and
        columns are errors now); return its parameter count. DDL is only parsed."""
        from aurora_lite import frontend
        prepared = frontend.prepare(sql)
        if prepared.kind in ("select", "insert", "update", "delete") and not prepared.explain:
            prepared.plan(session, self._samples(prepared, param_oids))
        return prepared.param_count

    @staticmethod
    def _samples(prepared, param_oids: tuple[int, ...]) -> Any:
        samples = tuple(_SAMPLES.get(param_oids[i] if i < len(param_oids) else 0, "")
                        for i in range(prepared.param_count))
        if prepared.param_style == "named":
            return dict(zip(prepared.parsed.param_names, samples))
        return samples

    def describe(self, session, sql: str, param_oids: tuple[int, ...]
                 ) -> tuple[int, tuple | None, tuple[str, ...]]:
        from aurora_lite import frontend
        from aurora_lite.values import type_display_name
        prepared = frontend.prepare(sql)
        count = prepared.param_count
        if prepared.explain:
            return count, _EXPLAIN, ("text",)
        if prepared.kind != "select":
            return count, None, ()
        output = prepared.plan(session, self._samples(prepared, param_oids)).output
        names = tuple("text" if column.type is None else type_display_name(column.type)
                      for column in output)
        description = tuple((column.name, name, None, None, None, None, column.nullable)
                            for column, name in zip(output, names))
        return count, description, names

    def statistics(self) -> dict:
        return self.database.statistics()

    def close(self) -> None:
        if self._release is not None:
            self._release(self.database)
        else:
            self.database.close()
