"""More than one host: six storage processes, each in its own Linux network namespace, one of
them cut off mid-workload.

Each node is a real ``aurora-lite segment`` process started with ``ip netns exec`` in a
namespace of its own (its own network stack), reached over a veth pair whose other end is a
port of a bridge in the root namespace. The addresses are ones this test creates on those
interfaces (a random 10.213.X.0/24 not routed here already): the bridge holds .1 (the writer,
in this process, reaches the nodes through it), node N holds .(10+N). The cluster file names
the nodes by those host:port addresses and nothing listens on loopback.

The writer is a real SQL workload through the DB-API: ``aurora_lite.connect(DIR)`` on that
cluster directory (it attaches to the running nodes through their PID files; it starts none),
four threads committing single-row INSERTs concurrently. Mid-workload one node's link is cut
(``ip link set <its bridge port> down``): commits continue on the other five. The link comes
back: the node catches up (its SCL reaches the others') while commits go on, and every
acknowledged row is present at the end.

Skipped, with the reason, where namespaces cannot be made (not root, no iproute2, no
CAP_SYS_ADMIN). Processes are stopped by PID and the namespaces, veth pairs and the bridge
removed in ``finally``; every wait is bounded.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

import aurora_lite
from aurora_lite.cluster import attach
from aurora_lite.cluster._launcher import warm_kernels
from aurora_lite.membership import create_cluster_file

from tests.volume._sqlload import InsertWorkload, random_seed

pytestmark = pytest.mark.timeout(420)

NODES = 6
PORT = 7410
NODE_ARGS = ("--gossip-interval", "0.2", "--gap-wait", "0.2", "--no-fsync",
             "--log-level", "info")


def _ip(*args: str, namespace: str | None = None) -> subprocess.CompletedProcess:
    command = ["ip", *(("netns", "exec", namespace, "ip") if namespace else ()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


class Network:
    """A bridge in the root namespace and one namespace per node, each joined to the bridge
    by a veth pair. Everything it makes it also removes (``close``)."""

    def __init__(self, rng: random.Random) -> None:
        tag = f"{os.getpid() % 1000:03d}{rng.randrange(1 << 12):03x}"
        routes = _ip("-4", "route", "show").stdout + _ip("-4", "addr", "show").stdout
        free = [x for x in range(256) if f"10.213.{x}." not in routes]
        if not free:
            pytest.skip("no free 10.213.X.0/24 subnet on this host")
        self.subnet = f"10.213.{rng.choice(free)}"
        self.bridge = f"albr{tag}"
        self.namespaces = {n: f"alns{tag}n{n}" for n in range(1, NODES + 1)}
        self.ports = {n: f"alh{tag}n{n}" for n in range(1, NODES + 1)}   # bridge side
        self.made_namespaces: list[str] = []
        self.made_links: list[str] = []

    def address(self, node_id: int) -> str:
        return f"{self.subnet}.{10 + node_id}"

    def _run(self, *args: str, namespace: str | None = None) -> None:
        result = _ip(*args, namespace=namespace)
        if result.returncode != 0:
            raise _SetupError(f"ip {' '.join(args)}: {result.stderr.strip()}")

    def build(self) -> None:
        self._run("link", "add", self.bridge, "type", "bridge")
        self.made_links.append(self.bridge)
        self._run("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        self._run("link", "set", self.bridge, "up")
        for node_id, namespace in self.namespaces.items():
            self._run("netns", "add", namespace)
            self.made_namespaces.append(namespace)
            port, inner = self.ports[node_id], f"aln{self.ports[node_id][3:]}"
            self._run("link", "add", port, "type", "veth", "peer", "name", inner)
            self.made_links.append(port)
            self._run("link", "set", inner, "netns", namespace)
            self._run("link", "set", port, "master", self.bridge)
            self._run("link", "set", port, "up")
            self._run("addr", "add", f"{self.address(node_id)}/24", "dev", inner,
                      namespace=namespace)
            self._run("link", "set", inner, "up", namespace=namespace)
            self._run("link", "set", "lo", "up", namespace=namespace)

    def set_link(self, node_id: int, state: str) -> None:
        self._run("link", "set", self.ports[node_id], state)

    def close(self) -> None:
        for namespace in reversed(self.made_namespaces):
            _ip("netns", "del", namespace)            # takes the inner veth ends with it
        for link in reversed(self.made_links):
            if _ip("link", "show", link).returncode == 0:
                _ip("link", "del", link)


class _SetupError(Exception):
    pass


@pytest.fixture
def network():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed")
    net = Network(random.Random(random_seed()))
    try:
        try:
            net.build()
        except _SetupError as exc:
            pytest.skip(f"cannot build the test network: {exc}")
        yield net
    finally:
        net.close()


def _start_nodes(directory: str, config, network: Network) -> dict[int, subprocess.Popen]:
    """One ``aurora-lite segment`` per namespace; PID files where the launcher looks, so that
    connect(DIR) attaches to them (``ip netns exec`` execs the node: same PID)."""
    os.makedirs(os.path.join(directory, "logs"), exist_ok=True)
    os.makedirs(os.path.join(directory, "pids"), exist_ok=True)
    processes = {}
    for node_id, namespace in network.namespaces.items():
        with open(os.path.join(directory, "logs", f"node-{node_id}.log"), "ab") as log:
            processes[node_id] = subprocess.Popen(
                ["ip", "netns", "exec", namespace, sys.executable, "-m", "aurora_lite",
                 "segment", "--config", config.path, "--node-id", str(node_id), *NODE_ARGS],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        with open(os.path.join(directory, "pids", f"node-{node_id}.pid"), "w") as handle:
            handle.write(f"{processes[node_id].pid}\n")
    return processes


def _stop_nodes(processes: dict[int, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _scls(handle, node_id: int) -> dict[int, int] | None:
    status = handle.node_process(node_id).status(timeout=1.0)
    if status is None:
        return None
    return {int(pg): entry["scl"] for pg, entry in status["pgs"].items()}


def _wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} (waited {timeout:g} s)"
        time.sleep(interval)


def test_six_nodes_in_six_namespaces_one_cut_off(tmp_path, network):
    seed = random_seed()
    rng = random.Random(seed)
    victim = rng.randrange(1, NODES + 1)
    others = [n for n in range(1, NODES + 1) if n != victim]
    directory = str(tmp_path / "cluster")
    config = create_cluster_file(
        os.path.join(directory, "cluster.json"),
        [f"{network.address(n)}:{PORT}" for n in range(1, NODES + 1)])
    warm_kernels()
    processes = _start_nodes(directory, config, network)
    handle = attach(directory)
    connections = []
    load = None
    try:
        for node_id in range(1, NODES + 1):
            handle.node_process(node_id).wait_ready(120)
        assert not any(entry["address"].startswith("127.") for entry in handle.status()[
            "segments"])
        setup = aurora_lite.connect(directory, storage="cluster", autocommit=True)
        connections.append(setup)
        setup.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER)")

        def connect():
            connection = aurora_lite.connect(directory, storage="cluster", autocommit=True)
            connections.append(connection)
            return connection
        load = InsertWorkload(None, "n", threads=4, connect=connect).start()
        load.wait_for(40, timeout=60)
        before_cut = _scls(handle, victim)
        assert before_cut and before_cut[0] > 0
        network.set_link(victim, "down")
        cut_at = load.count
        # Cut off: it answers nobody; the others go on taking commits.
        assert handle.node_process(victim).status(timeout=1.0) is None
        load.wait_for(80, timeout=60)
        during = load.count - cut_at
        assert not load.errors, f"commits failed with node {victim} cut off: {load.errors[:3]}"
        behind = {pg: max(_scls(handle, n)[pg] for n in others) for pg in before_cut}
        assert behind[0] > before_cut[0], "the others' SCL did not move while it was cut off"
        network.set_link(victim, "up")
        back_at = time.monotonic()
        # Back: it catches up while commits go on.
        def reached(target: dict[int, int]) -> dict[int, int] | None:
            mine = _scls(handle, victim)
            return mine if mine and all(mine.get(pg, 0) >= scl
                                        for pg, scl in target.items()) else None
        _wait_until(lambda: reached(behind), 90,
                    f"node {victim} did not reach SCL {behind} after its link came back")
        caught_up = time.monotonic() - back_at
        load.wait_for(40, timeout=60)
        load.stop()
        assert not load.errors, f"commits failed: {load.errors[:3]}"

        final = _wait_until(
            lambda: reached({pg: max(_scls(handle, n)[pg] for n in others) for pg in behind}),
            60, f"node {victim} did not reach the others' SCL")
        found = {row[0] for row in setup.execute("SELECT id FROM n").fetchall()}
        missing = load.acknowledged - found
        assert not missing, f"acknowledged rows missing: {sorted(missing)[:10]}"
        print(f"subnet {network.subnet}.0/24; node {victim} cut off after {cut_at} commits, "
              f"{during} commits while it was off; back at SCL {behind} "
              f"{caught_up:.1f} s after the link came up; {load.count} commits in all; final "
              f"SCL {final}")
    except BaseException:
        for node_id in range(1, NODES + 1):
            print(f"--- node {node_id} log ---\n{handle.node_process(node_id).log_tail(12)}")
        raise
    finally:
        if load is not None:
            load.stop()
        for connection in reversed(connections):
            try:
                connection.close()
            except Exception as exc:     # noqa: BLE001 - still stop the nodes
                print(f"closing a connection: {exc}")
        _stop_nodes(processes)
