"""The local cluster launcher: a directory that holds a cluster file and runs its nodes.

Layout of a cluster directory (docs/formats/cluster.md)::

    DIR/cluster.json        the cluster file (nodes on free loopback ports chosen at creation)
    DIR/cluster.secret      its secret (0600)
    DIR/launcher.json       options the nodes are started with (kept for restarts)
    DIR/node-<id>/          each node's data directory
    DIR/logs/node-<id>.log  each node's stdout and stderr
    DIR/pids/node-<id>.pid  each running node's PID
    DIR/launcher.lock       held (flock) while a launcher creates or starts the cluster
    DIR/archive/            the archive (default location: docs/formats/archive.md)

``ensure_cluster(DIR)`` (alias ``connect``) creates the directory on first use, starts every
node that is not running and waits until each answers STATUS. Under the lock a second caller -
in this process or another - finds the nodes running and only attaches, so one directory never
runs two clusters. The handle stops on ``close()`` (and at interpreter exit) only the nodes it
started itself.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from aurora_lite.errors import OperationalError
from aurora_lite.membership import (
    DEFAULT_PG_SIZE, ArchiveSettings, ClusterConfig, create_cluster_file, format_address, load,
    load_secret,
)
from aurora_lite.cluster._process import NodeProcess

CLUSTER_FILE = "cluster.json"
LAUNCHER_FILE = "launcher.json"
LOCK_FILE = "launcher.lock"
DEFAULT_NODES = 6
# New clusters archive continuously to DIR/archive unless told otherwise (archive=None).
DEFAULT_ARCHIVE = ArchiveSettings(location="archive")


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports that are free on ``host`` right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sockets.append(sock)
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def _locked(directory: str) -> Iterator[None]:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, LOCK_FILE), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ClusterHandle:
    """A local cluster's directory, configuration and node processes."""

    def __init__(self, directory: str, node_args: tuple[str, ...] = ()) -> None:
        self.directory = os.path.abspath(directory)
        self.config: ClusterConfig = load(os.path.join(self.directory, CLUSTER_FILE))
        self.secret = load_secret(self.config.path)
        self.node_args = tuple(node_args)
        self.processes = {info.node_id: NodeProcess(self.directory, self.config, self.secret,
                                                    info.node_id, self.node_args)
                          for info in self.config.nodes}
        self.started: set[int] = set()     # the nodes this handle started (and so stops)
        self._closed = False
        self._lock = threading.Lock()

    @property
    def cluster_file(self) -> str:
        return self.config.path

    @property
    def owned(self) -> bool:
        """True if this handle started any node (it stops them when closed)."""
        return bool(self.started)

    def node_process(self, node_id: int) -> NodeProcess:
        return self.processes[node_id]

    def start(self, timeout: float = 120.0) -> None:
        """Start every node that is not running; wait until every node answers STATUS."""
        if any(not process.running for process in self.processes.values()):
            warm_kernels(timeout)
        for node_id, process in self.processes.items():
            if not process.running:
                # Counted before it starts: an exception in the middle (a SIGTERM turned into
                # SystemExit) must still find it among the nodes to stop at exit.
                self.started.add(node_id)
                process.start()
        for process in self.processes.values():
            process.wait_ready(timeout)

    def status(self) -> dict:
        return cluster_status_of(self)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node of the cluster (whoever started it)."""
        _stop_all(list(self.processes.values()), timeout)
        self.started.clear()

    def close(self) -> None:
        """Stop the nodes this handle started (attached ones keep running)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _open_handles.discard(self)
        _stop_all([self.processes[node_id] for node_id in sorted(self.started)])
        self.started.clear()

    def __enter__(self) -> "ClusterHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop_all(processes: list[NodeProcess], timeout: float = 10.0) -> None:
    """SIGTERM to every node first, then wait for each: they shut down in parallel."""
    pids = [(process, process.terminate()) for process in processes]
    for process, pid in pids:
        process.stop(timeout, pid=pid)


def create_cluster(directory: str, *, nodes: int = DEFAULT_NODES,
                   pg_size: int = DEFAULT_PG_SIZE, host: str = "127.0.0.1",
                   node_args: tuple[str, ...] = (),
                   archive: ArchiveSettings | None = DEFAULT_ARCHIVE) -> ClusterConfig:
    """Write DIR/cluster.json (free ports on ``host``), its secret and launcher.json.
    ``archive``: continuous archiving (default: to DIR/archive; None: off)."""
    directory = os.path.abspath(directory)
    ports = free_ports(host, nodes)
    config = create_cluster_file(os.path.join(directory, CLUSTER_FILE),
                                 [format_address(host, port) for port in ports],
                                 pg_size=pg_size, archive=archive)
    with open(os.path.join(directory, LAUNCHER_FILE), "w") as handle:
        json.dump({"node_args": list(node_args)}, handle)
        handle.write("\n")
    return config


def _saved_node_args(directory: str) -> tuple[str, ...]:
    try:
        with open(os.path.join(directory, LAUNCHER_FILE)) as handle:
            return tuple(json.load(handle).get("node_args", ()))
    except (OSError, ValueError):
        return ()


