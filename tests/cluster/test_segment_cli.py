"""``aurora-lite segment`` refuses to start, naming the problem, on a bad configuration; and
runs a node that a client can use, stopped by PID with SIGTERM (it closes its segments)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import trio

from aurora_lite.membership import load_secret
from aurora_lite.segment import NodeClient
from aurora_lite.wire import GetState, Section, WriteBatch

from tests.segment._nodes import make_cluster

pytestmark = pytest.mark.timeout(120)


def segment(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurora_lite", "segment", *args],
                          capture_output=True, text=True, timeout=60)


def test_bad_configurations_are_named(tmp_path):
    result = segment("--config", str(tmp_path / "missing.json"), "--node-id", "1")
    assert result.returncode == 1 and "missing.json does not exist" in result.stderr
    config = make_cluster(tmp_path)
    result = segment("--config", config.path, "--node-id", "9")
    assert result.returncode == 1 and "node 9 is not in cluster file" in result.stderr
    os.chmod(config.secret_path, 0o640)
    result = segment("--config", config.path, "--node-id", "1")
    assert result.returncode == 1 and "chmod 600" in result.stderr


def test_node_process_serves_and_stops_on_sigterm(tmp_path):
    config = make_cluster(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "aurora_lite", "segment", "--config", config.path, "--node-id",
         "2", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        line = process.stdout.readline()       # "listening on HOST:PORT" (port 0: a free one)
        assert line.startswith("listening on 127.0.0.1:"), process.stderr.read()
        address = line.split()[-1]

        async def use() -> None:
            client = await NodeClient.connect(address, load_secret(config.path), timeout=10)
            ack = await client.request(WriteBatch(0, (Section(1, 0, 7, b""),)))
            assert ack.scls == ((1, 7),)
            assert (await client.request(GetState(0))).pgs[0].scl == 7
            await client.aclose()
        trio.run(use)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert os.path.isdir(os.path.join(config.node(2).data, "pg-00000001"))
