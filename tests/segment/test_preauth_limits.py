"""What an unauthenticated peer can make a storage node hold (wire.md, "Before AUTH").

* Before AUTH completes, a frame header announcing more than PRE_AUTH_MAX_FRAME (4 KiB) bytes
  closes that connection at once - on the 16 header bytes alone, without waiting for (or
  buffering) the payload - while an authenticated client is served on, and its own frames may
  again be as large as MAX_FRAME.
* At most MAX_UNAUTHENTICATED connections may be unauthenticated at once; new ones beyond that
  are closed at once (before CHALLENGE). Idle ones are closed by the handshake timeout, after
  which new clients get in; an authenticated client is never disturbed.

Nodes are served in-process (one trio loop); every wait is bounded.
"""

from __future__ import annotations

import json
import time

import pytest
import trio

from aurora_lite.errors import OperationalError
from aurora_lite.segment import NodeClient
from aurora_lite.segment._server import MAX_UNAUTHENTICATED, PRE_AUTH_MAX_FRAME
from aurora_lite.wire import MessageType, Section, Status, WriteAck, WriteBatch
from aurora_lite.wire._frame import FRAME_HEADER, MAGIC, WIRE_VERSION

from tests.segment._nodes import batches, in_process, make_cluster, workload
from tests.segment.test_node import closed, raw_connect

pytestmark = [pytest.mark.trio, pytest.mark.timeout(60)]

HANDSHAKE_TIMEOUT = 4.0


def header(message_type: int, length: int) -> bytes:
    """Only the 16 header bytes of a frame announcing ``length`` payload bytes."""
    return FRAME_HEADER.pack(MAGIC, WIRE_VERSION, message_type, length, 0, 0)


async def status(client: NodeClient) -> dict:
    return json.loads((await client.request(Status())).json_text)


async def closed_within(stream, seconds: float) -> float:
    """Seconds until the node closed ``stream``; fails if it stays open ``seconds``."""
    started = time.monotonic()
    with trio.fail_after(seconds):
        assert await closed(stream)
    return time.monotonic() - started


async def test_oversized_frame_before_auth_closes_at_once(tmp_path):
    config = make_cluster(tmp_path)
    # A long handshake timeout: a close can only come from the length check.
    async with in_process(config, nodes={1}, handshake_timeout=30.0) as cluster:
        good = await cluster.client(1)
        address = config.node(1).address
        for message_type, length in [(MessageType.AUTH, PRE_AUTH_MAX_FRAME + 1),
                                     (MessageType.AUTH, 1 << 20),
                                     (MessageType.STATUS, 60 << 20)]:
            stream, _reader, _challenge = await raw_connect(address)
            await stream.send_all(header(message_type, length))
            elapsed = await closed_within(stream, 3.0)
            print(f"pre-auth header of {length} bytes: closed after {elapsed * 1000:.0f} ms")
            # The authenticated client is served meanwhile.
            assert (await status(good))["node_id"] == 1
        stats = await status(good)
        assert stats["protocol_errors"] == 3
        assert stats["auth_failures"] == 0
        # After AUTH the limit is MAX_FRAME again: a batch of several frames' worth of
        # pre-auth limit is accepted, on the good connection and on a new one.
        load = workload(2024, 30)
        log = bytes(load.log)
        whole = batches(log, 0, 10**9)[0]
        assert len(whole.encode()) > 4 * PRE_AUTH_MAX_FRAME
        ack = await good.request(whole)
        assert isinstance(ack, WriteAck) and min(scl for _pg, scl in ack.scls) == load.last_lsn
        fresh = await cluster.client(1)
        assert isinstance(await fresh.request(whole), WriteAck)
        await fresh.aclose()
        await good.aclose()


async def test_idle_unauthenticated_connections_are_capped(tmp_path):
    config = make_cluster(tmp_path)
    extra = 40
    async with in_process(config, nodes={1}, handshake_timeout=HANDSHAKE_TIMEOUT) as cluster:
        address = config.node(1).address
        host, port = address.rsplit(":", 1)
        good = await cluster.client(1)
        idle = []
        try:
            started = time.monotonic()
            for _ in range(MAX_UNAUTHENTICATED):
                stream, _reader, _challenge = await raw_connect(address)   # got CHALLENGE
                idle.append(stream)
            # Beyond the cap a connection is closed at once, without a CHALLENGE.
            for _ in range(extra):
                stream = await trio.open_tcp_stream(host, int(port))
                try:
                    with trio.fail_after(2.0):
                        data = b""
                        try:
                            data = await stream.receive_some(1 << 16)
                        except trio.BrokenResourceError:
                            pass
                    assert data == b"", "a connection beyond the cap got a CHALLENGE"
                finally:
                    await stream.aclose()
            assert time.monotonic() - started < HANDSHAKE_TIMEOUT - 0.5, \
                "the flood outlived the handshake timeout: the test proves nothing"
            # The authenticated client is served as ever, writes included.
            batch = WriteBatch(0, (Section(0, 0, 5, b""),))
            assert isinstance(await good.request(batch), WriteAck)
            stats = await status(good)
            assert stats["unauthenticated_refused"] >= extra
            # The idle ones are closed by the handshake timeout; then a new client gets in.
            for stream in idle:
                await closed_within(stream, HANDSHAKE_TIMEOUT + 3.0)
            with trio.fail_after(10):
                while True:
                    try:
                        client = await NodeClient.connect(address, cluster.secret, timeout=2)
                        break
                    except OperationalError:
                        await trio.sleep(0.1)
            assert (await status(client))["node_id"] == 1
            await client.aclose()
            stats = await status(good)
            assert stats["auth_failures"] >= MAX_UNAUTHENTICATED
            print(f"{stats['unauthenticated_refused']} connections refused at the cap of "
                  f"{MAX_UNAUTHENTICATED}; {stats['auth_failures']} timed out")
        finally:
            for stream in idle:
                await stream.aclose()
            await good.aclose()
