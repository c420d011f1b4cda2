"""Serving a read replica over the PostgreSQL wire protocol (``aurora-lite replica``).

``ReplicaBackend`` is the server's engine seam (``_backend``) over an
aurora_lite.replica.Replica: sessions read at the replica's read points, and every write
(INSERT, UPDATE, DELETE, DDL, BEGIN READ WRITE, SET TRANSACTION READ WRITE) is refused with
ReadOnlyError (SQLSTATE 25006) before anything runs. It answers a few statements itself:

    SHOW replica_lag          lag_ms, lag_lsn, read_point, writer_read_point
    SHOW replica_status       the replica's statistics as one JSON text
    SHOW replica_visibility   read_point, published_us, visible_us of recent read points
                              (the writer's publish time, the replica's visibility time)
    SHOW transaction_read_only / SHOW replica_role
    SHOW cluster_status       one JSON text: role "replica", pid, directory, the writer it
                              follows, its lag (after a promotion: the writer's, _backend)
    SHOW replicas             refused on a replica (55000: the writer lists its replicas);
                              after a promotion, the replicas following this new writer

``promote(timeout)`` makes this process the writer (the control endpoint's PROMOTE): it stops
following, opens the writer (recovery fences the old one), starts the replication endpoint
for the other replicas, and records itself in DIR/writer.json. Client sessions follow: each
moves to a writer session at its next statement outside a transaction.

``run_replica(args)`` is the command: the SQL server, the control endpoint
(aurora_lite.replica.ControlServer) and DIR/replicas/replica-PID.json for tools.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from typing import Any

from aurora_lite.errors import Error, ProgrammingError, ReadOnlyError
from aurora_lite.exec import Result
from aurora_lite.server._backend import EngineBackend, show_result

log = logging.getLogger("aurora_lite.server")

_READ_WRITE = re.compile(r"^\s*(?:BEGIN|START\s+TRANSACTION|SET\s+(?:SESSION\s+CHARACTERISTICS"
                         r"\s+AS\s+)?TRANSACTION)\b.*\bREAD\s+WRITE\b", re.IGNORECASE | re.DOTALL)
_SET_READ_ONLY = re.compile(r"^\s*SET\s+(?:SESSION\s+CHARACTERISTICS\s+AS\s+)?TRANSACTION\b"
                            r"[^;]*\bREAD\s+ONLY\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_SHOW = re.compile(r"^\s*SHOW\s+(replica_lag|replica_status|replica_visibility|replica_role|"
                   r"transaction_read_only)\s*;?\s*$", re.IGNORECASE)
_WRITE_KINDS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE", "create": "CREATE",
                "drop": "DROP"}


_rows = show_result


class _FollowingSession:
    """A client's session on a replica process: a ReplicaSession, and after a promotion a
    writer session (switched at the first statement outside a transaction)."""

    def __init__(self, backend: "ReplicaBackend") -> None:
        self._backend = backend
        self._inner = backend.new_inner_session()

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def autocommit(self) -> bool:
        return self._inner.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._inner.autocommit = value

    @property
    def on_replica(self) -> bool:
        from aurora_lite.replica import ReplicaSession
        return isinstance(self._inner, ReplicaSession)

    def follow_promotion(self) -> None:
        if self.on_replica and self._backend.database is not None \
                and not self._inner.in_transaction:
            autocommit = self._inner.autocommit
            try:
                self._inner.close()
            except Error:
                pass
            self._inner = self._backend.database.session()
            self._inner.autocommit = autocommit


class ReplicaBackend(EngineBackend):
    """The server's backend over a replica (and over the writer it may become)."""

    parameters = {"in_hot_standby": "on", "default_transaction_read_only": "on"}

    def __init__(self, replica, *, replication_host: str = "127.0.0.1") -> None:
        self.replica = replica
        self.directory = replica.directory
        self.database = None            # the writer's, once promoted
        self.publisher = None
        self._release = None
        self.sql_address: str | None = None
        self.replication_host = replication_host
        self.promoted: dict | None = None
        self._promote_lock = threading.Lock()

    # -- sessions ------------------------------------------------------------------------------
    def new_inner_session(self):
        session = self.database.session() if self.database is not None \
            else self.replica.session()
        session.autocommit = True
        return session

    def open_session(self):
        return _FollowingSession(self)

    def execute(self, session, sql: str, params: tuple) -> Result:
        from aurora_lite import frontend
        session.follow_promotion()
        answer = self.answered(sql)
        if answer is not None:
            return answer()
        if session.on_replica:
            result = self._replica_statement(sql)
            if result is not None:
                return result
        elif _SHOW.match(sql):
            return self._writer_show(sql)
        return frontend.execute(session, sql, params)

    def prepare(self, session, sql: str, param_oids: tuple[int, ...]) -> int:
        session.follow_promotion()
        if _SHOW.match(sql) or self.answered(sql) is not None:
            return 0
        if session.on_replica:
            self._check_read_only(sql)
        return super().prepare(session, sql, param_oids)

    def replica_rows(self) -> list[tuple]:
        if self.database is None:
            raise ProgrammingError("SHOW replicas: this server is a read replica; the writer "
                                   f"it follows ({self.replica.writer}) lists the replicas",
                                   sqlstate="55000")
        return super().replica_rows()

    def cluster_status(self) -> dict:
        if self.database is not None:
            status = super().cluster_status()
            status["role"] = "writer (promoted)"
            return status
        from aurora_lite.replica import read_writer
        replica = self.replica
        recorded = read_writer(self.directory) or {}
        writer = replica.writer or recorded.get("replication")
        return {"role": "replica", "pid": os.getpid(),
                "directory": os.path.abspath(self.directory), "sql": self.sql_address,
                "writer": writer, "writer_sql": recorded.get("sql")
                if recorded.get("replication") == writer else None,
                "epoch": replica.epoch, "lag": replica.lag()}

    def _check_read_only(self, sql: str) -> None:
        from aurora_lite import frontend
        if _READ_WRITE.match(sql):
            raise ReadOnlyError("cannot start a read-write transaction on a read replica")
        prepared = frontend.prepare(sql)
        word = _WRITE_KINDS.get(prepared.kind)
        if word is not None and not prepared.explain:
            raise ReadOnlyError(f"cannot execute {word} in a read-only transaction (this is a "
                                f"read replica: connect to the writer)")

    def _replica_statement(self, sql: str) -> Result | None:
        match = _SHOW.match(sql)
        if match:
            return self._replica_show(match.group(1).lower())
        if _SET_READ_ONLY.match(sql):
            return Result(command_tag="SET")
        self._check_read_only(sql)
        return None

    def _replica_show(self, name: str) -> Result:
        replica = self.replica
        if name == "replica_lag":
            lag = replica.lag()
            return _rows((("lag_ms", "double precision"), ("lag_lsn", "bigint"),
                          ("read_point", "bigint"), ("writer_read_point", "bigint")),
                         [(lag["lag_ms"], lag["lag_lsn"], lag["read_point"],
                           lag["writer_read_point"])])
        if name == "replica_status":
            return _rows((("replica_status", "text"),),
                         [(json.dumps(replica.statistics(), sort_keys=True, default=str),)])
        if name == "replica_visibility":
            return _rows((("read_point", "bigint"), ("published_us", "bigint"),
                          ("visible_us", "bigint")), list(replica.visibility))
        if name == "replica_role":
            return _rows((("replica_role", "text"),), [("replica",)])
        return _rows((("transaction_read_only", "text"),), [("on",)])

    def _writer_show(self, sql: str) -> Result:
        name = _SHOW.match(sql).group(1).lower()
        if name == "replica_role":
            return _rows((("replica_role", "text"),), [("writer (promoted)",)])
        if name == "transaction_read_only":
            return _rows((("transaction_read_only", "text"),), [("off",)])
        raise ProgrammingError(f"{name}: this server is no longer a replica (it was promoted "
                               f"to writer)", sqlstate="55000")

    # -- promotion -----------------------------------------------------------------------------
    def promote(self, timeout: float = 30.0) -> dict:
        """Become the writer; return its addresses and epoch (idempotent)."""
        from aurora_lite.replica import open_writer, start_publisher
        with self._promote_lock:
            if self.promoted is not None:
                return self.promoted
            started = time.monotonic()
            replica = self.replica
            replica.stop_following()
            database = open_writer(self.directory, commit_timeout=timeout)
            try:
                publisher = start_publisher(database, self.replication_host, 0,
                                            directory=self.directory,
                                            sql_address=self.sql_address,
                                            role="writer (promoted replica)")
            except BaseException:
                from aurora_lite.replica import close_writer
                close_writer(database)
                raise
            self.database, self.publisher = database, publisher
            self.parameters = {}
            self.promoted = {"epoch": database.epoch, "sql": self.sql_address,
                             "replication": publisher.address, "pid": os.getpid(),
                             "read_point": database.read_point,
                             "seconds": round(time.monotonic() - started, 3)}
            log.warning("promoted to writer: epoch %d, read point %d, in %.3f s",
                        database.epoch, database.read_point, time.monotonic() - started)
        replica.close()
        return self.promoted

    # -- observability and lifecycle ---------------------------------------------------------------
    def statistics(self) -> dict:
        if self.database is not None:
            stats = self.database.statistics()
            stats["role"] = "writer (promoted)"
            if self.publisher is not None:
                stats["replication"] = self.publisher.statistics()
            return stats
        stats = self.replica.statistics()
        stats["role"] = "replica"
        return stats

    def close(self) -> None:
        try:
            if self.publisher is not None:
                self.publisher.stop()
        finally:
            try:
                self.replica.close()
            finally:
                if self.database is not None:
                    from aurora_lite.replica import close_writer
                    close_writer(self.database)


