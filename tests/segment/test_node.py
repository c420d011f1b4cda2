"""The storage node end to end over TCP (nodes served in-process by one trio loop): the
handshake, bad clients, write batches and acks, pipelining, group commit, epochs and fencing,
truncation, pages, BEHIND, FETCH_RECORDS, horizons and STATUS."""

from __future__ import annotations

import json
import random

import pytest
import trio

from aurora_lite.errors import OperationalError, StaleEpochError
from aurora_lite.membership import load_secret
from aurora_lite.segment import NodeClient, RemoteError
from aurora_lite.wire import (
    HEADER_SIZE, MAX_FRAME, ErrorCode, Fence, FetchRecords, FrameReader, GetPage,
    GetState, MessageType, Ok, Role, Section, SetHorizon, Status, Truncate, WriteAck,
    WriteBatch, answer, decode_message, encode_frame,
)

from tests.segment._nodes import (
    batches, expected_page, in_process, make_cluster, sections, workload,
)

pytestmark = [pytest.mark.trio, pytest.mark.timeout(60)]


async def raw_connect(address: str):
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    reader = FrameReader()
    frames = await read_frames(stream, reader)
    assert frames[0][0] == MessageType.CHALLENGE
    return stream, reader, decode_message(*frames[0][::2])


async def read_frames(stream, reader) -> list:
    with trio.fail_after(5):
        while True:
            data = await stream.receive_some(1 << 16)
            if not data:
                return []
            frames = reader.feed(data)
            if frames:
                return frames


async def closed(stream) -> bool:
    """True once the node closed the connection (EOF, after any ERROR it sent)."""
    with trio.fail_after(5):
        while True:
            try:
                data = await stream.receive_some(1 << 16)
            except trio.BrokenResourceError:
                return True
            if not data:
                return True


async def status(client) -> dict:
    return json.loads((await client.request(Status())).json_text)


async def test_authentication(tmp_path):
    config = make_cluster(tmp_path)
    async with in_process(config, nodes={1}) as cluster:
        client = await cluster.client(1)
        assert client.node_id == 1
        assert (await status(client))["node_id"] == 1
        # Wrong secret: the node answers NOT_AUTHENTICATED and closes the connection.
        with pytest.raises(RemoteError, match="NOT_AUTHENTICATED") as info:
            await NodeClient.connect(config.node(1).address, b"x" * 32, timeout=5)
        assert info.value.code == ErrorCode.NOT_AUTHENTICATED
        stream, _reader, challenge = await raw_connect(config.node(1).address)
        auth = answer(b"y" * 32, challenge, Role.WRITER)
        await stream.send_all(encode_frame(MessageType.AUTH, auth.encode()))
        assert await closed(stream)
        # A request before AUTH closes the connection too.
        stream, _reader, _challenge = await raw_connect(config.node(1).address)
        await stream.send_all(encode_frame(MessageType.STATUS, b"", 1))
        assert await closed(stream)
        # A client that fails to prove itself is not let in with a replayed MAC either.
        stream, _reader, challenge2 = await raw_connect(config.node(1).address)
        await stream.send_all(encode_frame(MessageType.AUTH, auth.encode()))
        assert await closed(stream)
        stats = await status(client)
        assert stats["auth_failures"] >= 3
        # The first client was never disturbed.
        assert (await client.request(GetState(0))).epoch == 0


@pytest.mark.parametrize("bad", ["oversized", "crc", "magic", "malformed", "unknown-type"])
async def test_bad_frames_close_only_that_connection(tmp_path, bad):
    config = make_cluster(tmp_path)
    secret = load_secret(config.path)
    async with in_process(config, nodes={1}) as cluster:
        good = await cluster.client(1)
        stream, reader, challenge = await raw_connect(config.node(1).address)
        auth = answer(secret, challenge, Role.WRITER)
        await stream.send_all(encode_frame(MessageType.AUTH, auth.encode()))
        assert (await read_frames(stream, reader))[0][0] == MessageType.AUTH_OK
        frame = bytearray(encode_frame(MessageType.STATUS, b"", 5))
        if bad == "oversized":
            # Only the header is sent: the length alone must get the connection closed.
            frame[4:8] = (MAX_FRAME + 1).to_bytes(4, "little")
            frame = frame[:HEADER_SIZE]
        elif bad == "crc":
            frame = bytearray(encode_frame(MessageType.GET_STATE, bytes(8), 5))
            frame[-1] ^= 1
        elif bad == "magic":
            frame[0:2] = b"XX"
        elif bad == "malformed":
            frame = bytearray(encode_frame(MessageType.FENCE, b"\x01\x02\x03", 5))
        else:
            frame = bytearray(encode_frame(99, b"", 5))
        await stream.send_all(bytes(frame))
        assert await closed(stream)
        # Everyone else is still served, and the node counted the violation.
        stats = await status(good)
        assert stats["protocol_errors"] == 1
        client = await cluster.client(1)
        assert (await client.request(GetState(0))).pgs == ()


