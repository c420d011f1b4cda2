"""Scrub: find damage in a node's segments before a reader does, and repair it from peers.

Every ``interval`` seconds each segment re-reads its log records and page images and checks
their CRC32C (``SegmentStore.scrub``, Invariant 5). A read that hits damage (GET_PAGE,
FETCH_RECORDS) reports the PG here and its scrub runs at once. Repairs (recovery.md R4):

* damaged log records: the log is re-read salvaging (``repair_log``): the damaged bytes are cut
  out, SCL drops to just below the first lost record, and gossip refetches the range from a
  peer whose SCL covers it; records at or below the chain base (already in the pages, kept
  in the log only for the archive) are not refetched, so the node's archive log floor rises
  to the chain base (``SegmentNode.log_damaged``) and it never archives a chunk with a hole;
* a damaged page image: a peer's image of that page at this segment's materialized LSN
  (GET_PAGE at that read point, CRC-checked) replaces it.
"""

from __future__ import annotations

import logging

import trio

from aurora_lite.errors import CorruptionError, OperationalError
from aurora_lite.segment._gossip import Gossip
from aurora_lite.segment._node import SegmentNode
from aurora_lite.segment._peers import PeerPool
from aurora_lite.wire import GetPage

log = logging.getLogger("aurora_lite.segment")


class Scrubber:
    def __init__(self, node: SegmentNode, pool: PeerPool, gossip: Gossip,
                 interval: float = 60.0) -> None:
        self.node = node
        self.pool = pool
        self.gossip = gossip
        self.interval = interval
        self._flagged: set[int] = set()
        self._wake = trio.Event()

    def report_damage(self, pg: int) -> None:
        self._flagged.add(pg)
        self._wake.set()

    async def run(self) -> None:
        while True:
            with trio.move_on_after(self.interval if self.interval > 0 else float("inf")):
                await self._wake.wait()
            self._wake = trio.Event()
            if self._flagged:
                pgs, self._flagged = sorted(self._flagged), set()
            else:
                pgs = sorted(self.node.stores())
            for pg in pgs:
                try:
                    await self.scrub(pg)
                except Exception as exc:     # a background task must never take the node down
                    log.warning("node %d pg %d: scrub failed: %s", self.node.node_id, pg, exc,
                                exc_info=not isinstance(exc, OperationalError))

    async def scrub(self, pg: int) -> None:
        node = self.node
        store = node.store(pg)
        if store is None:
            return
        report = await trio.to_thread.run_sync(store.scrub)
        node.count("scrub_passes")
        if report.log_damage:
            node.count("damage_found", len(report.log_damage))
            log.warning("node %d pg %d: damaged log records: %s", node.node_id, pg,
                        "; ".join(report.log_damage))
            cut = await trio.to_thread.run_sync(store.repair_log)
            await trio.to_thread.run_sync(node.log_damaged, pg, store)
            await trio.to_thread.run_sync(node.note_durable, pg)
            node.count("log_repairs")
            log.warning("node %d pg %d: cut out %s; SCL now %d, refetching from peers",
                        node.node_id, pg, cut, store.scl)
            self.gossip.wake()
        for page_id in report.bad_pages:
            node.count("damage_found")
            await self._repair_page(pg, page_id)

    async def _repair_page(self, pg: int, page_id: int) -> None:
        node = self.node
        store = node.store(pg)
        read_point = store.materialized_lsn
        for peer in node.config.peers_of(node.node_id, pg):
            try:
                reply = await self.pool.request(peer.node_id, GetPage(0, pg, page_id,
                                                                      read_point))
                await trio.to_thread.run_sync(store.repair_page, page_id, reply.data)
            except (OperationalError, CorruptionError) as exc:
                log.info("node %d pg %d: page %d from node %d: %s", node.node_id, pg, page_id,
                         peer.node_id, exc)
                continue
            node.count("page_repairs")
            log.warning("node %d pg %d: page %d repaired from node %d (lsn %d)", node.node_id,
                        pg, page_id, peer.node_id, read_point)
            return
        log.error("node %d pg %d: no peer could supply page %d at lsn %d", node.node_id, pg,
                  page_id, read_point)
