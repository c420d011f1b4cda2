"""The cluster commands as a new user runs them, each in its own process:

* ``aurora-lite cluster start DIR`` on an empty directory creates the cluster, starts six
  nodes in the background and returns; ``cluster status DIR --json`` is an object with a
  ``segments`` list (node, pid, address, up, and SCL per PG); ``cluster stop DIR`` stops every
  PID it reported;
* the nodes that an embedded ``aurora_lite.connect(DIR)`` started are stopped when that
  process exits, even though it never called close().

Every process is stopped by PID in ``finally`` (``stop_cluster`` signals only PIDs whose
command line names this cluster), and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import aurora_lite
from aurora_lite.cluster import stop_cluster

pytestmark = pytest.mark.timeout(300)

GONE_WITHIN = 15.0


def cli(*args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurora_lite", *args], capture_output=True,
                          text=True, timeout=timeout)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has stopped running)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout: float = GONE_WITHIN) -> list[int]:
    """The PIDs still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def status_json(directory: str) -> tuple[int, dict]:
    result = cli("cluster", "status", directory, "--json", timeout=60)
    return result.returncode, json.loads(result.stdout)


def _cleanup(directory: str) -> None:
    if os.path.exists(os.path.join(directory, "cluster.json")):
        stop_cluster(directory, timeout=5)


def test_start_status_stop_from_an_empty_directory(tmp_path):
    directory = str(tmp_path / "fresh")
    os.mkdir(directory)                                    # empty
    try:
        began = time.monotonic()
        started = cli("cluster", "start", directory, "--no-fsync")
        assert started.returncode == 0, started.stderr
        print(f"cluster start returned after {time.monotonic() - began:.1f} s")
        with open(os.path.join(directory, "cluster.json")) as handle:
            addresses = {node["node_id"]: node["address"] for node in json.load(handle)["nodes"]}
        code, status = status_json(directory)
        assert code == 0
        segments = status["segments"]
        assert [entry["node"] for entry in segments] == [1, 2, 3, 4, 5, 6]
        pids = [entry["pid"] for entry in segments]
        for entry in segments:
            assert {"node", "pid", "address", "up", "scl"} <= set(entry)
            assert entry["up"] is True and isinstance(entry["pid"], int) and alive(entry["pid"])
            assert entry["address"] == addresses[entry["node"]]
            assert entry["address"].startswith("127.0.0.1:")      # loopback by default
            assert entry["scl"] == {}                              # nothing written yet
        assert len(set(pids)) == 6
        # The start command returned, the nodes run on as background services; a writer in
        # this process attaches to them (it starts none) and writes.
        connection = aurora_lite.connect(directory, storage="cluster")
        try:
            connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            connection.execute("INSERT INTO t VALUES (1)")
            connection.commit()
        finally:
            connection.close()
        code, status = status_json(directory)
        assert code == 0
        assert [entry["pid"] for entry in status["segments"]] == pids
        for entry in status["segments"]:
            assert set(entry["scl"]) == {"0"}                      # per PG: PG 0
            assert isinstance(entry["scl"]["0"], int) and entry["scl"]["0"] > 0
        # The SCLs agree once the writer has closed (every node got every batch).
        assert len({entry["scl"]["0"] for entry in status["segments"]}) <= 2
        stopped = cli("cluster", "stop", directory, timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped 6 node(s)" in stopped.stdout
        assert wait_gone(pids) == []
        code, status = status_json(directory)
        assert code == 1
        assert [(entry["up"], entry["pid"]) for entry in status["segments"]] == \
            [(False, None)] * 6
    finally:
        _cleanup(directory)


CHILD = r"""
import json, sys
import aurora_lite
from aurora_lite.cluster import cluster_status
connection = aurora_lite.connect(sys.argv[1], storage="cluster")
connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
connection.execute("INSERT INTO t VALUES (1)")
connection.commit()
segments = cluster_status(sys.argv[1])["segments"]
print(json.dumps({"pids": [entry["pid"] for entry in segments],
                  "up": [entry["up"] for entry in segments]}), flush=True)
# ... and exit without connection.close()
"""


def test_embedded_connect_stops_its_nodes_at_exit_without_close(tmp_path):
    directory = str(tmp_path / "embedded")
    try:
        began = time.monotonic()
        child = subprocess.run([sys.executable, "-c", CHILD, directory], capture_output=True,
                               text=True, timeout=180)
        exited = time.monotonic()
        assert child.returncode == 0, child.stderr[-3000:]
        report = json.loads(child.stdout.strip().splitlines()[-1])
        pids = report["pids"]
        assert report["up"] == [True] * 6 and all(isinstance(pid, int) for pid in pids)
        left = wait_gone(pids)
        print(f"child ran {exited - began:.1f} s; its 6 nodes gone "
              f"{time.monotonic() - exited:.2f} s after it exited")
        assert left == [], f"nodes still running after the process that started them " \
                           f"exited: {left}"
        # Nothing was lost by the exit: reopening finds the row (and restarts the nodes).
        connection = aurora_lite.connect(directory, storage="cluster")
        try:
            assert connection.execute("SELECT id FROM t").fetchall() == [(1,)]
        finally:
            connection.close()
    finally:
        _cleanup(directory)
