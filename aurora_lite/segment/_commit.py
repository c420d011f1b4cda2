"""Group commit across connections: one flusher per node makes appended batches durable.

A batch is acknowledged only after its records are in the hot log and fsynced (quorum.md Q2).
Connections append their batches in arrival order on the event loop and leave an
``AckRequest`` here; the single flusher task takes every request present, fsyncs every segment
they touched (``SegmentNode.sync_stores``: one fsync per dirty log file, whatever the number of
batches) and answers them all. Batches that arrive during an fsync wait for the next round, so
under load one fsync serves many batches from many connections: fsyncs grow with rounds, not
batches.

The write path costs no task and no thread per batch, because on two cores the Python around
a batch, not the disk, is what limits a node: the fsync runs on the event loop itself unless a
maintenance step holds a segment (then in a worker thread, so the loop never waits for a
materialization); acknowledgements go straight into the connection's socket
(``post``), one write per connection per round. Only an acknowledgement whose batch did not
extend SCL (a gap before it, Q1) becomes a task of its own, which waits, bounded, for gossip or
a retransmission (``next_round``) before it answers.

``durable`` is the same round for callers that are tasks already (gossip, repair).
"""

from __future__ import annotations

import logging
from typing import Callable, Protocol

import trio

from aurora_lite.segment._node import SegmentNode
from aurora_lite.wire import MessageType, WriteAck, encode_frame

log = logging.getLogger("aurora_lite.segment")


class AckSink(Protocol):
    """Where an acknowledgement goes: the connection the batch came from."""

    def post(self, frame: bytes) -> None: ...


class AckRequest:
    """A batch appended and waiting for its round: ``ends`` maps each PG of the batch to the
    highest LSN its frontier claims; ``done`` runs once it is answered (it frees the request's
    place in its connection's window); ``late`` answers it when a gap holds it back."""

    __slots__ = ("sink", "request_id", "ends", "done", "late")

    def __init__(self, sink: AckSink, request_id: int, ends: dict[int, int],
                 done: Callable[[], None],
                 late: Callable[["AckRequest"], None]) -> None:
        self.sink = sink
        self.request_id = request_id
        self.ends = ends
        self.done = done
        self.late = late


class _Waiter:
    __slots__ = ("pgs", "event", "result", "error")

    def __init__(self, pgs: list[int]) -> None:
        self.pgs = pgs
        self.event = trio.Event()
        self.result: dict[int, int] = {}
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, node: SegmentNode,
                 error_frame: Callable[[int, BaseException, AckSink], bytes]) -> None:
        self.node = node
        self._waiting: list[_Waiter] = []
        self._acks: list[AckRequest] = []
        self._wake = trio.Event()
        self._round_done = trio.Event()
        self._error_frame = error_frame
        self.rounds = 0
        self.threaded_rounds = 0

    async def run(self) -> None:
        """The flusher task (one per node)."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            waiters, self._waiting = self._waiting, []
            acks, self._acks = self._acks, []
            pgs = sorted({pg for waiter in waiters for pg in waiter.pgs}
                         | {pg for ack in acks for pg in ack.ends})
            error: BaseException | None = None
            try:
                durable = self.node.sync_stores(pgs, blocking=False)
                if durable is None:
                    self.threaded_rounds += 1
                    durable = await trio.to_thread.run_sync(self.node.sync_stores, pgs)
            except Exception as exc:    # an I/O error: the store refuses to go on (Q2)
                log.error("node %d: group commit failed: %s", self.node.node_id, exc)
                durable, error = {}, exc
            self.rounds += 1
            self.node.count("group_commits")
            self._answer(acks, durable, error)
            for waiter in waiters:
                waiter.error = error
                waiter.result = {pg: durable.get(pg, 0) for pg in waiter.pgs}
                waiter.event.set()
            done, self._round_done = self._round_done, trio.Event()
            done.set()

    def _answer(self, acks: list[AckRequest], durable: dict[int, int],
                error: BaseException | None) -> None:
        frames: dict[int, tuple[AckSink, list[bytes]]] = {}
        for ack in acks:
            if error is not None:
                frame = self._error_frame(ack.request_id, error, ack.sink)
            elif all(durable.get(pg, 0) >= end for pg, end in ack.ends.items()):
                frame = encode_frame(MessageType.WRITE_ACK, WriteAck(tuple(
                    (pg, durable[pg]) for pg in ack.ends)).encode(), ack.request_id)
                self.node.count("acks")
            else:
                # A gap before this batch (Q1): answered later by a task of its own.
                try:
                    ack.late(ack)
                except RuntimeError:
                    # The connection's session ended meanwhile (its nursery is closed):
                    # nobody is left to answer.
                    ack.done()
                continue
            ack.done()
            entry = frames.get(id(ack.sink))
            if entry is None:
                frames[id(ack.sink)] = (ack.sink, [frame])
            else:
                entry[1].append(frame)
        for sink, parts in frames.values():
            sink.post(parts[0] if len(parts) == 1 else b"".join(parts))

    def acknowledge(self, ack: AckRequest) -> None:
        """Answer ``ack`` in the next round (the caller has appended its batch)."""
        self._acks.append(ack)
        self._wake.set()

    async def durable(self, pgs: list[int]) -> dict[int, int]:
        """Wait until everything appended so far to ``pgs`` is durable; their durable SCLs."""
        waiter = _Waiter(pgs)
        self._waiting.append(waiter)
        self._wake.set()
        await waiter.event.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    async def next_round(self) -> None:
        await self._round_done.wait()

