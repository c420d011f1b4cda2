"""The local cluster launcher with real node processes: start, status (text and JSON), attach
from another process, kill -9 and restart a node (it catches up from its peers), wipe a node's
data directory (rebuilt from peers), stop by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import trio

from aurora_lite.cluster import ensure_cluster, stop_cluster
from aurora_lite.segment import NodeClient
from aurora_lite.wire import GetPage, GetState, WriteAck

from tests.segment._nodes import PG_SIZE, batches, expected_page, workload

pytestmark = pytest.mark.timeout(300)

NODE_ARGS = ("--no-fsync", "--gossip-interval", "0.2", "--gap-wait", "0.2")


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurora_lite", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("cluster"))
    handle = ensure_cluster(directory, pg_size=PG_SIZE, node_args=NODE_ARGS)
    try:
        yield handle
    finally:
        handle.close()
        for process in handle.processes.values():      # whoever started them
            pid = process.pid
            if pid is not None:
                os.kill(pid, signal.SIGKILL)


def run(coroutine, *args):
    return trio.run(coroutine, *args)


async def write(handle, node_ids, work) -> None:
    for node_id in node_ids:
        client = await NodeClient.connect(handle.config.node(node_id).address, handle.secret,
                                          timeout=10)
        for batch in work:
            assert isinstance(await client.request(batch), WriteAck)
        await client.aclose()


async def wait_caught_up(handle, node_id: int, lsn: int, timeout: float = 30) -> None:
    client = await NodeClient.connect(handle.config.node(node_id).address, handle.secret,
                                      timeout=10)
    with trio.fail_after(timeout):
        while True:
            state = await client.request(GetState(0))
            if len(state.pgs) == 3 and min(p.scl for p in state.pgs) >= lsn:
                break
            await trio.sleep(0.1)
    await client.aclose()


async def check_pages(handle, node_id: int, log: bytes, read_point: int) -> None:
    client = await NodeClient.connect(handle.config.node(node_id).address, handle.secret,
                                      timeout=10)
    for page_id in range(9):
        page = await client.request(GetPage(0, page_id // 4, page_id, read_point))
        assert page.data == expected_page(log, page_id, read_point)
    await client.aclose()


def test_status_text_and_json(cluster):
    status = cluster.status()
    assert [entry["node"] for entry in status["segments"]] == [1, 2, 3, 4, 5, 6]
    for entry in status["segments"]:
        assert entry["up"] and entry["pid"] == cluster.node_process(entry["node"]).pid
        assert entry["address"] == cluster.config.node(entry["node"]).address
        assert entry["epoch"] == 0 and isinstance(entry["scl"], dict)
    result = cli("cluster", "status", cluster.directory, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {entry["node"]: entry["pid"] for entry in document["segments"]} == \
        {entry["node"]: entry["pid"] for entry in status["segments"]}
    assert set(document["segments"][0]) >= {"node", "pid", "address", "up", "scl"}
    text = cli("cluster", "status", cluster.directory)
    assert text.returncode == 0 and "SCL per PG" in text.stdout
    assert len([line for line in text.stdout.splitlines() if " yes " in line]) == 6


def test_second_connect_attaches(cluster):
    """connect(DIR) from another process (and `cluster start`) finds the nodes running and
    attaches instead of starting a second cluster."""
    pids = {node_id: process.pid for node_id, process in cluster.processes.items()}
    code = ("import json, sys; from aurora_lite.cluster import connect; h = connect(sys.argv[1]);"
            " print(json.dumps({'owned': h.owned, 'pids': {n: p.pid for n, p in "
            "h.processes.items()}})); h.close()")
    result = subprocess.run([sys.executable, "-c", code, cluster.directory],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["owned"] is False
    assert {int(n): p for n, p in answer["pids"].items()} == pids
    started = cli("cluster", "start", cluster.directory)
    assert started.returncode == 0, started.stderr
    # Still the same processes, still running after the other process went away.
    assert {node_id: process.pid for node_id, process in cluster.processes.items()} == pids


def test_kill_9_and_restart_catches_up(cluster):
    load = workload(77, 12)
    log = bytes(load.log)
    work = batches(log, 0, 15)
    run(write, cluster, range(1, 7), work[:2])
    victim = cluster.node_process(4)
    old_pid = victim.pid
    victim.kill()                      # kill -9
    assert victim.pid is None
    run(write, cluster, [1, 2, 3, 5, 6], work[2:])
    victim.start()
    victim.wait_ready(120)
    assert victim.pid not in (None, old_pid)
    run(wait_caught_up, cluster, 4, load.last_lsn)
    run(check_pages, cluster, 4, log, load.txn_ends[-1])


def test_wiped_node_rebuilds(cluster):
    victim = cluster.node_process(5)
    victim.stop()
    victim.wipe()
    assert not os.path.exists(cluster.config.node(5).data)
    victim.start()
    victim.wait_ready(120)
    states = run(_states, cluster)
    target = min(p.scl for p in states[1].pgs)
    run(wait_caught_up, cluster, 5, target)


async def _states(handle):
    out = {}
    for node_id in (1,):
        client = await NodeClient.connect(handle.config.node(node_id).address, handle.secret,
                                          timeout=10)
        out[node_id] = await client.request(GetState(0))
        await client.aclose()
    return out


def test_stop_by_pid(cluster):
    pids = [process.pid for process in cluster.processes.values()]
    result = cli("cluster", "stop", cluster.directory)
    assert result.returncode == 0, result.stderr
    assert "stopped 6 node(s)" in result.stdout
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z"
    status = cli("cluster", "status", cluster.directory, "--json")
    assert status.returncode == 1
    assert not any(entry["up"] for entry in json.loads(status.stdout)["segments"])
    assert stop_cluster(cluster.directory) == []
