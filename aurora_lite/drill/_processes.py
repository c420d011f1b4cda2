"""The drill's local cluster: six storage nodes, a writer and two replicas, each its own process.

Nodes are started by the cluster launcher (``aurora_lite.cluster``: detached, PIDs in
DIR/pids/); the writer (``aurora-lite serve``) and the replicas (``aurora-lite replica``) are
children of the drill whose stdout is read for their addresses. Everything is stopped by PID
(SIGTERM, then SIGKILL after a bounded wait); every wait has a deadline.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

from aurora_lite.cluster import ClusterHandle, ensure_cluster
from aurora_lite.membership import ArchiveSettings
from aurora_lite.replica import alive, read_writer


class Child:
    """An ``aurora-lite`` command run as a child process, its stdout lines collected."""

    def __init__(self, name: str, args: list[str], log_path: str) -> None:
        self.name = name
        self.args = args
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "aurora_lite", *args],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self._log, text=True)
        self.pid = self.process.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True, name=f"drill-{name}-stdout").start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str:
        """The rest of the first stdout line starting with ``prefix``."""
        for line in self.seen:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.01, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        raise RuntimeError(f"{self.name}: no '{prefix}' line within {timeout:g} s (exit status "
                           f"{self.process.poll()}); see {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 12) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.fstat(handle.fileno()).st_size - 6000))
                return "\n".join(handle.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self, timeout: float = 10.0) -> None:
        """kill -9 and reap."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(10)
            except ProcessLookupError:
                pass
        self._log.close()


class Deployment:
    """The cluster directory, its node processes, the writer and the replicas."""

    def __init__(self, directory: str, *, fsync: bool, chunk_interval: float = 1.0) -> None:
        self.directory = os.path.abspath(directory)
        self.fsync = fsync
        self.chunk_interval = chunk_interval
        self.handle: ClusterHandle | None = None
        self.writer: Child | None = None
        self.writer_sql: str | None = None        # the current writer's SQL address
        self.replicas: list[Child] = []
        self.replica_sql: list[str] = []
        self.replica_control: list[str] = []
        self.node_args: tuple[str, ...] = () if fsync else ("--no-fsync",)

    @property
    def archive(self) -> str:
        return os.path.join(self.directory, "archive")

    def log(self, name: str) -> str:
        return os.path.join(self.directory, "logs", f"{name}.log")

    def start_cluster(self, timeout: float = 180.0) -> None:
        self.handle = ensure_cluster(
            self.directory, node_args=self.node_args, timeout=timeout,
            archive=ArchiveSettings(location="archive", chunk_interval=self.chunk_interval,
                                    retention_seconds=None))

    def start_writer(self, timeout: float = 120.0) -> str:
        args = ["serve", self.directory, "--listen", "127.0.0.1:0", "--auth", "trust",
                "--quiet"] + ([] if self.fsync else ["--no-fsync"])
        self.writer = Child("writer", args, self.log("drill-writer"))
        self.writer.wait_for("replication on ", timeout)
        self.writer_sql = self.writer.wait_for("listening on ", timeout)
        return self.writer_sql

    def start_replica(self, timeout: float = 120.0) -> str:
        number = len(self.replicas) + 1
        child = Child(f"replica-{number}",
                      ["replica", "--config", os.path.join(self.directory, "cluster.json"),
                       "--listen", "127.0.0.1:0", "--auth", "trust", "--quiet"],
                      self.log(f"drill-replica-{number}"))
        self.replicas.append(child)
        sql = child.wait_for("listening on ", timeout)
        self.replica_sql.append(sql)
        self.replica_control.append(child.wait_for("control on ", timeout))
        return sql

    def current_writer(self) -> str | None:
        return self.writer_sql

    def pids(self) -> list[int]:
        """The PIDs of the running nodes, writer and replicas (CPU accounting)."""
        found = []
        if self.handle is not None:
            found += [p.pid for p in self.handle.processes.values() if p.pid is not None]
        found += [child.pid for child in [self.writer, *self.replicas]
                  if child is not None and child.running]
        record = read_writer(self.directory) if os.path.isdir(self.directory) else None
        pid = (record or {}).get("pid")
        if pid and pid not in found and alive(pid):
            found.append(pid)
        return found

    def node_ids(self) -> list[int]:
        return sorted(self.handle.processes)

    def node_status(self, node_id: int, timeout: float = 2.0) -> dict | None:
        return self.handle.node_process(node_id).status(timeout=timeout)

    def scls(self, timeout: float = 2.0) -> dict[int, dict[int, int]]:
        """{node: {pg: SCL}} of the nodes that answer."""
        found = {}
        for node_id in self.node_ids():
            status = self.node_status(node_id, timeout)
            if status is not None:
                found[node_id] = {int(pg): entry["scl"] for pg, entry in status["pgs"].items()}
        return found

    def close(self) -> None:
        """Stop everything the drill started, by PID: the replicas, the writer(s), the nodes."""
        for child in self.replicas:
            child.stop()
        if self.writer is not None:
            self.writer.stop()
        record = read_writer(self.directory) if os.path.isdir(self.directory) else None
        # A writer started by `aurora-lite failover` (no --replica) is not our child.
        pid = (record or {}).get("pid")
        if pid and pid != os.getpid() and alive(pid) and _is_serve_of(pid, self.directory):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.handle is not None:
            self.handle.stop()
            self.handle.close()


def _is_serve_of(pid: int, directory: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return b"serve" in argv and directory.encode() in argv