# -- the command -------------------------------------------------------------------------------
def run_replica(args: argparse.Namespace) -> int:
    import trio

    from aurora_lite.membership import format_address, load
    from aurora_lite.replica import (
        ControlServer, Replica, forget_replica, record_replica,
    )
    from aurora_lite.server._cli import EXIT_ERROR, EXIT_OK, _is_loopback
    from aurora_lite.server._config import ServerConfig
    from aurora_lite.server._server import Server
    from aurora_lite.server._users import UserStore

    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format="aurora-lite replica: %(levelname)s: %(message)s")
    host, port = args.listen
    try:
        cluster = load(args.config)
        config = ServerConfig(host=host, port=port, auth=args.auth,
                              max_connections=args.max_connections,
                              worker_threads=args.workers,
                              statement_timeout=args.statement_timeout)
    except (ValueError, Error, OSError) as error:
        print(f"aurora-lite replica: {error}", file=sys.stderr)
        return EXIT_ERROR
    directory = os.path.dirname(os.path.abspath(cluster.path))
    data = args.data or directory
    os.makedirs(data, exist_ok=True)
    writer = format_address(*args.writer) if args.writer else None
    if port == 0:
        # The replica names itself to the writer by its SQL address before it listens: pick
        # the port now, so the writer (and `.cluster`, SHOW replicas) shows a usable address.
        port = _free_port(host)
        config = dataclasses.replace(config, port=port)
    replica = Replica(cluster, writer=writer, name=format_address(host, port),
                      pool_pages=args.pool_pages)
    backend = ReplicaBackend(replica, replication_host=host)
    server = Server(backend, config, UserStore(data))
    control_host, control_port = args.control
    control = ControlServer(replica.secret, cluster.cluster_id_bytes,
                            statistics=lambda: server.statistics(),
                            promote=backend.promote, host=control_host, port=control_port)
    notes = []
    if config.auth == "trust":
        notes.append("--auth trust: anyone who can reach this address may connect as any user")
    if not _is_loopback(host):
        notes.append(f"listening on {host}, not a loopback address; there is no TLS")
    try:
        replica.start(wait_ready=False)
    except Error as error:
        print(f"aurora-lite replica: {error}", file=sys.stderr)
        return EXIT_ERROR
    if not replica.ready.wait(args.ready_timeout):
        reason = replica.last_error or "connecting"
        print(f"aurora-lite replica: not following the writer yet ({reason}); serving once "
              f"it is", file=sys.stderr)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            try:
                bound = await nursery.start(server.serve)
                control_bound = await nursery.start(control.serve)
            except OSError as error:
                print(f"aurora-lite replica: cannot listen: {error}", file=sys.stderr)
                raise SystemExit(EXIT_ERROR) from None
            backend.sql_address = format_address(host, bound)
            control_address = format_address(control_host, control_bound)
            record_replica(directory, sql=backend.sql_address, control=control_address,
                           writer=writer)
            for note in notes:
                if not args.quiet:
                    print(f"aurora-lite replica: {note}", file=sys.stderr)
            print(f"listening on {host}:{bound}", flush=True)
            print(f"control on {control_address}", flush=True)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    server.stop()
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(main)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    finally:
        forget_replica(directory)
        backend.close()
    return EXIT_OK


__all__ = ["ReplicaBackend", "run_replica"]


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