# Handles that stop their nodes at exit (strong references: an unreferenced handle must not
# leave orphaned nodes behind).
_open_handles: set[ClusterHandle] = set()


def _close_all_at_exit() -> None:
    for handle in list(_open_handles):
        try:
            handle.close()
        except Exception:       # exiting: stop as many as possible
            pass


atexit.register(_close_all_at_exit)


def warm_kernels(timeout: float = 600.0) -> None:
    """Compile (or load) the numba kernels once, in a child process, before nodes start.

    Every node warms the kernels up at start-up; with a cold cache six nodes would each compile
    them at the same time (about 15 s of CPU apiece). One compile fills numba's on-disk cache
    (NUMBA_CACHE_DIR is honoured, the children inherit it) and the nodes then load it in
    about half a second. With a warm cache this costs one short process start.
    """
    try:
        subprocess.run([sys.executable, "-c",
                        "from aurora_lite.redo.materialize import warm_up; warm_up()"],
                       check=False, timeout=timeout, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass      # the nodes will compile for themselves


def ensure_cluster(directory: str, *, nodes: int = DEFAULT_NODES,
                   pg_size: int = DEFAULT_PG_SIZE, host: str = "127.0.0.1",
                   node_args: tuple[str, ...] | None = None, stop_at_exit: bool = True,
                   timeout: float = 120.0,
                   archive: ArchiveSettings | None = DEFAULT_ARCHIVE) -> ClusterHandle:
    """Attach to the cluster running in ``directory``, or create and/or start it.

    ``nodes``, ``pg_size``, ``host``, ``archive`` and ``node_args`` apply when the directory
    is new
    (``node_args`` also when given later: extra ``aurora-lite segment`` options for nodes
    started now). With ``stop_at_exit`` the nodes this call started are stopped when the
    handle is closed or the interpreter exits.
    """
    directory = os.path.abspath(directory)
    with _locked(directory):
        if not os.path.exists(os.path.join(directory, CLUSTER_FILE)):
            create_cluster(directory, nodes=nodes, pg_size=pg_size, host=host,
                           node_args=tuple(node_args or ()), archive=archive)
        handle = ClusterHandle(directory, tuple(node_args) if node_args is not None
                               else _saved_node_args(directory))
        try:
            handle.start(timeout)
        except BaseException:
            handle.close()
            raise
    if stop_at_exit:
        _open_handles.add(handle)
    else:
        handle.started.clear()
    return handle


connect = ensure_cluster


def attach(directory: str) -> ClusterHandle:
    """A handle on an existing cluster directory without starting anything."""
    directory = os.path.abspath(directory)
    if not os.path.exists(os.path.join(directory, CLUSTER_FILE)):
        raise OperationalError(f"{directory} holds no cluster ({CLUSTER_FILE} is missing)")
    return ClusterHandle(directory, _saved_node_args(directory))


def stop_cluster(directory: str, timeout: float = 10.0) -> list[int]:
    """Stop every running node of the cluster in ``directory`` (SIGTERM, then SIGKILL after
    ``timeout``); return the node ids that were running."""
    handle = attach(directory)
    with _locked(handle.directory):
        running = [node_id for node_id, process in handle.processes.items() if process.running]
        handle.stop(timeout)
    return running


def cluster_status_of(handle: ClusterHandle) -> dict:
    segments = []
    statuses: dict[int, dict | None] = {}
    for node_id, process in sorted(handle.processes.items()):
        pid = process.pid
        status = process.status() if pid is not None else None
        statuses[node_id] = status
        pgs = (status or {}).get("pgs", {})
        segments.append({
            "node": node_id,
            "pid": pid,
            "address": process.info.address,
            "up": status is not None,
            "epoch": (status or {}).get("epoch"),
            "scl": {pg: entry["scl"] for pg, entry in pgs.items()},
            "materialized_lsn": {pg: entry["materialized_lsn"] for pg, entry in pgs.items()},
            "data": process.info.data,
            "log": process.log_path,
        })
    return {"directory": handle.directory, "cluster_id": handle.config.cluster_id,
            "pg_size": handle.config.pg_size, "segments": segments,
            "archive": _archive_status(handle, statuses)}


def _archive_status(handle: ClusterHandle, statuses: dict[int, dict | None]) -> dict | None:
    """The archive's location and, per PG, how far it covers the log (as the nodes saw it)."""
    settings = handle.config.archive
    if settings is None:
        return None
    covered: dict[str, int] = {}
    errors = []
    for node_id, status in sorted(statuses.items()):
        archive = (status or {}).get("archive") or {}
        for pg, end in archive.get("covered", {}).items():
            covered[pg] = max(covered.get(pg, 0), end)
        if archive.get("disabled") or archive.get("last_error"):
            errors.append(f"node {node_id}: {archive.get('disabled') or archive['last_error']}")
    return {"location": settings.location, "retention_seconds": settings.retention_seconds,
            "snapshot_interval": settings.snapshot_interval,
            "chunk_interval": settings.chunk_interval, "covered": covered, "errors": errors}


def cluster_status(directory: str) -> dict:
    """``{"segments": [{"node", "pid", "address", "up", "epoch", "scl": {pg: scl}, ...}]}``."""
    return cluster_status_of(attach(directory))
