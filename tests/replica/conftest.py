"""Fixtures for replica tests: a six-node storage cluster on loopback (no fsync), a writer in
this process with its replication endpoint, replicas in this process, and helpers to run
``aurora-lite`` processes. Every process a fixture starts is stopped by PID; every wait is
bounded."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

import aurora_lite
from aurora_lite.cluster import ensure_cluster
from aurora_lite.replica import Replica, start_publisher

NODE_ARGS = ("--no-fsync",)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kill_nodes(handle) -> None:
    """Stop every node of the cluster (whoever started it), by PID."""
    for process in handle.processes.values():
        pid = process.pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def cluster_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("replica-cluster"))
    handle = ensure_cluster(directory, node_args=NODE_ARGS)
    try:
        yield directory, handle
    finally:
        handle.close()
        kill_nodes(handle)


@pytest.fixture(scope="module")
def writer(cluster_dir):
    """(connection, database, publisher) of an embedded writer on the module's cluster."""
    directory, _handle = cluster_dir
    connection = aurora_lite.connect(directory, storage="cluster", fsync=False)
    publisher = start_publisher(connection, directory=directory)
    try:
        yield connection, connection._database, publisher
    finally:
        publisher.stop()
        connection.close()


@pytest.fixture
def make_replica(cluster_dir):
    directory, _handle = cluster_dir
    replicas = []

    def make(address: str, **options) -> Replica:
        replica = Replica(os.path.join(directory, "cluster.json"), writer=address, **options)
        replicas.append(replica)
        return replica.start(timeout=30)

    yield make
    for replica in replicas:
        replica.close()


# -- processes ------------------------------------------------------------------------------------
class Child:
    """An ``aurora-lite`` command run as a child process; its stdout lines are collected by a
    thread and waited for with a deadline; ``stop`` ends it by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process = subprocess.Popen([sys.executable, "-m", "aurora_lite", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, cwd=ROOT)
        self.pid = self.process.pid
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float = 90) -> str:
        """The rest of the first stdout line starting with ``prefix``."""
        for line in self.seen:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        self.stop()
        raise AssertionError(f"{' '.join(self.args[:1])}: no '{prefix}' line within "
                             f"{timeout:g} s; stderr:\n{self.stderr[-3000:]}")

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if not self.process.stderr.closed:
            self.stderr = self.process.stderr.read()
            self.process.stderr.close()


@pytest.fixture
def children():
    started: list[Child] = []

    def start(*args: str) -> Child:
        child = Child(*args)
        started.append(child)
        return child

    yield start
    for child in reversed(started):
        child.stop()


def remote(address: str, **options):
    return aurora_lite.connect(f"postgresql://tester@{address}/db", **options)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
