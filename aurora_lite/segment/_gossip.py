"""Gossip: a segment that lacks records its peers hold fetches them (recovery.md R5, R6).

Every ``interval`` seconds (or at once when woken: a batch arrived after a gap, a repair cut
records out) the node asks each peer for its state (GET_STATE: per PG its durable SCL, epoch,
materialized LSN and last truncation) and then, for each PG it holds:

* if a peer's SCL is above its own, it fetches the range above its SCL from the peer with the
  newest epoch and highest SCL (FETCH_RECORDS: the peer answers only with what it holds
  completely, a frontier range) and appends it, until it has caught up; the records then go
  through group commit like a batch (durable before any ack counts them: Q2);
* if its SCL is below every such peer's materialized LSN (a wiped data directory, or a segment
  down while the peers collected the log it misses), it first installs a peer's page images at
  that LSN (FETCH_PAGES, checked by CRC) and then fetches the log above it.

Truncations travel too (recovery.md step 4): a truncation ``(e, D)`` from a peer is applied
here when this node has only seen epochs older than ``e`` - every record it holds above ``D``
then came from an older writer and belongs to no committed transaction. A newer epoch is
adopted as well (it only fences more). Conversely a node that applied truncation ``(e, D)``
takes nothing above ``D`` from a peer that has not applied it (its records there may be the
old writer's): a truncated record never comes back (R3).
"""

from __future__ import annotations

import logging

import trio

from aurora_lite.errors import OperationalError
from aurora_lite.segment._commit import GroupCommit
from aurora_lite.segment._node import SegmentNode
from aurora_lite.segment._peers import PeerPool
from aurora_lite.wire import (
    NO_MORE_PAGES, FetchPages, FetchRecords, GetState, PgState, SegmentState,
)

log = logging.getLogger("aurora_lite.segment")

FETCH_BYTES = 4 << 20        # records per FETCH_RECORDS reply
FETCH_PAGES = 64             # page images per FETCH_PAGES reply (1 MB)


class Gossip:
    def __init__(self, node: SegmentNode, commit: GroupCommit, pool: PeerPool,
                 interval: float = 1.0) -> None:
        self.node = node
        self.commit = commit
        self.pool = pool
        self.interval = interval
        self._wake = trio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            with trio.move_on_after(self.interval):
                await self._wake.wait()
            self._wake = trio.Event()
            try:
                await self.round()
            except Exception as exc:     # a background task must never take the node down
                log.warning("node %d: gossip round failed: %s", self.node.node_id, exc,
                            exc_info=not isinstance(exc, OperationalError))

    async def round(self) -> None:
        """One round: states of every peer, truncations and epochs, then catch up each PG."""
        node = self.node
        node.count("gossip_rounds")
        states: dict[int, SegmentState] = {}

        async def ask(peer: int) -> None:
            try:
                states[peer] = await self.pool.request(peer, GetState(node.epoch), timeout=3.0)
            except OperationalError as exc:
                log.debug("node %d: peer %d: %s", node.node_id, peer, exc)

        async with trio.open_nursery() as nursery:
            for info in node.config.nodes:
                if info.node_id != node.node_id:
                    nursery.start_soon(ask, info.node_id)
        await self._adopt(states)
        pgs = set(node.stores()) | {p.pg for state in states.values() for p in state.pgs}
        for pg in sorted(pgs):
            if node.holds(pg):
                try:
                    await self._catch_up(pg, states)
                except Exception as exc:     # e.g. a peer's records failing their CRC
                    log.info("node %d pg %d: catching up failed for now: %s", node.node_id,
                             pg, exc, exc_info=not isinstance(exc, OperationalError))

    async def _adopt(self, states: dict[int, SegmentState]) -> None:
        node = self.node
        truncations = [(p.truncation_epoch, p.truncation_lsn) for state in states.values()
                       for p in state.pgs[:1]]
        if truncations:
            epoch, lsn = max(truncations)
            if epoch > node.epoch:
                adopted = await trio.to_thread.run_sync(node.adopt_truncation, epoch, lsn)
                if adopted:
                    log.info("node %d: adopted truncation above %d of epoch %d from a peer",
                             node.node_id, lsn, epoch)
        newest = max((state.epoch for state in states.values()), default=0)
        if newest > node.epoch:
            await trio.to_thread.run_sync(node.adopt_epoch, newest)

    async def _catch_up(self, pg: int, states: dict[int, SegmentState]) -> None:
        node = self.node
        store = node.store(pg)
        mine = store.scl if store is not None else 0
        t_epoch, t_lsn = node.truncation
        ahead: list[tuple[int, int, int, PgState]] = []
        for peer, state in states.items():
            for entry in state.pgs:
                if entry.pg != pg:
                    continue
                # A peer that has not applied our newest truncation may still hold records
                # above it from the old writer: take nothing above it from that peer (R3).
                cap = entry.scl if entry.truncation_epoch >= t_epoch else min(entry.scl, t_lsn)
                if cap > mine:
                    ahead.append((state.epoch, cap, peer, entry))
        if not ahead:
            return
        # A peer that still holds the log above our SCL serves records; otherwise pages first.
        servable = [a for a in ahead if a[3].materialized_lsn <= mine]
        epoch, target, peer, entry = max(servable or ahead)
        if not servable:
            await self._rebuild(pg, peer)
            store = node.store(pg)
            mine = store.scl if store is not None else 0
        fetched = 0
        while mine < target:
            records = await self.pool.request(
                peer, FetchRecords(node.epoch, pg, mine, target, FETCH_BYTES))
            if records.end <= records.start:
                break
            # Dropped if a truncation arrived since the peer was chosen (R3).
            scl = await trio.to_thread.run_sync(node.append_records, records,
                                                (t_epoch, t_lsn))
            if scl is None:
                return
            node.count("gossip_fetches")
            node.count("gossip_records_bytes", len(records.records))
            fetched += len(records.records)
            if scl <= mine:
                break
            mine = scl
        await self.commit.durable([pg])
        log.info("node %d pg %d: caught up from node %d to SCL %d (%d bytes of records)",
                 node.node_id, pg, peer, node.durable_scl(pg), fetched)

    async def _rebuild(self, pg: int, peer: int) -> None:
        """Install ``peer``'s page images of ``pg`` (R5): this segment's SCL is below what the
        peer still keeps in its log."""
        node = self.node
        store = await trio.to_thread.run_sync(lambda: node.store(pg, create=True))
        first_page, _count = node.config.page_range(pg)
        next_page = first_page
        base: tuple[int, int, int] | None = None
        pages = 0
        while next_page != NO_MORE_PAGES:
            reply = await self.pool.request(peer, FetchPages(node.epoch, pg, next_page,
                                                             FETCH_PAGES))
            if base is None:
                base = (reply.materialized_lsn, reply.base_cpl, reply.base_txn_end)
                if base[0] <= store.scl:
                    return
            if reply.images:
                await trio.to_thread.run_sync(store.install_pages, list(reply.images), base[0])
                pages += len(reply.images)
            next_page = reply.next_page
        if base is None:
            return
        await trio.to_thread.run_sync(store.finish_install, *base)
        await trio.to_thread.run_sync(node.note_durable, pg)
        node.count("rebuilds")
        log.warning("node %d pg %d: rebuilt from node %d: %d page images at lsn %d",
                    node.node_id, pg, peer, pages, base[0])
