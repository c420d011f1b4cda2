"""One storage node as an OS process of a local cluster: start, stop, kill -9, restart, wipe.

The node runs ``python -m aurora_lite segment --config DIR/cluster.json --node-id N`` in its
own session (detached from the launcher's terminal and signals), with stdout and stderr
appended to ``DIR/logs/node-N.log``; its PID is recorded in ``DIR/pids/node-N.pid`` so that
any process can find it again (``aurora-lite cluster stop`` from another shell, a second
``connect``). A PID is trusted only while ``/proc/PID/cmdline`` still names this node of this
cluster file, so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

from aurora_lite.errors import OperationalError
from aurora_lite.membership import ClusterConfig, NodeInfo
from aurora_lite.segment import BlockingNodeClient
from aurora_lite.wire import Status

LOG_DIR = "logs"
PID_DIR = "pids"


class NodeProcess:
    """Control of one node process of the cluster in ``directory``."""

    def __init__(self, directory: str, config: ClusterConfig, secret: bytes, node_id: int,
                 node_args: tuple[str, ...] = ()) -> None:
        self.directory = directory
        self.config = config
        self.secret = secret
        self.node_id = node_id
        self.node_args = tuple(node_args)
        self._popen: subprocess.Popen | None = None

    @property
    def info(self) -> NodeInfo:
        return self.config.node(self.node_id)

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, LOG_DIR, f"node-{self.node_id}.log")

    @property
    def pid_path(self) -> str:
        return os.path.join(self.directory, PID_DIR, f"node-{self.node_id}.pid")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "aurora_lite", "segment", "--config", self.config.path,
                "--node-id", str(self.node_id), *self.node_args]

    # -- state ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The PID of this node's process if it is running, else None."""
        if self._popen is not None:
            if self._popen.poll() is None:
                # Our own child (its cmdline may not show the node yet: exec is racing).
                return self._popen.pid
            self._popen = None          # reaped: a child killed with -9 is no zombie
        try:
            with open(self.pid_path) as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return None
        return pid if self._is_ours(pid) else None

    def _is_ours(self, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            return False
        if state == b"Z":
            return False
        node = str(self.node_id).encode()
        return (b"segment" in argv and self.config.path.encode() in argv
                and any(a == b"--node-id" and b == node for a, b in zip(argv, argv[1:])))

    @property
    def running(self) -> bool:
        return self.pid is not None

    def status(self, timeout: float = 2.0) -> dict | None:
        """The node's STATUS (a dict), or None if it does not answer."""
        try:
            with BlockingNodeClient(self.info.address, self.secret, timeout=timeout,
                                    cluster_id=self.config.cluster_id_bytes) as client:
                return json.loads(client.request(Status()).json_text)
        except (OperationalError, OSError, ValueError):
            return None

    # -- control --------------------------------------------------------------------------------
    def start(self) -> int:
        """Start the node (detached) unless it runs; return its PID."""
        pid = self.pid
        if pid is not None:
            return pid
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        os.makedirs(os.path.dirname(self.pid_path), exist_ok=True)
        with _signals_deferred(), open(self.log_path, "ab") as log, \
                open(os.devnull, "rb") as devnull:
            self._popen = subprocess.Popen(
                self.command(), stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
            temporary = f"{self.pid_path}.tmp"
            with open(temporary, "w") as handle:
                handle.write(f"{self._popen.pid}\n")
            os.replace(temporary, self.pid_path)
        return self._popen.pid

    def wait_ready(self, timeout: float = 60.0) -> dict:
        """Wait until the node answers STATUS; OperationalError (with its log's tail) if it
        exits or does not answer in time."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(timeout=1.0)
            if status is not None and status.get("pid") == self.pid:
                return status
            if self.pid is None:
                raise OperationalError(f"storage node {self.node_id} exited during start-up; "
                                       f"{self.log_path} ends with:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise OperationalError(f"storage node {self.node_id} did not answer STATUS on "
                                       f"{self.info.address} within {timeout} s; "
                                       f"{self.log_path} ends with:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.fstat(handle.fileno()).st_size - 8192))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Send ``signum`` (default: kill -9) and wait until the process is gone."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signum)
        self._wait_gone(pid, 10.0)

    def terminate(self) -> int | None:
        """Send SIGTERM (the node closes its segments cleanly); return the PID signalled."""
        pid = self.pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return pid

    def stop(self, timeout: float = 10.0, *, pid: int | None = None) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; ``pid``: already sent SIGTERM to it."""
        if pid is None:
            pid = self.terminate()
        if pid is not None:
            if not self._wait_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid, 10.0)
        try:
            os.remove(self.pid_path)
        except FileNotFoundError:
            pass

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen is not None and self._popen.pid == pid:
                try:
                    self._popen.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    continue
                self._popen = None
                return True
            if not self._is_ours(pid):
                return True
            time.sleep(0.05)
        return False

    def restart(self, timeout: float = 60.0) -> dict:
        """Stop (if running) and start again with the same data directory; wait until ready."""
        self.stop()
        self.start()
        return self.wait_ready(timeout)

    def wipe(self) -> None:
        """Delete the node's data directory (the node must be stopped): it restarts empty and
        rebuilds from its peers (recovery.md R5)."""
        if self.running:
            raise OperationalError(f"storage node {self.node_id} is running: stop it before "
                                   f"wiping {self.info.data}")
        shutil.rmtree(self.info.data, ignore_errors=True)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT handlers back while a node is being started: Popen waits for
    the child's exec for a few milliseconds, and an exception raised in there by a handler (a
    SIGTERM turned into SystemExit by the command line, Ctrl-C) would leave a running node
    that nobody knows to stop. The signals are handled as soon as the node is on record."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, object]] = []
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, lambda number, frame: pending.append((number, frame)))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum, frame in pending:
            previous[signum](signum, frame)
