"""Helpers for storage node tests: a cluster file on free loopback ports, nodes served
in-process (one trio loop), a multi-PG workload and its batches, and the pages to expect."""

from __future__ import annotations

import os
import random
import socket
from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio

from aurora_lite.membership import ClusterConfig, create_cluster_file, load_secret
from aurora_lite.page import seal
from aurora_lite.redo import RECORD_HEADER, record_offsets
from aurora_lite.segment import NodeClient, SegmentNode, SegmentServer
from aurora_lite.volume import LsnAllocator
from aurora_lite.wire import Role, Section, WriteBatch

from tests.volume._workload import Workload, reference_page, reference_pages

PG_SIZE = 4            # pages 0..3 -> PG 0, 4..7 -> PG 1, 8 -> PG 2 (the workload's pages)
ANCHORS = (0, 4, 8)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def make_cluster(directory, nodes: int = 6, pg_size: int = PG_SIZE) -> ClusterConfig:
    return create_cluster_file(os.path.join(directory, "cluster.json"),
                               [f"127.0.0.1:{port}" for port in free_ports(nodes)],
                               pg_size=pg_size)


class MultiPgWorkload(Workload):
    """The storage workload with rollbacks that VOID in every PG (one VOID per anchor page)."""

    def rollback(self, savepoint: int | None = None) -> int:
        whole = savepoint is None
        start = self.txn_start if whole else savepoint

        def build(mtr) -> None:
            for anchor in ANCHORS:
                mtr.void(anchor, start)
        lsn = self.mtr(build, txn_end=whole)
        self.pages = reference_pages(self.log, lsn)
        return lsn


def workload(seed: int, transactions: int = 10) -> MultiPgWorkload:
    load = MultiPgWorkload(LsnAllocator(pg_size=PG_SIZE), lambda *_: None, random.Random(seed))
    load.random_history(transactions)
    return load


def sections(log: bytes, low: int, high: int, pg_size: int = PG_SIZE,
             pgs=(0, 1, 2)) -> tuple[Section, ...]:
    """One section per PG with every record of ``log`` in (low, high]: frontier ranges."""
    per: dict[int, bytearray] = {pg: bytearray() for pg in pgs}
    for offset in record_offsets(log):
        length, lsn, _prev, page = RECORD_HEADER.unpack_from(log, offset)[1:5]
        if low < lsn <= high:
            per[page // pg_size] += log[offset:offset + length]
    return tuple(Section(pg, low, high, bytes(records)) for pg, records in sorted(per.items()))


def batches(log: bytes, epoch: int, step: int, start: int = 0,
            end: int | None = None) -> list[WriteBatch]:
    """The log cut into batches of ``step`` LSNs, each with every PG's section."""
    last = end if end is not None else max(RECORD_HEADER.unpack_from(log, o)[2]
                                            for o in record_offsets(log))
    return [WriteBatch(epoch, sections(log, low, min(low + step, last)))
            for low in range(start, last, step)]


def expected_page(log: bytes, page_id: int, read_point: int) -> bytes:
    page = reference_page(log, page_id, read_point)
    return bytes(seal(bytearray(page))) if any(page) else bytes(page)


class InProcessCluster:
    """Nodes of one cluster file served in this trio loop; each can be stopped and restarted."""

    def __init__(self, config: ClusterConfig, nursery: trio.Nursery, **options) -> None:
        self.config = config
        self.secret = load_secret(config.path)
        self.nursery = nursery
        self.options = dict(gossip_interval=0.2, scrub_interval=0, gap_wait=0.3)
        self.options.update(options)
        self.servers: dict[int, SegmentServer] = {}
        self._scopes: dict[int, trio.CancelScope] = {}

    async def start(self, node_id: int, **options) -> SegmentServer:
        node = SegmentNode(self.config, node_id, fsync=options.pop("fsync", False))
        node.open()
        server = SegmentServer(node, self.secret, **{**self.options, **options})

        async def run(task_status=trio.TASK_STATUS_IGNORED) -> None:
            with trio.CancelScope() as scope:
                self._scopes[node_id] = scope
                try:
                    await server.serve(task_status=task_status)
                finally:
                    node.close()
        await self.nursery.start(run)
        self.servers[node_id] = server
        return server

    async def stop(self, node_id: int) -> None:
        self._scopes.pop(node_id).cancel()
        self.servers.pop(node_id)
        await trio.sleep(0.01)       # let the node's task finish closing its stores

    async def client(self, node_id: int, role: int = Role.WRITER) -> NodeClient:
        return await NodeClient.connect(self.config.node(node_id).address, self.secret,
                                        role=role, timeout=5)


@asynccontextmanager
async def in_process(config: ClusterConfig, nodes=None, **options
                     ) -> AsyncIterator[InProcessCluster]:
    async with trio.open_nursery() as nursery:
        cluster = InProcessCluster(config, nursery, **options)
        for info in config.nodes:
            if nodes is None or info.node_id in nodes:
                await cluster.start(info.node_id)
        try:
            yield cluster
        finally:
            nursery.cancel_scope.cancel()
