"""Segments repairing themselves from peers (recovery.md R4-R6): a node that was down catches
up by gossip, damaged log records are found (by scrub or by a read) and refetched, a wiped data
directory is rebuilt from a peer's page images and log, and truncations travel by gossip."""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest
import trio

from aurora_lite.redo import RECORD_HEADER, RecordType, record_offsets
from aurora_lite.segment import RemoteError
from aurora_lite.segment._node import pg_directory
from aurora_lite.wire import (
    Fence, FetchRecords, GetPage, GetState, SetHorizon, Status, Truncate, WriteAck,
)

from tests.segment._nodes import batches, expected_page, in_process, make_cluster, workload

pytestmark = [pytest.mark.trio, pytest.mark.timeout(90)]

ALL = range(1, 7)


async def write(cluster, nodes, work) -> None:
    clients = [await cluster.client(n) for n in nodes]
    for batch in work:
        for client in clients:
            assert isinstance(await client.request(batch), WriteAck)


async def wait_scl(cluster, node_id: int, lsn: int, timeout: float = 20.0) -> dict:
    client = await cluster.client(node_id)
    with trio.fail_after(timeout):
        while True:
            state = await client.request(GetState(0))
            scls = {p.pg: p.scl for p in state.pgs}
            if len(scls) == 3 and min(scls.values()) >= lsn:
                return scls
            await trio.sleep(0.05)


async def status(cluster, node_id: int) -> dict:
    client = await cluster.client(node_id)
    return json.loads((await client.request(Status())).json_text)