async def test_write_batches_frontiers_acks_and_pages(tmp_path):
    seed = 1234
    print("seed", seed)
    config = make_cluster(tmp_path)
    load = workload(seed, 12)
    log = bytes(load.log)
    async with in_process(config, nodes={1}) as cluster:
        client = await cluster.client(1)
        # Pipelined: every batch in flight at once, answered by request id.
        work = batches(log, 0, 7)
        ids = [await client.send(batch) for batch in work]
        replies = {}
        while len(replies) < len(ids):
            request_id, reply = await client.receive()
            replies[request_id] = reply
        last = load.last_lsn
        for request_id, batch in zip(ids, work):
            reply = replies[request_id]
            assert isinstance(reply, WriteAck)
            end = batch.sections[0].end
            # SCL covers the batch: frontiers lift idle PGs too (Q1, Q3).
            assert [pg for pg, _ in reply.scls] == [0, 1, 2]
            assert all(scl >= end for _pg, scl in reply.scls)
        assert dict(replies[ids[-1]].scls) == {0: last, 1: last, 2: last}
        # Pages equal the reference applier's at every transaction end.
        for read_point in load.txn_ends[::3] + [load.txn_ends[-1]]:
            for page_id in range(9):
                page = await client.request(GetPage(0, page_id // 4, page_id, read_point))
                assert page.data == expected_page(log, page_id, read_point), \
                    (page_id, read_point)
        # BEHIND above SCL; a page of another PG is a bad request.
        with pytest.raises(RemoteError, match="BEHIND"):
            await client.request(GetPage(0, 0, 1, last + 1))
        with pytest.raises(RemoteError, match="BAD_REQUEST"):
            await client.request(GetPage(0, 1, 1, last))
        # FETCH_RECORDS: a frontier range no further than SCL, cut by max_bytes.
        records = await client.request(FetchRecords(0, 1, 0, last + 50, 1 << 20))
        assert (records.start, records.end) == (0, last)
        assert records.records == sections(log, 0, last)[1].records
        small = await client.request(FetchRecords(0, 1, 0, last, 200))
        assert 0 < small.end < last and len(small.records) < 400
        assert small.records == sections(log, 0, small.end)[1].records
        rest = await client.request(FetchRecords(0, 1, small.end, last, 1 << 20))
        assert small.records + rest.records == records.records
        # A gap: a batch whose frontier starts above SCL is held, and SCL does not move.
        ahead = WriteBatch(0, (Section(0, last + 10, last + 20, b""),))
        ack = await client.request(ahead)
        assert ack.scls == ((0, last),)
        closing = await client.request(WriteBatch(0, (Section(0, last, last + 10, b""),)))
        assert closing.scls == ((0, last + 20),)


async def test_group_commit_across_connections(tmp_path):
    config = make_cluster(tmp_path, pg_size=4096)        # one PG: one log to fsync
    load = workload(7, 30)
    log = bytes(load.log)
    work = [WriteBatch(0, sections(log, low, low + 1, 4096, (0,)))
            for low in range(0, load.last_lsn)]
    async with in_process(config, nodes={1}) as cluster:
        await cluster.stop(1)
        await cluster.start(1, fsync=True)      # real fsyncs: rounds take disk time
        first, second = await cluster.client(1), await cluster.client(1)
        await first.request(work.pop(0))         # creates the segments (their own fsyncs)
        before = await status(first)

        async def send_all(client, mine):
            ids = [await client.send(batch) for batch in mine]
            for _ in ids:
                _rid, reply = await client.receive()
                assert isinstance(reply, WriteAck), reply

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_all, first, work[0::2])
            nursery.start_soon(send_all, second, work[1::2])
        after = await status(first)
        batch_count = after["batches"] - before["batches"]
        rounds = after["group_commits"] - before["group_commits"]
        fsyncs = after["fsyncs"] - before["fsyncs"]
        print(f"{batch_count} batches, {rounds} group commits, {fsyncs} fsyncs")
        assert batch_count == len(work)
        assert rounds < batch_count
        # One round fsyncs the log once whatever the number of batches in it, plus the SCL
        # checkpoint when SCL stops short of the newest record (the two connections' batches
        # interleave, so one can arrive ahead of a gap) and a directory fsync per new file.
        assert fsyncs <= 2 * rounds + 2
        assert fsyncs < batch_count
        assert after["pgs"]["0"]["durable_scl"] == load.last_lsn


async def test_fence_stale_epoch_and_truncate(tmp_path):
    config = make_cluster(tmp_path)
    load = workload(11, 12)
    log = bytes(load.log)
    last = load.last_lsn
    async with in_process(config, nodes={1}) as cluster:
        client = await cluster.client(1)
        for batch in batches(log, 1, 25):
            await client.request(batch)
        state = await client.request(Fence(2))
        assert state.epoch == 2
        by_pg = {p.pg: p for p in state.pgs}
        assert sorted(by_pg) == [0, 1, 2]
        assert by_pg[0].scl == last and by_pg[0].last_txn_end == load.txn_ends[-1]
        assert by_pg[0].max_lsn <= last
        # Invariant 6 / Q6: every request of an older epoch is refused from now on.
        for stale in (batches(log, 1, 25)[0], GetPage(1, 0, 0, 5), Fence(1), Truncate(1, 5),
                      SetHorizon(1, 5), FetchRecords(1, 0, 0, 5, 100)):
            with pytest.raises(StaleEpochError, match="epoch 2"):
                await client.request(stale)
        # Even after a restart: the epoch is persisted before FENCE answers.
        await cluster.stop(1)
        await cluster.start(1)
        client = await cluster.client(1)
        with pytest.raises(StaleEpochError):
            await client.request(WriteBatch(1, ()))
        # TRUNCATE drops everything above the durable point, records (epoch, lsn).
        durable = load.txn_ends[len(load.txn_ends) // 2]
        assert isinstance(await client.request(Truncate(3, durable)), Ok)
        state = await client.request(GetState(0))
        assert state.epoch == 3
        for entry in state.pgs:
            assert entry.scl == durable and entry.max_lsn <= durable
            assert (entry.truncation_epoch, entry.truncation_lsn) == (3, durable)
        page = await client.request(GetPage(3, 0, 0, durable))
        assert page.data == expected_page(log, 0, durable)
        with pytest.raises(RemoteError, match="BEHIND"):
            await client.request(GetPage(3, 0, 0, durable + 1))
        # The writer resumes above the truncation: a batch with start = durable continues.
        ack = await client.request(WriteBatch(3, (Section(0, durable, last + 100, b""),)))
        assert ack.scls == ((0, last + 100),)


async def test_unknown_pg_and_roles(tmp_path):
    config = make_cluster(tmp_path, nodes=7)
    async with in_process(config, nodes={7}) as cluster:
        client = await cluster.client(7)
        # PG 0 lives on nodes 1..6 (positions 0..5), not on node 7.
        with pytest.raises(RemoteError, match="UNKNOWN_PG"):
            await client.request(WriteBatch(0, (Section(0, 0, 5, b""),)))
        with pytest.raises(RemoteError, match="UNKNOWN_PG"):
            await client.request(GetPage(0, 0, 1, 0))
        assert (await client.request(WriteBatch(0, (Section(1, 0, 5, b""),)))).scls == ((1, 5),)
        tool = await cluster.client(7, role=Role.TOOL)
        with pytest.raises(RemoteError, match="only from the writer"):
            await tool.request(Fence(9))
        assert (await tool.request(GetState(0))).epoch == 0


async def test_horizon_materializes_in_the_background(tmp_path):
    config = make_cluster(tmp_path)
    load = workload(5, 15)
    log = bytes(load.log)
    async with in_process(config, nodes={1}, materialize_interval=0.05) as cluster:
        client = await cluster.client(1)
        for batch in batches(log, 0, 30):
            await client.request(batch)
        horizon = load.txn_ends[-2]
        assert isinstance(await client.request(SetHorizon(0, horizon)), Ok)
        with trio.fail_after(20):
            while (await status(client))["pgs"]["0"]["materialized_lsn"] < horizon:
                await trio.sleep(0.05)
        for read_point in (horizon, load.txn_ends[-1]):
            for page_id in range(9):
                page = await client.request(GetPage(0, page_id // 4, page_id, read_point))
                assert page.data == expected_page(log, page_id, read_point)
        # Records below the materialized LSN are gone from the log: FETCH_RECORDS says so.
        with pytest.raises(RemoteError, match="TOO_OLD"):
            await client.request(FetchRecords(0, 0, 0, horizon, 1 << 20))


async def test_random_pipelined_batches(tmp_path):
    """Random cuts of a history, sent on three connections in a random order (duplicates
    included): SCL ends at the last LSN and every page matches the reference."""
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    config = make_cluster(tmp_path)
    load = workload(seed, 15)
    log = bytes(load.log)
    cuts = sorted(rng.sample(range(1, load.last_lsn), 12)) + [load.last_lsn]
    work = [WriteBatch(0, sections(log, low, high)) for low, high in zip([0] + cuts, cuts)]
    work += rng.sample(work, 4)
    rng.shuffle(work)
    async with in_process(config, nodes={1}) as cluster:
        clients = [await cluster.client(1) for _ in range(3)]

        async def send(client, mine):
            for batch in mine:
                reply = await client.request(batch)
                assert isinstance(reply, WriteAck)

        async with trio.open_nursery() as nursery:
            for index, client in enumerate(clients):
                nursery.start_soon(send, client, work[index::3])
        state = await clients[0].request(GetState(0))
        assert {p.pg: p.scl for p in state.pgs} == {0: load.last_lsn, 1: load.last_lsn,
                                                   2: load.last_lsn}
        for page_id in range(9):
            page = await clients[0].request(GetPage(0, page_id // 4, page_id,
                                                    load.txn_ends[-1]))
            assert page.data == expected_page(log, page_id, load.txn_ends[-1])


async def test_client_errors_name_the_node(tmp_path):
    config = make_cluster(tmp_path)
    with pytest.raises(OperationalError, match="cannot connect"):
        await NodeClient.connect(config.node(1).address, load_secret(config.path), timeout=2)
