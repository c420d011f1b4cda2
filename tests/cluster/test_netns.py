"""More than one host: a storage node in another Linux network namespace (its own network
stack, reached over a veth pair on a private subnet) serves batches, is cut off (link down)
while the others go on, and catches up by gossip once the link is back.

Skipped, with the reason, where namespaces cannot be created (not root, no iproute2, no
CAP_SYS_ADMIN). The namespace and the veth pair are removed in a finally.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys

import pytest
import trio

from aurora_lite.errors import OperationalError
from aurora_lite.membership import create_cluster_file
from aurora_lite.segment import NodeClient
from aurora_lite.wire import GetPage, GetState, WriteAck

from tests.segment._nodes import (
    PG_SIZE, InProcessCluster, batches, expected_page, free_ports, workload,
)

pytestmark = pytest.mark.timeout(180)


def _ip(*args: str, namespace: str | None = None) -> subprocess.CompletedProcess:
    command = ["ip", *(("netns", "exec", namespace, "ip") if namespace else ()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


@pytest.fixture
def namespace():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed")
    tag = f"{os.getpid() % 10000:04d}{random.randrange(1 << 16):04x}"
    name, host_if, ns_if = f"alns{tag}", f"alh{tag[-6:]}", f"aln{tag[-6:]}"
    subnet = f"10.213.{random.randrange(256)}"
    created = _ip("netns", "add", name)
    if created.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {created.stderr.strip()}")
    try:
        for args, where in [
                (("link", "add", host_if, "type", "veth", "peer", "name", ns_if), None),
                (("link", "set", ns_if, "netns", name), None),
                (("addr", "add", f"{subnet}.1/24", "dev", host_if), None),
                (("link", "set", host_if, "up"), None),
                (("addr", "add", f"{subnet}.2/24", "dev", ns_if), name),
                (("link", "set", ns_if, "up"), name),
                (("link", "set", "lo", "up"), name)]:
            result = _ip(*args, namespace=where)
            if result.returncode != 0:
                pytest.skip(f"cannot set up the veth pair: ip {' '.join(args)}: "
                            f"{result.stderr.strip()}")
        yield name, host_if, f"{subnet}.1", f"{subnet}.2"
    finally:
        _ip("link", "del", host_if)
        _ip("netns", "del", name)


async def _connect(address: str, secret: bytes, timeout: float) -> NodeClient:
    with trio.fail_after(timeout):
        while True:
            try:
                return await NodeClient.connect(address, secret, timeout=2)
            except OperationalError:
                await trio.sleep(0.2)


def test_node_in_another_namespace(tmp_path, namespace):
    name, host_if, host_ip, ns_ip = namespace
    ports = free_ports(6)
    addresses = [f"{host_ip}:{port}" for port in ports[:5]] + [f"{ns_ip}:{ports[5]}"]
    config = create_cluster_file(tmp_path / "cluster.json", addresses, pg_size=PG_SIZE)
    load = workload(91, 12)
    log = bytes(load.log)
    work = batches(log, 0, 15)
    log_path = tmp_path / "node-6.log"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-m", "aurora_lite", "segment",
             "--config", config.path, "--node-id", "6", "--no-fsync", "--gossip-interval",
             "0.2", "--log-level", "info"], stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        trio.run(_scenario, config, host_if, work, load, log)
    except BaseException:
        print(log_path.read_text()[-3000:])
        raise
    finally:
        process.kill()
        process.wait(timeout=10)


async def _scenario(config, host_if, work, load, log) -> None:
    async with trio.open_nursery() as nursery:
        cluster = InProcessCluster(config, nursery, gossip_interval=0.2)
        for node_id in range(1, 6):
            await cluster.start(node_id)
        remote = await _connect(config.node(6).address, cluster.secret, 90)
        assert remote.node_id == 6
        local = [await cluster.client(n) for n in range(1, 6)]
        # The node across the veth serves batches like any other.
        for batch in work[:2]:
            for client in [*local, remote]:
                assert isinstance(await client.request(batch), WriteAck)
        # Cut it off: the others go on without it.
        assert _ip("link", "set", host_if, "down").returncode == 0
        with pytest.raises(OperationalError):
            await NodeClient.connect(config.node(6).address, cluster.secret, timeout=1)
        for batch in work[2:]:
            for client in local:
                assert isinstance(await client.request(batch), WriteAck)
        # Link back up: it catches up from its peers by gossip.
        assert _ip("link", "set", host_if, "up").returncode == 0
        remote = await _connect(config.node(6).address, cluster.secret, 30)
        with trio.fail_after(60):
            while True:
                state = await remote.request(GetState(0), timeout=5)
                if len(state.pgs) == 3 and min(p.scl for p in state.pgs) >= load.last_lsn:
                    break
                await trio.sleep(0.1)
        for page_id in range(9):
            page = await remote.request(GetPage(0, page_id // 4, page_id, load.txn_ends[-1]))
            assert page.data == expected_page(log, page_id, load.txn_ends[-1])
        nursery.cancel_scope.cancel()