async def check_pages(cluster, node_id: int, log: bytes, read_point: int,
                      epoch: int = 0) -> None:
    client = await cluster.client(node_id)
    for page_id in range(9):
        page = await client.request(GetPage(epoch, page_id // 4, page_id, read_point))
        assert page.data == expected_page(log, page_id, read_point), (node_id, page_id)


async def test_node_that_was_down_catches_up(tmp_path):
    config = make_cluster(tmp_path)
    load = workload(21, 15)
    log = bytes(load.log)
    work = batches(log, 0, 10)
    async with in_process(config) as cluster:
        await write(cluster, ALL, work[:3])
        await cluster.stop(6)
        await write(cluster, range(1, 6), work[3:])
        await cluster.start(6)
        # The writer's next batch reaches node 6 ahead of its gap: the ack waits (bounded)
        # while gossip fills the gap, so it may already carry the caught-up SCL.
        client = await cluster.client(6)
        ack = await client.request(work[-1])
        assert isinstance(ack, WriteAck)
        await wait_scl(cluster, 6, load.last_lsn)
        stats = await status(cluster, 6)
        assert stats["gossip_fetches"] >= 1
        await check_pages(cluster, 6, log, load.txn_ends[-1])


def _flip_a_record(segment_dir: str, rng: random.Random) -> tuple[int, int]:
    """Flip one payload bit of a record in the middle of the segment's log; (lsn, page)."""
    name = sorted(n for n in os.listdir(segment_dir) if n.startswith("redo-"))[0]
    path = os.path.join(segment_dir, name)
    with open(path, "r+b") as handle:
        data = handle.read()
        # A record that changes a page (a read of that page must use it), not a VOID.
        offsets = [32 + o for o in record_offsets(data[32:], path, 32)
                   if RECORD_HEADER.unpack_from(data, 32 + o)[5] != RecordType.VOID]
        offset = offsets[rng.randrange(len(offsets) // 3, 2 * len(offsets) // 3)]
        _crc, length, lsn, _prev, page = RECORD_HEADER.unpack_from(data, offset)[:5]
        handle.seek(offset + length - 1)
        handle.write(bytes([data[offset + length - 1] ^ 0x04]))
    return lsn, page


@pytest.mark.parametrize("found_by", ["scrub", "read"])
async def test_flipped_bit_is_repaired_from_peers(tmp_path, found_by):
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    config = make_cluster(tmp_path)
    load = workload(seed, 15)
    log = bytes(load.log)
    async with in_process(config) as cluster:
        await write(cluster, ALL, batches(log, 0, 40))
        await cluster.stop(2)
        await cluster.start(2, scrub_interval=0.2 if found_by == "scrub" else 0)
        lsn, page_id = _flip_a_record(pg_directory(config.node(2).data, 0), rng)
        print("damaged record", lsn, "of page", page_id)
        if found_by == "read":
            # The damaged record is needed for this page: the read fails (the client asks
            # another segment) and the node repairs itself.
            client = await cluster.client(2)
            with pytest.raises(RemoteError, match="CORRUPTION"):
                await client.request(GetPage(0, 0, page_id, load.last_lsn))
        with trio.fail_after(20):
            while (await status(cluster, 2))["log_repairs"] < 1:
                await trio.sleep(0.05)
        await wait_scl(cluster, 2, load.last_lsn)
        stats = await status(cluster, 2)
        assert stats["damage_found"] >= 1 and stats["gossip_fetches"] >= 1
        await check_pages(cluster, 2, log, load.txn_ends[-1])
        # The log is whole again: a scrub of it finds nothing.
        store = cluster.servers[2].node.store(0)
        assert (await trio.to_thread.run_sync(store.scrub)).clean


async def test_wiped_node_is_rebuilt_from_peers(tmp_path):
    config = make_cluster(tmp_path)
    load = workload(33, 20)
    log = bytes(load.log)
    middle = load.txn_ends[len(load.txn_ends) // 2]
    work = batches(log, 0, 15, end=middle)
    rest = batches(log, 0, 15, start=middle)
    async with in_process(config, materialize_interval=0.05) as cluster:
        await write(cluster, ALL, work)
        horizon = load.txn_ends[len(load.txn_ends) // 2 - 1]
        for node_id in ALL:
            client = await cluster.client(node_id)
            await client.request(SetHorizon(0, horizon))
        with trio.fail_after(20):
            for node_id in ALL:
                while (await status(cluster, node_id))["pgs"]["0"]["materialized_lsn"] < \
                        horizon:
                    await trio.sleep(0.05)
        # The peers no longer hold the log below the horizon: records alone cannot rebuild.
        with pytest.raises(RemoteError, match="TOO_OLD"):
            await (await cluster.client(1)).request(FetchRecords(0, 0, 0, middle, 1 << 20))
        await cluster.stop(3)
        shutil.rmtree(config.node(3).data)
        await cluster.start(3)
        # The volume stays available: the writer goes on writing to all six, node 3 included.
        await write(cluster, ALL, rest)
        await wait_scl(cluster, 3, load.last_lsn)
        stats = await status(cluster, 3)
        assert stats["rebuilds"] >= 1
        assert stats["pgs"]["0"]["materialized_lsn"] >= horizon
        await check_pages(cluster, 3, log, load.txn_ends[-1])
        await check_pages(cluster, 3, log, horizon)


async def test_truncation_travels_by_gossip(tmp_path):
    config = make_cluster(tmp_path)
    load = workload(44, 12)
    log = bytes(load.log)
    durable = load.txn_ends[len(load.txn_ends) // 2]
    async with in_process(config) as cluster:
        await write(cluster, ALL, batches(log, 0, 20))
        await cluster.stop(6)
        for node_id in range(1, 6):
            client = await cluster.client(node_id)
            await client.request(Fence(1))
            await client.request(Truncate(1, durable))
        await cluster.start(6)
        client = await cluster.client(6)
        with trio.fail_after(20):
            while True:
                state = await client.request(GetState(0))
                if state.pgs and state.pgs[0].truncation_epoch == 1:
                    break
                await trio.sleep(0.05)
        assert state.epoch == 1
        for entry in state.pgs:
            assert entry.truncation_lsn == durable
            assert entry.scl == durable and entry.max_lsn <= durable
        await check_pages(cluster, 6, log, durable, epoch=1)
        # Nor did the truncated nodes take node 6's stale records back while it lagged (R3).
        await trio.sleep(0.5)       # a few gossip rounds
        for node_id in ALL:
            state = await (await cluster.client(node_id)).request(GetState(0))
            assert {p.scl for p in state.pgs} == {durable}, node_id
            assert all(p.max_lsn <= durable for p in state.pgs), node_id


async def test_damaged_page_image_is_repaired_from_a_peer(tmp_path):
    config = make_cluster(tmp_path)
    load = workload(55, 15)
    log = bytes(load.log)
    horizon = load.txn_ends[-2]
    async with in_process(config, materialize_interval=0.05) as cluster:
        await write(cluster, ALL, batches(log, 0, 30))
        for node_id in ALL:
            await (await cluster.client(node_id)).request(SetHorizon(0, horizon))
        with trio.fail_after(20):
            for node_id in ALL:
                while (await status(cluster, node_id))["pgs"]["1"]["materialized_lsn"] < \
                        horizon:
                    await trio.sleep(0.05)
        await cluster.stop(2)
        # Page 5 is the second slot of PG 1 (pages 4..7): flip a bit in its image.
        path = os.path.join(pg_directory(config.node(2).data, 1), "pages.dat")
        with open(path, "r+b") as handle:
            handle.seek(2 * 16384 + 1000)
            byte = handle.read(1)
            handle.seek(2 * 16384 + 1000)
            handle.write(bytes([byte[0] ^ 0x01]))
        await cluster.start(2, scrub_interval=0.2)
        with trio.fail_after(20):
            while (await status(cluster, 2))["page_repairs"] < 1:
                await trio.sleep(0.05)
        store = cluster.servers[2].node.store(1)
        assert (await trio.to_thread.run_sync(store.scrub)).clean
        await check_pages(cluster, 2, log, horizon)
        await check_pages(cluster, 2, log, load.txn_ends[-1])
