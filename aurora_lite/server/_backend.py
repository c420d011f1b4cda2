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

The engine backend answers two statements itself (the shell's ``.cluster`` runs them; any
client may):

    SHOW replicas          one row per read replica following this writer's replication
                           endpoint: address, read_point, lag_lsn, lag_ms (no rows when the
                           writer serves no replication: a local volume, --no-replication)
    SHOW cluster_status    one JSON text: role, pid, data directory, SQL and replication
                           addresses, storage kind, the writer's ``statistics()`` (VDL, VCL,
                           epoch, per-node links and SCLs) and, on a cluster directory, the
                           launcher's view of every storage node (``cluster_status(DIR)``)

The session a backend returns must offer what the server uses of ``aurora_lite.txn.Session``:
``autocommit`` (read/write), ``in_transaction``, ``in_write_transaction``, ``commit()``,
``rollback()``, ``interrupt()`` (from any thread) and ``close()``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any, Callable, Protocol

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
_SERVER_SHOW = re.compile(r"^\s*SHOW\s+(replicas|cluster_status)\s*;?\s*$", re.IGNORECASE)
REPLICA_COLUMNS = (("address", "text"), ("read_point", "bigint"), ("lag_lsn", "bigint"),
                   ("lag_ms", "double precision"))


def show_result(columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> Result:
    """The Result of a SHOW the server answers itself: ``columns`` are (name, type name)."""
    return Result(description=tuple((name, kind, None, None, None, None, True)
                                    for name, kind in columns),
                  rows=iter(rows), rowcount=len(rows), command_tag="SHOW",
                  type_names=tuple(kind for _name, kind in columns))


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
        self.publisher = None                   # the replication endpoint (``serve`` sets it)
        self.sql_address: str | None = None     # this server's address (``serve`` sets it)

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
        answer = self.answered(sql)
        if answer is not None:
            return answer()
        return frontend.execute(session, sql, params)

    # -- statements the server answers itself ----------------------------------------------------
    def answered(self, sql: str) -> Callable[[], Result] | None:
        """The function producing the result of ``sql`` when the server answers it itself
        (``SHOW replicas``, ``SHOW cluster_status``), else None."""
        match = _SERVER_SHOW.match(sql)
        if match is None:
            return None
        if match.group(1).lower() == "replicas":
            return lambda: show_result(REPLICA_COLUMNS, self.replica_rows())
        return lambda: show_result((("cluster_status", "text"),),
                                   [(json.dumps(self.cluster_status(), sort_keys=True,
                                                default=str),)])

    def replica_rows(self) -> list[tuple]:
        """(address, read_point, lag_lsn, lag_ms) of each replica following this writer (the
        replication endpoint's ``statistics()``; read_point and lags are NULL until the
        replica's first FEEDBACK)."""
        publisher = self.publisher
        if publisher is None:
            return []
        return [(replica["address"], replica["read_point"], replica["lag_lsn"],
                 replica["lag_ms"]) for replica in publisher.statistics()["replicas"]]

    def cluster_status(self) -> dict:
        """What ``SHOW cluster_status`` reports (see the module docstring)."""
        stats = self.database.statistics()
        directory = os.path.abspath(self.directory)
        volume = stats.get("volume") or {}
        status: dict = {
            "role": "writer", "pid": os.getpid(), "directory": directory,
            "sql": self.sql_address,
            "replication": self.publisher.address if self.publisher is not None else None,
            "storage": "cluster" if "nodes" in volume else "local",
            "statistics": stats, "cluster": None,
        }
        if os.path.exists(os.path.join(directory, "cluster.json")):
            try:
                from aurora_lite.cluster import cluster_status
                status["cluster"] = cluster_status(directory)
            except Exception as exc:  # noqa: BLE001 - the writer's own view still stands
                status["cluster_error"] = f"{type(exc).__name__}: {exc}"
        return status

    def prepare(self, session, sql: str, param_oids: tuple[int, ...]) -> int:
        """Parse and bind ``sql`` (as PostgreSQL's Parse analyses it: unknown tables and
        columns are errors now); return its parameter count. DDL is only parsed."""
        from aurora_lite import frontend
        if self.answered(sql) is not None:
            return 0
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
        answer = self.answered(sql)
        if answer is not None:
            result = answer()
            return 0, result.description, result.type_names
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
