"""Six storage nodes served in this test process (one trio loop in a background thread).

The contract tests run ClusterVolume against real ``SegmentServer``s over loopback TCP, with
the same authentication, batching and quorum logic as against separate processes, without
paying six process start-ups per test. The fault tests (kill -9, bit flips, a second writer)
use real processes (aurora_lite.cluster) instead: tests/volume/test_cluster_faults.py.
"""

from __future__ import annotations

import os
import threading

import trio

from aurora_lite.cluster import free_ports
from aurora_lite.membership import ClusterConfig, create_cluster_file, load_secret
from aurora_lite.segment import SegmentNode, SegmentServer

_START_TIMEOUT = 30.0


class ThreadedCluster:
    """A cluster file in ``directory`` and its nodes, served by a trio loop in a thread."""

    def __init__(self, directory: str | os.PathLike, *, pg_size: int = 4096,
                 fsync: bool = False, **server_options) -> None:
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        self.config: ClusterConfig = create_cluster_file(
            os.path.join(directory, "cluster.json"),
            [f"127.0.0.1:{port}" for port in free_ports("127.0.0.1", 6)], pg_size=pg_size)
        self.secret = load_secret(self.config.path)
        self.fsync = fsync
        self.server_options = dict(gossip_interval=0.2, scrub_interval=0, gap_wait=0.3,
                                   materialize_interval=0.2)
        self.server_options.update(server_options)
        self.servers: dict[int, SegmentServer] = {}
        self._scopes: dict[int, trio.CancelScope] = {}
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,),
                                        name="test-storage-nodes", daemon=True)
        self._thread.start()
        if not started.wait(_START_TIMEOUT):
            raise RuntimeError("the in-process storage nodes did not start")
        for info in self.config.nodes:
            self.start(info.node_id)

    @property
    def path(self) -> str:
        return self.config.path

    def _run(self, started: threading.Event) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                started.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()
        trio.run(main)

    def _call(self, async_fn, *args):
        return trio.from_thread.run(async_fn, *args, trio_token=self._token)

    def start(self, node_id: int) -> None:
        async def start() -> None:
            node = SegmentNode(self.config, node_id, fsync=self.fsync)
            node.open()
            server = SegmentServer(node, self.secret, **self.server_options)

            async def serve(task_status=trio.TASK_STATUS_IGNORED) -> None:
                with trio.CancelScope() as scope:
                    self._scopes[node_id] = scope
                    try:
                        await server.serve(task_status=task_status)
                    finally:
                        node.close()
            await self._nursery.start(serve)
            self.servers[node_id] = server
        self._call(start)

    def stop(self, node_id: int) -> None:
        """Stop one node (its connections drop; its data stays)."""
        async def stop() -> None:
            self._scopes.pop(node_id).cancel()
            self.servers.pop(node_id, None)
            await trio.sleep(0.02)
        self._call(stop)

    def close(self) -> None:
        if self._token is None:
            return
        try:
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        except trio.RunFinishedError:
            pass
        self._thread.join(_START_TIMEOUT)
        self._token = None
