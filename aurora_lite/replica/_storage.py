"""A replica's read-only client of the storage nodes: GET_PAGE at a read point, hedged.

One connection per node (role REPLICA: a node serves it GET_PAGE and GET_STATE, and refuses
WRITE_BATCH, FENCE, TRUNCATE and SET_HORIZON from it). This client only ever sends GET_PAGE
and GET_STATE: a replica never fences, truncates or writes (replication.md P7).

``read_page(page, read_point)`` asks the segment of the page's protection group that answered
fastest recently; if it does not answer within the hedge delay another one is asked too, and
the first good answer wins (quorum.md Q7: a segment whose SCL is below the read point answers
BEHIND and the next one is asked at once). Any 3 of the 6 segments of a PG can serve a read
point that is durable, so reads go on with 3 nodes down. Every page's CRC32C is checked
(Invariant 5).

Epochs: requests carry the writer epoch the replica follows. A node that already saw a newer
writer answers STALE_EPOCH; the reader then learns that epoch (GET_STATE) and asks again:
a read point announced by the old writer is durable and at or below the new writer's durable
point (recovery.md R2), so reading it in the new epoch is safe, and the replica keeps serving
while it reconnects to the new writer.
"""

from __future__ import annotations

import logging
import math
import time

import trio

from aurora_lite.errors import CorruptionError, OperationalError
from aurora_lite.membership import ClusterConfig
from aurora_lite.page import OFF_CHECKSUM, verify
from aurora_lite.replica._channel import Channel, ChannelClosed, connect
from aurora_lite.wire import Error, ErrorCode, GetPage, GetState, Page, Role, SegmentState

log = logging.getLogger("aurora_lite.replica")


class SnapshotTooOld(OperationalError):
    """Storage no longer keeps the pages as of this read point (it passed the horizon)."""

    sqlstate = "72000"


class _Link:
    """One pipelined connection to a node, kept up by ``run`` (reconnects with backoff)."""

    def __init__(self, node_id: int, address: str, secret: bytes, cluster_id: bytes,
                 connect_timeout: float) -> None:
        self.node_id = node_id
        self.address = address
        self._secret = secret
        self._cluster_id = cluster_id
        self.connect_timeout = connect_timeout
        self.channel: Channel | None = None
        self._pending: dict[int, list] = {}
        self._next_id = 1
        self.latency = 0.0          # EWMA of GET_PAGE round trips (0: unknown)
        self.last_error = ""
        self.reconnects = 0
        self._connected = trio.Event()

    @property
    def ready(self) -> bool:
        return self.channel is not None

    async def run(self) -> None:
        backoff = 0.02
        while True:
            try:
                channel = await connect(self.address, self._secret, Role.REPLICA,
                                        cluster_id=self._cluster_id,
                                        timeout=self.connect_timeout)
            except (OperationalError, OSError) as exc:
                self.last_error = f"connect: {exc}"
                await trio.sleep(backoff)
                backoff = min(0.5, backoff * 2)
                continue
            backoff = 0.02
            self.channel = channel
            self._connected.set()
            try:
                while True:
                    request_id, message = await channel.receive()
                    slot = self._pending.pop(request_id, None)
                    if slot is not None:
                        slot[1] = message
                        slot[0].set()
            except (OperationalError, OSError) as exc:
                self.last_error = str(exc)
            finally:
                self.channel = None
                self._connected = trio.Event()
                self.reconnects += 1
                pending, self._pending = self._pending, {}
                for slot in pending.values():
                    slot[1] = ChannelClosed(f"node {self.node_id}: {self.last_error}")
                    slot[0].set()
                with trio.CancelScope(shield=True):
                    await channel.aclose()

    async def call(self, message, timeout: float):
        channel = self.channel
        if channel is None:
            raise ChannelClosed(f"node {self.node_id} is not connected ({self.last_error})")
        request_id = self._next_id
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        slot = [trio.Event(), None]
        self._pending[request_id] = slot
        started = time.perf_counter()
        try:
            await channel.send(message, request_id)
            with trio.move_on_after(timeout):
                await slot[0].wait()
        finally:
            self._pending.pop(request_id, None)
        if not slot[0].is_set():
            raise ChannelClosed(f"node {self.node_id} did not answer within {timeout:g} s")
        reply = slot[1]
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(message, GetPage):
            elapsed = time.perf_counter() - started
            self.latency = elapsed if not self.latency else 0.8 * self.latency + 0.2 * elapsed
        return reply

    def penalize(self, seconds: float) -> None:
        self.latency = max(2 * self.latency, 2 * seconds)

    async def wait_connected(self, timeout: float = math.inf) -> bool:
        with trio.move_on_after(timeout):
            await self._connected.wait()
        return self.ready


