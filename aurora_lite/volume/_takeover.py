"""Writer recovery on the I/O thread: fence, read quorum, durable point, truncate (recovery.md).

``take_over(engine)`` runs steps 1-4 of recovery.md and prepares step 5; the volume then
writes the first MTR of the epoch (``ClusterVolume.open``):

1. **Fence.** GET_STATE on every reachable node gives the highest epoch; FENCE(highest + 1) to
   every node it can reach (a node persists the epoch before answering with its state). A
   node that turns out to hold an even newer epoch restarts the round above it.
2. **Read quorum.** Fenced states from at least 3 of the 6 nodes of every placement; then up
   to ``recovery_grace`` more for the others (R1: 3 fenced per PG leave an older writer at
   most 3 acknowledgements, never a write quorum).
3. **Durable point.** ``_recovery.plan``: VCL, then D = the highest TXN_END <= VCL, fetching
   records (FETCH_RECORDS) of the PGs whose reported TXN_END lies above VCL (R2).
4. **Truncate** above D on every fenced node; nodes reached later are truncated by the
   engine's handshake before anything else (R3).
5. **Resume** at G = highest LSN seen + window + margin + 1 with a VOID(from=D) flagged TXN_END
   in every PG; when every node of every PG was fenced and truncated and none holds anything
   above D, no straggler can hold a stale record, so G = D + 1 and no VOID is needed. Either
   way the open waits until D is on a write quorum of every PG again (step 6, "repair before
   trust": lagging segments fill their gap by gossip before they count).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from aurora_lite.errors import CorruptionError, OperationalError, StaleEpochError
from aurora_lite.volume._connections import NodeLink, RemoteError
from aurora_lite.volume._quorum import DurabilityTracker
from aurora_lite.volume._recovery import (
    Scan, effective_states, first_lsn, highest_txn_end, plan, quorum_gaps,
)
from aurora_lite.volume._sections import SectionBuilder
from aurora_lite.wire import ErrorCode, Fence, FetchRecords, GetState, Records, Truncate

if TYPE_CHECKING:
    from aurora_lite.volume._engine import Engine

_log = logging.getLogger("aurora_lite.volume")
_FETCH_BYTES = 1 << 20
_EPOCH_ROUNDS = 5


@dataclass(frozen=True)
class Takeover:
    epoch: int
    durable_point: int
    vcl: int
    next_lsn: int            # G
    pgs: tuple[int, ...]
    created: bool
    needs_void: bool         # write VOID(from=D) at G in every PG


class _NewerEpoch(Exception):
    def __init__(self, epoch: int) -> None:
        super().__init__(epoch)
        self.epoch = epoch


async def _gather(links: list[NodeLink], message, timeout: float
                  ) -> tuple[dict[int, object], dict[int, BaseException]]:
    """Send ``message`` to every link at once; (replies, failures) by node id."""
    replies: dict[int, object] = {}
    failures: dict[int, BaseException] = {}

    async def one(link: NodeLink) -> None:
        try:
            replies[link.node_id] = await link.call(message, timeout)
        except OperationalError as exc:
            failures[link.node_id] = exc

    async with trio.open_nursery() as nursery:
        for link in links:
            nursery.start_soon(one, link)
    return replies, failures


async def take_over(engine: "Engine") -> Takeover:
    options = engine.options
    config = engine.config
    deadline = trio.current_time() + options.open_timeout
    positions = {node.node_id: index for index, node in enumerate(config.nodes)}
    await _wait_for_quorum_links(engine, positions, deadline)
    states, _failures = await _gather(_connected(engine), GetState(0), options.request_timeout)
    highest = max((state.epoch for state in states.values()), default=0)
    created_hint = highest == 0
    for _round in range(_EPOCH_ROUNDS):
        try:
            fenced = await _fence(engine, highest + 1, positions, deadline)
            break
        except _NewerEpoch as newer:
            highest = max(highest, newer.epoch)
    else:
        raise StaleEpochError("recovery: other writers keep fencing this volume with newer "
                              "epochs; giving up")
    epoch = highest + 1
    views = effective_states(fenced, _Placement(engine))
    outline = plan(views)
    found = {scan.pg: await _scan(engine, scan, epoch, deadline) for scan in outline.scans}
    durable_point = outline.resolve(found)
    links = [engine.links[node] for node in fenced]
    _replies, failures = await _gather(links, Truncate(epoch, durable_point),
                                       options.request_timeout)
    truncated = [engine.links[node] for node in fenced if node not in failures]
    after, _failures = await _gather(truncated, GetState(epoch), options.request_timeout)
    complete = len(after) == len(config.nodes) and all(
        p.max_lsn <= durable_point for state in after.values() for p in state.pgs)

    # The engine's state for the new epoch (recovery.md step 5).
    engine.epoch = epoch
    engine.truncate_point = durable_point
    engine.tracker = DurabilityTracker(engine._placement, vdl=durable_point)
    engine.sections = SectionBuilder(config.pg_size, durable_point, outline.pgs)
    engine._previous_frontier = durable_point
    for pg in outline.pgs:
        engine.tracker.add_pg(pg)
    for node, state in after.items():
        engine.learn_state(node, state)
    engine.recovery_generations = {node: engine.links[node].generation for node in after}
    engine.volume.publish_vdl(durable_point, durable_point)
    engine.recovered.set()

    needs_void = not complete and bool(outline.pgs)
    next_lsn = durable_point + 1 if complete else \
        first_lsn(outline.max_lsn, outline.vcl, options.window)
    _log.info("recovered volume: epoch %d, %d/%d nodes fenced, VCL %d, durable point %d, "
              "next LSN %d%s", epoch, len(fenced), len(config.nodes), outline.vcl,
              durable_point, next_lsn, " (VOID follows)" if needs_void else "")
    if not needs_void:
        # R6: D must be on a write quorum of every PG before anything is built on it.
        while engine.tracker.vcl < durable_point:
            if trio.current_time() >= deadline:
                raise OperationalError(
                    f"recovery: the durable point {durable_point} is not on 4 of 6 segments "
                    f"of every protection group after {options.open_timeout:g} s "
                    f"(VCL {engine.tracker.vcl}); too many storage nodes are down or behind")
            await engine.wait_progress(options.heartbeat)
    return Takeover(epoch, durable_point, outline.vcl, next_lsn, outline.pgs,
                    created_hint and outline.max_lsn == 0 and not outline.pgs, needs_void)


class _Placement:
    """pg -> node ids holding it (a mapping over every PG)."""

    def __init__(self, engine: "Engine") -> None:
        self._engine = engine

    def __getitem__(self, pg: int) -> tuple[int, ...]:
        return self._engine._placement(pg)


def _connected(engine: "Engine") -> list[NodeLink]:
    return [link for link in engine.links.values() if link.connected]


async def _wait_for_quorum_links(engine: "Engine", positions: dict[int, int],
                                 deadline: float) -> None:
    """Until every node is connected, or enough for a read quorum of every placement (plus a
    moment for the rest), or the deadline."""
    count = len(engine.config.nodes)
    covered_at = None
    while True:
        connected = [link.node_id for link in _connected(engine)]
        now = trio.current_time()
        if len(connected) == count:
            return
        if not quorum_gaps((positions[n] for n in connected), count):
            covered_at = now if covered_at is None else covered_at
            if now >= covered_at + engine.options.recovery_grace:
                return
        if now >= deadline:
            raise OperationalError(
                f"recovery: only {len(connected)} of {count} storage nodes are reachable "
                f"({_down(engine)}); 3 of the 6 nodes of every protection group are needed")
        await trio.sleep(0.01)


def _down(engine: "Engine") -> str:
    return "; ".join(f"node {link.node_id}: {link.last_error or 'not connected'}"
                     for link in engine.links.values() if not link.connected)


async def _fence(engine: "Engine", epoch: int, positions: dict[int, int],
                 deadline: float) -> dict[int, object]:
    options = engine.options
    count = len(engine.config.nodes)
    fenced: dict[int, object] = {}
    covered_at = None
    while True:
        todo = [link for link in _connected(engine) if link.node_id not in fenced]
        if todo:
            replies, failures = await _gather(todo, Fence(epoch), options.request_timeout)
            fenced.update(replies)
            for node, exc in failures.items():
                if isinstance(exc, RemoteError) and exc.code == ErrorCode.STALE_EPOCH:
                    states, _ = await _gather([engine.links[node]], GetState(epoch),
                                              options.request_timeout)
                    newer = max([epoch] + [s.epoch for s in states.values()])
                    raise _NewerEpoch(newer)
        now = trio.current_time()
        if not quorum_gaps((positions[n] for n in fenced), count):
            covered_at = now if covered_at is None else covered_at
            if len(fenced) == count or now >= covered_at + options.recovery_grace:
                return fenced
        if now >= deadline:
            raise OperationalError(
                f"recovery: only {len(fenced)} of {count} storage nodes answered the fence "
                f"with epoch {epoch} ({_down(engine)}); 3 of the 6 nodes of every "
                f"protection group are needed")
        await trio.sleep(0.02)


async def _scan(engine: "Engine", scan: Scan, epoch: int, deadline: float) -> int:
    """The highest TXN_END of ``scan.pg`` in (low, high], read from the first segment that can
    deliver the whole range."""
    errors = []
    for node in scan.nodes:
        link = engine.links[node]
        low, found = scan.low, 0
        try:
            while low < scan.high:
                reply = await link.call(FetchRecords(epoch, scan.pg, low, scan.high, _FETCH_BYTES),
                                        engine.options.request_timeout)
                if not isinstance(reply, Records) or reply.end <= low:
                    raise OperationalError(f"node {node} delivered nothing above {low}")
                found = max(found, highest_txn_end(reply.records, low, reply.end,
                                                   f"records of PG {scan.pg} from node {node}"))
                low = reply.end
            return found
        except (OperationalError, CorruptionError) as exc:
            errors.append(f"node {node}: {exc}")
        if trio.current_time() >= deadline:
            break
    raise OperationalError(f"recovery: cannot read the records of protection group {scan.pg} "
                           f"in ({scan.low}, {scan.high}] to find its last transaction end: "
                           f"{'; '.join(errors) or 'no segment holds them'}")
