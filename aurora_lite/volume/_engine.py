"""The quorum client's I/O engine: everything that runs on the volume's trio thread.

One ``NodeLink`` per storage node, and four tasks:

* the **flusher** takes every MTR buffer submitted since its last round, cuts it into one
  section per PG (``SectionBuilder``; empty sections for idle PGs, Q3), encodes one WRITE_BATCH
  frame per distinct set of PGs (with six nodes, one frame shared by all) and queues it on every
  ready link. Flow control: at most ``max_inflight`` flushes may wait for the write quorum; the
  buffers submitted meanwhile go out together in the next one, which is how commits of many
  threads share one round of segment fsyncs (group commit);
* acknowledgements (``WRITE_ACK``, per-PG SCL) feed the ``DurabilityTracker``
  (SCL -> PGCL -> VCL -> VDL); a new VDL is published to the waiting threads at once;
* the **heartbeat** sends empty sections at the frontier when VCL lags it and nothing else went
  out for ``heartbeat`` seconds: a segment that caught up by gossip answers with its SCL;
* the **horizon** task forwards the newest horizon to every node, at most every
  ``horizon_interval`` seconds.

Reads (``read_page``) go to the segment with a known SCL >= the read point that answered
fastest, hedged to the next one after ``hedge_delay`` and re-sent on BEHIND, errors, bad CRCs
and disconnects (Q7). A node that (re)connects after recovery is fenced, truncated if it missed
the truncation, and its SCLs re-learnt before it receives batches (``handshake``). An ERROR
STALE_EPOCH from any node fences this writer for good (Q6).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import TYPE_CHECKING

import trio

from aurora_lite.errors import CorruptionError, OperationalError, StaleEpochError
from aurora_lite.membership import ClusterConfig
from aurora_lite.page import OFF_CHECKSUM, PAGE_SIZE, verify
from aurora_lite.volume._connections import CALL_ID_BASE, LinkDown, NodeLink, RemoteError
from aurora_lite.volume._quorum import DurabilityTracker
from aurora_lite.volume._sections import SectionBuilder
from aurora_lite.wire import (
    Error, ErrorCode, Fence, GetPage, GetState, MessageType, Page, SegmentState, SetHorizon,
    Status, Truncate, WriteAck, WriteBatch, encode_frame,
)

if TYPE_CHECKING:
    from aurora_lite.volume._cluster import ClusterVolume

_log = logging.getLogger("aurora_lite.volume")
_BATCH_IDS = (1 << 31) - 1


class Engine:
    """State owned by the I/O thread. Only its ``volume`` touches it from other threads, through
    ``trio.from_thread`` / ``run_sync_soon``."""

    def __init__(self, volume: "ClusterVolume", config: ClusterConfig, secret: bytes) -> None:
        self.volume = volume
        self.config = config
        self.options = volume.options
        self.epoch = 0
        self.truncate_point: int | None = None      # D, once recovery truncated
        self.tracker = DurabilityTracker(self._placement)
        self.sections = SectionBuilder(config.pg_size)
        self.links = {
            node.node_id: NodeLink(
                node.node_id, node.host, node.port, secret, config.cluster_id_bytes,
                on_message=self._on_message, on_connect=self.handshake,
                on_down=self._on_down, connect_timeout=self.options.connect_timeout,
                max_outbox=self.options.max_outbox,
                wanted=lambda: self.volume.failure is None)
            for node in config.nodes}
        self.recovered = trio.Event()
        self.recovery_generations: dict[int, int] = {}
        self._flush_wanted = trio.Event()
        self._progress = trio.Event()
        self._horizon_wanted = trio.Event()
        # (frontier end, send time) of flushes above VCL; round trips of the recent ones.
        self._inflight: deque[tuple[int, float]] = deque()
        self.round_trips: deque[float] = deque(maxlen=1024)
        self._last_send = 0.0
        self._batch_id = 0
        self._horizon_sent = 0
        self._previous_frontier = 0     # the frontier before the last flush
        self.counters = dict(flushes=0, heartbeats=0, batch_frames=0, sections=0,
                             page_reads=0, page_read_retries=0, page_read_hedges=0,
                             horizons_sent=0, handshakes=0, handshake_truncations=0,
                             remote_errors=0)

    def _placement(self, pg: int) -> tuple[int, ...]:
        return tuple(node.node_id for node in self.config.nodes_of(pg))

    # -- tasks -----------------------------------------------------------------------------------
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for link in self.links.values():
                nursery.start_soon(link.run)
            nursery.start_soon(self._flusher)
            nursery.start_soon(self._heartbeat)
            nursery.start_soon(self._horizon)
            task_status.started()

    def wake_flusher(self) -> None:
        self._flush_wanted.set()

    def wake_horizon(self) -> None:
        self._horizon_wanted.set()

    def _signal_progress(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    async def wait_progress(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self._progress.wait()

    def _inflight_count(self) -> int:
        vcl = self.tracker.vcl
        inflight = self._inflight
        if inflight and inflight[0][0] <= vcl:
            now = trio.current_time()
            while inflight and inflight[0][0] <= vcl:
                self.round_trips.append(now - inflight.popleft()[1])
        return len(inflight)

    async def _flusher(self) -> None:
        options = self.options
        recent = deque([1], maxlen=4)       # commits carried by the last flushes
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted = trio.Event()
            if self._inflight_count() >= options.max_inflight:
                # Group commit: while the quorum works on earlier flushes, buffers pile up and
                # leave together. The deadline keeps a stalled quorum from stalling the rest
                # (a node that comes back must receive batches to acknowledge anything).
                with trio.move_on_after(options.heartbeat):
                    while self._inflight_count() >= options.max_inflight:
                        await self._progress.wait()
            elif options.group_delay > 0 and max(recent) > 1:
                await self._linger(max(recent), self._group_delay())
            buffers = self.volume.take_queue()
            if buffers and self.volume.failure is None:
                recent.append(sum(1 for _data, _last, end in buffers if end))
                self._flush(buffers)

    def _group_delay(self) -> float:
        """How long an idle quorum waits for the commits it expects: ``group_delay``, or two
        recent quorum round trips if that is longer, at most ``group_delay_max``. The wait
        ends as soon as they are all queued; while segments are this slow (their CPU per
        batch is what limits commits/s), a round saved is worth more than the wait."""
        options = self.options
        trips = self.round_trips
        typical = sorted(trips)[len(trips) // 2] if trips else 0.0
        return min(options.group_delay_max, max(options.group_delay, 2 * typical))

    async def _linger(self, expected: int, delay: float) -> None:
        """The quorum is idle but commits of several sessions are on their way (the last
        flushes carried ``expected``): wait up to ``delay`` for them, so that one round of
        segment fsyncs serves them all instead of the first one alone."""
        with trio.move_on_after(delay):
            while self.volume.queued_commits() < expected:
                self.volume.rearm_flush()       # the next submit wakes us again
                await self._flush_wanted.wait()
                self._flush_wanted = trio.Event()

    def _flush(self, buffers: list[tuple[bytes, int, bool]]) -> None:
        self.sections.single_pg_hint = self.volume.max_pg == 0
        end = buffers[-1][1]
        sections, new = self.sections.build([data for data, _last, _end in buffers], end)
        for pg in new:
            # A PG new in this epoch holds no record at or below the previous frontier.
            self.tracker.add_pg(pg, floor=self._previous_frontier)
        self._previous_frontier = end
        for _data, last, txn_end in buffers:
            self.tracker.add_cpl(last, txn_end)
        self.counters["flushes"] += 1
        self._send(sections, only_lagging=False)
        self._inflight.append((end, self._last_send))
        if new:
            self._advance()

    def _send(self, sections, *, only_lagging: bool) -> None:
        self._batch_id = self._batch_id % _BATCH_IDS + 1
        frames: dict[tuple[int, ...], bytes] = {}
        sent = 0
        for link in self.links.values():
            if not link.ready:
                continue
            node = link.node_id
            mine = [s for s in sections if self.config.holds(node, s.pg)] \
                if len(self.config.nodes) > 6 else sections
            if only_lagging and all(self.tracker.scl(node, s.pg) >= s.end for s in mine):
                continue
            key = tuple(s.pg for s in mine)
            frame = frames.get(key)
            if frame is None:
                frame = encode_frame(MessageType.WRITE_BATCH,
                                     WriteBatch(self.epoch, tuple(mine)).encode(),
                                     self._batch_id)
                frames[key] = frame
            if link.post(frame):
                sent += 1
        self.counters["batch_frames"] += sent
        self.counters["sections"] += len(sections)
        self._last_send = trio.current_time()

    async def _heartbeat(self) -> None:
        interval = self.options.heartbeat
        while True:
            await trio.sleep(interval)
            if self.volume.failure is not None or not self.recovered.is_set():
                continue
            if self.tracker.vcl >= self.sections.frontier:
                continue
            if trio.current_time() - self._last_send < interval:
                continue
            self.counters["heartbeats"] += 1
            self._send(self.sections.heartbeat(), only_lagging=True)

    async def _horizon(self) -> None:
        while True:
            await self._horizon_wanted.wait()
            self._horizon_wanted = trio.Event()
            horizon = self.volume.take_horizon()
            if horizon > self._horizon_sent and self.recovered.is_set():
                self._horizon_sent = horizon
                frame = encode_frame(MessageType.SET_HORIZON,
                                     SetHorizon(self.epoch, horizon).encode())
                for link in self.links.values():
                    if link.ready and link.post(frame):
                        self.counters["horizons_sent"] += 1
            await trio.sleep(self.options.horizon_interval)

    # -- acknowledgements and errors -------------------------------------------------------------
    def _on_message(self, link: NodeLink, request_id: int, message: object) -> None:
        if isinstance(message, WriteAck):
            moved = False
            observe = self.tracker.observe
            node = link.node_id
            for pg, scl in message.scls:
                if observe(node, pg, scl):
                    moved = True
            if moved:
                self._advance()
        elif isinstance(message, Error):
            self.counters["remote_errors"] += 1
            if message.code == ErrorCode.STALE_EPOCH:
                self.fenced(link.node_id, message.message)
            elif request_id < CALL_ID_BASE:      # not a late answer to an abandoned call
                _log.warning("storage node %d answered request %d with error %d: %s",
                             link.node_id, request_id, message.code, message.message)

    def _advance(self) -> None:
        if self.tracker.advance():
            self.volume.publish_vdl(self.tracker.vdl, self.tracker.durable_txn_end)
        self._inflight_count()          # times the round trips of the flushes now durable
        self._signal_progress()

    def _on_down(self, link: NodeLink) -> None:
        self._signal_progress()

    def fenced(self, node_id: int, detail: str) -> None:
        """Q6: a node has seen a newer epoch. This writer never writes again."""
        self.volume.fail(StaleEpochError(
            f"this writer (volume epoch {self.epoch}) has been fenced by a newer writer: "
            f"storage node {node_id} refused it ({detail})"))
        self._signal_progress()

    # -- a node that (re)connects ------------------------------------------------------------------
    async def handshake(self, link: NodeLink) -> None:
        """Before a node receives batches: recovery is done, it holds our epoch, it has
        applied our truncation (R3: it learns it first), and its SCLs are known."""
        await self.recovered.wait()
        if self.recovery_generations.get(link.node_id) == link.generation:
            return                      # recovery itself fenced and truncated this connection
        self.counters["handshakes"] += 1
        timeout = self.options.request_timeout
        try:
            state = await link.call(GetState(self.epoch), timeout)
            if state.epoch > self.epoch:
                self.fenced(link.node_id, f"it holds epoch {state.epoch}")
                raise StaleEpochError(f"node {link.node_id} holds epoch {state.epoch}")
            if state.epoch < self.epoch:
                state = await link.call(Fence(self.epoch), timeout)
            if self.truncate_point is not None and (
                    not state.pgs or state.pgs[0].truncation_epoch < self.epoch):
                if state.pgs:
                    self.counters["handshake_truncations"] += 1
                    await link.call(Truncate(self.epoch, self.truncate_point), timeout)
                    state = await link.call(GetState(self.epoch), timeout)
        except RemoteError as exc:
            if exc.code == ErrorCode.STALE_EPOCH:
                self.fenced(link.node_id, str(exc))
            raise
        self.learn_state(link.node_id, state)
        if self._horizon_sent:
            link.post(encode_frame(MessageType.SET_HORIZON,
                                   SetHorizon(self.epoch, self._horizon_sent).encode()))

    def learn_state(self, node_id: int, state: SegmentState) -> None:
        """A node's SCLs as they are now (they may have fallen: a wipe, a repair)."""
        reported = {p.pg: p.scl for p in state.pgs}
        for pg in self.tracker.pgs:
            if node_id in self._placement(pg):
                self.tracker.replace(node_id, pg, reported.get(pg, 0))
        self._advance()

    # -- reads -----------------------------------------------------------------------------------
    async def read_page(self, page_id: int, read_point: int) -> bytearray:
        """The page as of ``read_point`` from one segment of its PG (Q7), hedged and retried."""
        options = self.options
        pg = page_id // self.config.pg_size
        if not self.tracker.has_pg(pg) and read_point <= self.sections.frontier:
            # No record of this PG was ever written (in a PG recovery did not find, none
            # is durable): the page was never written.
            return bytearray(PAGE_SIZE)
        self.counters["page_reads"] += 1
        send, receive = trio.open_memory_channel(64)
        failures: list[str] = []
        permanent = 0       # answers that another try cannot change (TOO_OLD, UNKNOWN_PG)
        deadline = trio.current_time() + options.read_timeout
        async with trio.open_nursery() as nursery:
            tried: set[int] = set()
            pending = 0
            launch = True
            launched: int | None = None
            while True:
                candidates = self._read_candidates(pg, read_point, tried)
                if launch and candidates:
                    node = launched = candidates.pop(0)
                    tried.add(node)
                    pending += 1
                    if pending > 1:
                        self.counters["page_read_hedges"] += 1
                    nursery.start_soon(self._read_from, node, pg, page_id, read_point, send)
                remaining = deadline - trio.current_time()
                if remaining <= 0:
                    nursery.cancel_scope.cancel()
                    break
                if pending:
                    # Hedge: a segment that does not answer in time gets company.
                    wait = min(remaining, self._hedge_delay()) if candidates else remaining
                else:
                    wait = min(remaining, options.read_retry)  # all failed: retry shortly
                with trio.move_on_after(wait) as scope:
                    node, outcome = await receive.receive()
                launch = True
                if scope.cancelled_caught:
                    if pending and launched is not None:
                        # Too slow: it goes to the back of the queue for the next reads too.
                        self.links[launched].penalize(wait)
                    if not pending:
                        tried.clear()       # nodes reconnect and catch up: start over
                        permanent = 0
                    continue
                pending -= 1
                if isinstance(outcome, bytearray):
                    nursery.cancel_scope.cancel()
                    return outcome
                message, final = outcome
                self.links[node].penalize(options.hedge_max)
                failures.append(f"node {node}: {message}")
                permanent += final
                self.counters["page_read_retries"] += 1
                if not pending and not candidates and permanent == len(tried):
                    nursery.cancel_scope.cancel()
                    break
        if permanent and permanent == len(tried):
            raise OperationalError(f"page {page_id} at read point {read_point}: "
                                   f"{'; '.join(failures[-3:])}")
        raise OperationalError(
            f"page {page_id} at read point {read_point}: no segment of protection group {pg} "
            f"answered within {options.read_timeout:g} s "
            f"({'; '.join(failures[-6:]) or 'none reachable'})")

    def _read_candidates(self, pg: int, read_point: int, tried: set[int]) -> list[int]:
        """Segments not yet tried: those known complete up to the read point first, fastest
        first; then the other connected ones (they answer BEHIND if they cannot serve it)."""
        links = self.links
        known = set(self.tracker.nodes_at(pg, read_point))
        ready = [n for n in self._placement(pg) if n not in tried and links[n].ready]
        return sorted(ready, key=lambda n: (n not in known, links[n].read_latency))

    def _hedge_delay(self) -> float:
        options = self.options
        latencies = [link.read_latency for link in self.links.values() if link.read_latency]
        typical = sorted(latencies)[len(latencies) // 2] if latencies else 0.0
        return min(options.hedge_max, max(options.hedge_delay, 4 * typical))

    async def _read_from(self, node: int, pg: int, page_id: int, read_point: int,
                         send: trio.MemorySendChannel) -> None:
        link = self.links[node]
        try:
            reply = await link.call(GetPage(self.epoch, pg, page_id, read_point),
                                    self.options.read_timeout)
            if not isinstance(reply, Page) or reply.page_id != page_id:
                raise OperationalError(f"unexpected answer {type(reply).__name__}")
            data = bytearray(reply.data)
            verify(data, f"page {page_id} from storage node {node}")       # Invariant 5
            data[OFF_CHECKSUM:OFF_CHECKSUM + 4] = b"\0\0\0\0"
            outcome: object = data
        except RemoteError as exc:
            if exc.code == ErrorCode.STALE_EPOCH:
                self.fenced(node, str(exc))
            outcome = (str(exc), exc.code in (ErrorCode.TOO_OLD, ErrorCode.UNKNOWN_PG))
        except (LinkDown, CorruptionError, OperationalError) as exc:
            outcome = (str(exc), False)
        await send.send((node, outcome))

    # -- observability -----------------------------------------------------------------------------
    async def node_statuses(self, timeout: float) -> dict[int, dict]:
        """STATUS of every ready node (those that answer within ``timeout``)."""
        statuses: dict[int, dict] = {}

        async def one(link: NodeLink) -> None:
            try:
                reply = await link.call(Status(), timeout)
                statuses[link.node_id] = json.loads(reply.json_text)
            except (OperationalError, ValueError, AttributeError):
                pass

        async with trio.open_nursery() as nursery:
            for link in self.links.values():
                if link.ready:
                    nursery.start_soon(one, link)
        return statuses

    def snapshot(self) -> dict:
        """Engine counters, quorum state and per-link counters."""
        tracker = self.tracker
        nodes = {}
        for node_id, link in self.links.items():
            nodes[node_id] = dict(
                connected=link.connected, ready=link.ready, reconnects=link.reconnects,
                acks=link.acks, errors=link.errors, bytes_sent=link.bytes_sent,
                messages_sent=link.messages_sent, messages_received=link.messages_received,
                read_latency_ms=round(link.read_latency * 1000, 3), last_error=link.last_error,
                scl={pg: tracker.scl(node_id, pg) for pg in tracker.pgs
                     if node_id in self._placement(pg)})
        result = dict(self.counters)
        trips = sorted(self.round_trips)
        if trips:
            result.update(quorum_rtt_p50_ms=round(trips[len(trips) // 2] * 1000, 3),
                          quorum_rtt_p99_ms=round(trips[int(len(trips) * 0.99)] * 1000, 3))
        result.update(vcl=tracker.vcl, frontier=self.sections.frontier,
                      pgcl={pg: tracker.pgcl(pg) for pg in tracker.pgs}, nodes=nodes,
                      group_commits=self.counters["flushes"])
        return result