class StorageReader:
    """Read-only page reads from the segments of ``config`` (runs on a trio loop)."""

    def __init__(self, config: ClusterConfig, secret: bytes, *, hedge_delay: float = 0.02,
                 hedge_max: float = 0.25, read_timeout: float = 10.0,
                 connect_timeout: float = 2.0) -> None:
        self.config = config
        self.hedge_delay = hedge_delay
        self.hedge_max = hedge_max
        self.read_timeout = read_timeout
        self.epoch = 0
        self.links = {node.node_id: _Link(node.node_id, node.address, secret,
                                          config.cluster_id_bytes, connect_timeout)
                      for node in config.nodes}
        self.counters = dict(page_reads=0, hedges=0, retries=0, stale_epochs=0, too_old=0)

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for link in self.links.values():
                nursery.start_soon(link.run)
            task_status.started()

    def _typical_latency(self) -> float:
        latencies = sorted(link.latency for link in self.links.values() if link.latency)
        return latencies[len(latencies) // 2] if latencies else 0.0

    def _hedge(self) -> float:
        return min(self.hedge_max, max(self.hedge_delay, 4 * self._typical_latency()))

    async def read_page(self, page_id: int, read_point: int) -> bytearray:
        """The page as of ``read_point`` (a durable transaction end)."""
        pg = page_id // self.config.pg_size
        placement = [node.node_id for node in self.config.nodes_of(pg)]
        self.counters["page_reads"] += 1
        deadline = trio.current_time() + self.read_timeout
        failures: list[str] = []
        too_old = 0
        while True:
            outcome = await self._round(placement, pg, page_id, read_point, deadline,
                                        failures)
            if isinstance(outcome, bytearray):
                return outcome
            too_old += outcome == "too_old"
            if outcome == "stale" and await self._learn_epoch(placement):
                continue
            if outcome == "too_old" and too_old >= 2:
                self.counters["too_old"] += 1
                raise SnapshotTooOld(f"page {page_id} as of read point {read_point}: storage "
                                     f"no longer keeps it ({'; '.join(failures[-2:])})")
            if trio.current_time() >= deadline:
                raise OperationalError(
                    f"page {page_id} at read point {read_point}: no segment of protection "
                    f"group {pg} answered within {self.read_timeout:g} s "
                    f"({'; '.join(failures[-6:]) or 'none reachable'})")
            await trio.sleep(0.02)

    async def _round(self, placement: list[int], pg: int, page_id: int, read_point: int,
                     deadline: float, failures: list[str]):
        """Ask the ready segments in turn (hedged); a page, or why none gave one."""
        links = self.links
        candidates = sorted((n for n in placement if links[n].ready),
                            key=lambda n: links[n].latency)
        if not candidates:
            failures.append(f"no segment of protection group {pg} is connected")
            return "down"
        send, receive = trio.open_memory_channel(len(candidates))
        reasons: list[str] = []
        async with trio.open_nursery() as nursery:
            pending = 0
            launched = None
            while True:
                if candidates:
                    node = launched = candidates.pop(0)
                    if pending:
                        self.counters["hedges"] += 1
                    pending += 1
                    nursery.start_soon(self._ask, node, pg, page_id, read_point, send)
                if not pending:
                    break
                wait = min(self._hedge(), deadline - trio.current_time()) if candidates \
                    else deadline - trio.current_time()
                if wait <= 0:
                    break
                with trio.move_on_after(wait) as scope:
                    node, result = await receive.receive()
                if scope.cancelled_caught:
                    if launched is not None:
                        # Too slow: it goes behind the others for the next reads too.
                        links[launched].penalize(wait)
                    continue
                pending -= 1
                if isinstance(result, bytearray):
                    nursery.cancel_scope.cancel()
                    return result
                code, text = result
                self.counters["retries"] += 1
                failures.append(f"node {node}: {text}")
                reasons.append(code)
                links[node].penalize(self.hedge_max)
            nursery.cancel_scope.cancel()
        if "stale" in reasons:
            return "stale"
        if reasons and all(code == "too_old" for code in reasons):
            return "too_old"
        return "failed"

    async def _ask(self, node: int, pg: int, page_id: int, read_point: int,
                   send: trio.MemorySendChannel) -> None:
        link = self.links[node]
        try:
            reply = await link.call(GetPage(self.epoch, pg, page_id, read_point),
                                    self.read_timeout)
            if isinstance(reply, Error):
                code = {ErrorCode.STALE_EPOCH: "stale",
                        ErrorCode.TOO_OLD: "too_old"}.get(reply.code, "error")
                result: object = (code, reply.message)
            elif not isinstance(reply, Page) or reply.page_id != page_id:
                result = ("error", f"unexpected answer {type(reply).__name__}")
            else:
                data = bytearray(reply.data)
                verify(data, f"page {page_id} from storage node {node}")   # Invariant 5
                data[OFF_CHECKSUM:OFF_CHECKSUM + 4] = b"\0\0\0\0"
                result = data
        except (OperationalError, CorruptionError, OSError) as exc:
            result = ("error", str(exc))
        try:
            send.send_nowait((node, result))
        except (trio.WouldBlock, trio.ClosedResourceError):
            pass

    async def _learn_epoch(self, placement: list[int]) -> bool:
        """A node saw a newer writer: adopt the newest epoch the nodes report (never to fence:
        a replica's requests only read). True if the epoch moved."""
        self.counters["stale_epochs"] += 1
        newest = self.epoch
        for node in placement:
            link = self.links[node]
            if not link.ready:
                continue
            try:
                state = await link.call(GetState(self.epoch), 2.0)
            except OperationalError:
                continue
            if isinstance(state, SegmentState):
                newest = max(newest, state.epoch)
        if newest > self.epoch:
            log.info("storage holds writer epoch %d (was %d): reading in it", newest,
                     self.epoch)
            self.epoch = newest
            return True
        return False

    async def wait_connected(self, count: int, timeout: float) -> int:
        """Wait (bounded) until ``count`` nodes are connected; return how many are."""
        deadline = trio.current_time() + timeout
        while True:
            ready = sum(link.ready for link in self.links.values())
            if ready >= count or trio.current_time() >= deadline:
                return ready
            await trio.sleep(0.01)

    def statistics(self) -> dict:
        stats: dict = dict(self.counters, epoch=self.epoch)
        stats["nodes"] = {node_id: {"connected": link.ready,
                                    "read_latency_ms": round(link.latency * 1000, 3),
                                    "reconnects": link.reconnects,
                                    "last_error": link.last_error}
                          for node_id, link in self.links.items()}
        return stats


__all__ = ["StorageReader", "SnapshotTooOld"]
