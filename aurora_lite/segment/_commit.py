"""Group commit across connections: one flusher per node makes appended batches durable.

A batch is acknowledged only after its records are in the hot log and fsynced (quorum.md Q2).
Connections append their batches (in order, through worker threads) and then wait here; the
single flusher task takes every waiter present, fsyncs every segment they touched in one
worker thread (``SegmentNode.sync_stores``: one fsync per dirty log file, whatever the number of
batches), and wakes them all with the SCLs that are now durable. Batches that arrive during an
fsync wait for the next round, so under load one fsync serves many batches from many
connections: fsyncs grow with rounds, not batches.

``next_round`` lets a waiter whose batch did not extend SCL (a gap before it, Q1) wait, bounded,
for gossip or a retransmission to fill the gap before it answers.
"""

from __future__ import annotations

import logging

import trio

from aurora_lite.segment._node import SegmentNode

log = logging.getLogger("aurora_lite.segment")


class _Waiter:
    __slots__ = ("pgs", "event", "result", "error")

    def __init__(self, pgs: list[int]) -> None:
        self.pgs = pgs
        self.event = trio.Event()
        self.result: dict[int, int] = {}
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, node: SegmentNode) -> None:
        self.node = node
        self._waiting: list[_Waiter] = []
        self._wake = trio.Event()
        self._round_done = trio.Event()
        self.rounds = 0

    async def run(self) -> None:
        """The flusher task (one per node)."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            waiters, self._waiting = self._waiting, []
            pgs = sorted({pg for waiter in waiters for pg in waiter.pgs})
            try:
                durable = await trio.to_thread.run_sync(self.node.sync_stores, pgs)
            except Exception as exc:    # an I/O error: the store refuses to go on (Q2)
                log.error("node %d: group commit failed: %s", self.node.node_id, exc)
                durable, error = {}, exc
            else:
                error = None
            self.rounds += 1
            self.node.count("group_commits")
            for waiter in waiters:
                waiter.error = error
                waiter.result = {pg: durable.get(pg, 0) for pg in waiter.pgs}
                waiter.event.set()
            done, self._round_done = self._round_done, trio.Event()
            done.set()

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
