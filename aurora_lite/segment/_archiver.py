"""The archiver of a storage node: sealed log chunks and page snapshots go to the archive.

Each protection group's log is archived once, not six times. The node at placement rank 0 of a
PG (``config.nodes_of(pg)[0]``) archives it; the node at rank ``r`` takes over when the
archive's coverage of the PG has not moved for ``r * takeover_delay`` seconds while it has
records to add (rank 0 is down, cut off, or cannot archive). A node that comes back archives
again and the others fall silent as soon as coverage moves. Two nodes acting at once upload
the same or overlapping ranges: an object's name is a function of its range and its bytes a
function of the records, so that is harmless (restore walks any path through them).

What a node archives, and the invariants that make it safe (cited where enforced):

* **A1.** Only records at or below a horizon the writer sent (a durable transaction end of the
  current writer: recovery.md R2/R3 - never truncated later; the writer truncates a node before
  it sends it a horizon) and at or below the node's durable SCL. So a chunk never holds a
  record that recovery could take back, and chunks end at transaction ends.
* **A2.** A chunk ``(start, end]`` holds every record of the PG in that range: it is read from
  this node's hot log only when the log is complete above ``start`` - ``start`` is at or above
  the node's *log floor*, the highest LSN below which records may have left its log (log files
  the retention hook let go, the LSN of pages installed from a peer, or the chain base of a
  segment that existed before archiving was configured). Floors are persisted in
  ``<data>/ARCHIVER.json`` before the records go (the hook records the floor, then answers).
* **A3.** The hot log keeps every file holding a record above what the archive covers
  (``retain``): nothing is collected until it is archived. Until the archive has been listed
  once, everything is kept.
* **A4.** When no node can archive from where the archive stops (every floor is above it), the
  acting node uploads a snapshot of its pages at its materialized LSN and continues from there;
  the range in between stays a hole that restore reports (never fills with a guess).

Snapshots: every ``snapshot_interval`` the acting node uploads its PG's pages at the
materialized LSN (``SegmentStore.snapshot_pages``). Retention (``archive._retention``) runs
after each snapshot. All archive I/O runs in worker threads; a failing archive is logged and
retried, and never stops the node (the hot log simply grows until the archive is back).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import trio

from aurora_lite.archive import (
    DESCRIPTOR, ArchiveStore, Catalog, Descriptor, SnapshotWriter, chunk_name, encode_chunk,
    expired, open_archive, retention_cut, snapshot_name,
)
from aurora_lite.env import Disk
from aurora_lite.errors import Error as AuroraError
from aurora_lite.membership import ArchiveSettings
from aurora_lite.segment._hotlog import LogFileInfo

if TYPE_CHECKING:
    from aurora_lite.segment._node import SegmentNode
    from aurora_lite.segment._store import SegmentStore

log = logging.getLogger("aurora_lite.segment")

STATE_FILE = "ARCHIVER.json"
_HORIZON_SAMPLES = 256


class ArchiveProgress:
    """What the node knows about archiving, per PG: how far the archive covers it (for the
    retention hook, A3) and its log floor (A2, persisted). Thread-safe, no trio."""

    def __init__(self, data_dir: str, disk: Disk) -> None:
        self.path = os.path.join(data_dir, STATE_FILE)
        self.disk = disk
        self._lock = threading.Lock()
        self._floors: dict[int, int] = {}
        self._covered: dict[int, int] = {}

    def load(self) -> None:
        """Read the persisted floors (a missing file: every segment is new to archiving)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                document = json.load(handle)
            floors = {int(pg): int(lsn) for pg, lsn in document["floors"].items()}
        except FileNotFoundError:
            floors = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # Unreadable: forget it; adopt() then treats every segment as of unknown history.
            log.warning("archiver state %s is unreadable (%s); assuming every segment's log "
                        "is complete only above its chain base", self.path, exc)
            floors = {}
        with self._lock:
            self._floors = floors

    def _persist_locked(self) -> None:
        document = {"format": 1, "floors": {str(pg): lsn for pg, lsn in
                                            sorted(self._floors.items())}}
        self.disk.write_atomic(self.path, (json.dumps(document) + "\n").encode())

    def adopt(self, pg: int, created: bool, chain_base: int) -> None:
        """A segment was opened: one created now has its whole log (floor 0); one the file
        does not know existed before archiving watched it (A2: complete above its chain
        base only)."""
        with self._lock:
            if pg in self._floors:
                return
            self._floors[pg] = 0 if created else chain_base
            self._persist_locked()

    def floor(self, pg: int) -> int:
        with self._lock:
            return self._floors.get(pg, 0)

    def raise_floor(self, pg: int, lsn: int) -> None:
        with self._lock:
            if lsn > self._floors.get(pg, 0):
                self._floors[pg] = lsn
                self._persist_locked()

    def before_install(self, pg: int, lsn: int) -> None:
        """SegmentStore hook: a peer's pages at ``lsn`` are about to be adopted (A2)."""
        self.raise_floor(pg, lsn)

    def retain(self, pg: int, info: LogFileInfo) -> bool:
        """SegmentStore retention hook (A3): keep a file until the archive covers it."""
        with self._lock:
            covered = self._covered.get(pg)
        if covered is None or info.max_lsn > covered:
            return True
        self.raise_floor(pg, info.max_lsn)      # persisted before the file goes (A2)
        return False

    def set_covered(self, pg: int, end: int) -> None:
        """What the archive covers of ``pg`` now (a listing is the truth: an archive that was
        emptied by hand covers nothing again, and the log is kept for it)."""
        with self._lock:
            self._covered[pg] = end

    def covered(self, pg: int) -> int | None:
        with self._lock:
            return self._covered.get(pg)

    def snapshot(self) -> dict:
        with self._lock:
            return {"floors": dict(self._floors), "covered": dict(self._covered)}


class _PgState:
    __slots__ = ("covered", "changed_at", "sealed_at", "snapshot_at", "snapshot_lsn",
                 "catalog", "listed_at")

    def __init__(self, now: float, store: ArchiveStore) -> None:
        self.covered = -1
        self.changed_at = now
        self.sealed_at = 0.0
        self.snapshot_at: float | None = None
        self.snapshot_lsn = 0
        self.catalog = Catalog(store)
        self.listed_at = -1e18


class Archiver:
    """The node's archiving task (``run`` in the server's nursery)."""

    def __init__(self, node: "SegmentNode", settings: ArchiveSettings, *,
                 takeover_delay: float | None = None, clock=time.time) -> None:
        self.node = node
        self.settings = settings
        self.progress: ArchiveProgress = node.archive_progress
        # Opened by the first cycle: a store that cannot be opened (boto3 missing, a bad URL)
        # is an archiving error the node reports, not a node that does not start.
        self.store: ArchiveStore | None = None
        self.takeover_delay = takeover_delay if takeover_delay is not None else \
            max(2.0 * settings.chunk_interval, 1.0)
        self.tick = min(max(settings.chunk_interval / 2, 0.05), 1.0)
        self.clock = clock
        self._horizons: deque[int] = deque(maxlen=_HORIZON_SAMPLES)
        self._pgs: dict[int, _PgState] = {}
        self._commits: Catalog | None = None     # PG 0's commits, for retention
        self._ready = False
        self.disabled: str | None = None
        self.counters = dict(chunks=0, chunk_bytes=0, raw_bytes=0, snapshots=0,
                             snapshot_bytes=0, deleted=0, errors=0, takeover_cycles=0,
                             fallback_snapshots=0, collected_files=0)
        self.last_error: str | None = None
        self._logged = 0.0

    # -- the task -------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                await self.cycle()
            except Exception as exc:     # a background task never takes the node down
                self.counters["errors"] += 1
                # The same failure (an unreachable archive) is logged once a minute.
                if str(exc) != self.last_error or time.monotonic() - self._logged > 60:
                    self._logged = time.monotonic()
                    log.warning("node %d: archiving failed for now (retrying; the hot log is "
                                "kept meanwhile): %s", self.node.node_id, exc,
                                exc_info=not isinstance(exc, AuroraError))
                self.last_error = str(exc)
            await trio.sleep(self.tick)

    async def cycle(self) -> None:
        if self.disabled is not None:
            return
        if not self._ready:
            await trio.to_thread.run_sync(self._check_descriptor)
            if self.disabled is not None:
                return
            self._ready = True
        horizon = self.node.horizon
        if horizon and (not self._horizons or horizon > self._horizons[-1]):
            self._horizons.append(horizon)
        for pg, segment in sorted(self.node.stores().items()):
            await trio.to_thread.run_sync(self._pg_cycle, pg, segment)

    def _check_descriptor(self) -> None:
        """The archive names the cluster it belongs to: never mix two clusters' logs."""
        if self.store is None:
            self.store = open_archive(self.settings.location,
                                      fsync=self.node.disk.fsync_enabled)
            self._commits = Catalog(self.store)
        config = self.node.config
        mine = Descriptor(config.cluster_id, config.pg_size)
        found = Catalog(self.store).descriptor()
        if found is None:
            self.store.put(DESCRIPTOR, mine.encode())
        elif found != mine:
            self.disabled = (f"archive {self.store.location} belongs to cluster "
                             f"{found.cluster_id} (pg_size {found.pg_size}), not to this one "
                             f"({mine.cluster_id}, pg_size {mine.pg_size}): not archiving")
            log.error("node %d: %s", self.node.node_id, self.disabled)

    # -- one PG (worker thread) -----------------------------------------------------------------
    def _pg_cycle(self, pg: int, segment: "SegmentStore") -> None:
        assert self.store is not None, "the first cycle opens the archive"
        now = self.clock()
        state = self._pgs.get(pg)
        if state is None:
            state = self._pgs[pg] = _PgState(now, self.store)
        rank = [n.node_id for n in self.node.config.nodes_of(pg)].index(self.node.node_id)
        # The archiving node learns its own progress from its uploads; listings are for what
        # other nodes did (takeovers), so the others list only as often as takeover needs.
        every = self.settings.chunk_interval if rank == 0 else max(
            self.settings.chunk_interval, self.takeover_delay / 2)
        catalog = state.catalog
        if now - state.listed_at >= every:
            catalog.refresh(pg)
            state.listed_at = now
            covered = max(catalog.covered_end(pg),
                          max((ref.lsn for ref in catalog.snapshots.get(pg, ())), default=0))
            if covered != state.covered:
                state.covered, state.changed_at = covered, now
            self.progress.set_covered(pg, covered)
        covered = max(state.covered, 0)
        if state.snapshot_at is None:
            state.snapshot_at, state.snapshot_lsn = self._last_snapshot(catalog, pg, now)
        limit = self._limit(pg)
        behind = limit > covered
        stalled = now - state.changed_at
        acting = rank == 0 or (behind and stalled >= rank * self.takeover_delay)
        if acting and rank > 0 and behind:
            self.counters["takeover_cycles"] += 1
        if acting and behind and now - state.sealed_at >= self.settings.chunk_interval:
            self._archive(pg, segment, state, catalog, covered, limit, stalled)
            state.sealed_at = now
        if acting and now - state.snapshot_at >= self.settings.snapshot_interval:
            self._snapshot(pg, segment, state, now)
            self._apply_retention(pg, state, now)
        self._collect(pg, segment)

    def _limit(self, pg: int) -> int:
        """The highest horizon sampled that this node holds durably (A1)."""
        durable = self.node.durable_scl(pg)
        for horizon in reversed(self._horizons):
            if horizon <= durable:
                return horizon
        return 0

    def _last_snapshot(self, catalog: Catalog, pg: int, now: float) -> tuple[float, int]:
        snapshots = catalog.snapshots.get(pg, ())
        if not snapshots:
            return now, 0         # the first one comes an interval after archiving started
        newest = snapshots[-1]
        try:
            return catalog.snapshot_info(newest).header.created_us / 1e6, newest.lsn
        except AuroraError as exc:       # damaged: take a new one an interval from now
            log.warning("node %d pg %d: %s", self.node.node_id, pg, exc)
            return now, newest.lsn

    def _archive(self, pg: int, segment: "SegmentStore", state: _PgState, catalog: Catalog,
                 covered: int, limit: int, stalled: float) -> None:
        start = covered
        floor = self.progress.floor(pg)
        if start < floor:
            empty = not catalog.chunks.get(pg) and not catalog.snapshots.get(pg)
            # A4: wait for a node that still has the log, unless nobody has been able to.
            if not empty and stalled < 7 * self.takeover_delay:
                return
            lsn = self._snapshot(pg, segment, state, self.clock())
            if lsn < floor:
                return
            if not empty:
                self.counters["fallback_snapshots"] += 1
                log.warning("node %d pg %d: no node could archive lsn (%d, %d] (its log was "
                            "collected or installed from a peer); restore cannot reach targets "
                            "in that range; archiving continues from snapshot lsn %d",
                            self.node.node_id, pg, covered, lsn, lsn)
            start = lsn
        while start < limit:
            end, records = segment.archive_range(start, limit, self.settings.chunk_bytes)
            if end <= start:
                return
            data = encode_chunk(pg, start, end, records)
            self.store.put(chunk_name(pg, start, end), data)
            self.counters["chunks"] += 1
            self.counters["chunk_bytes"] += len(data)
            self.counters["raw_bytes"] += len(records)
            start = end
            self.progress.set_covered(pg, end)
            state.covered, state.changed_at = end, self.clock()

    def _snapshot(self, pg: int, segment: "SegmentStore", state: _PgState, now: float) -> int:
        """Upload the PG's pages at its materialized LSN; return that LSN (A4)."""
        state.snapshot_at = now
        writer = SnapshotWriter(pg)
        lsn = segment.snapshot_pages(writer.add)
        if lsn <= state.snapshot_lsn or lsn == 0:
            return lsn
        data = writer.finish(lsn, int(now * 1_000_000))
        self.store.put(snapshot_name(pg, lsn, max(lsn, writer.max_page_lsn)), data)
        state.snapshot_lsn = lsn
        self.counters["snapshots"] += 1
        self.counters["snapshot_bytes"] += len(data)
        return lsn

    def _apply_retention(self, pg: int, state: _PgState, now: float) -> None:
        retention = self.settings.retention_seconds
        if retention is None:
            return
        assert self._commits is not None
        commits = self._commits.refresh(0).commits()
        cut = retention_cut(commits, int(now * 1_000_000), retention)
        catalog = state.catalog.refresh(pg)
        for name in expired(catalog.chunks.get(pg, []), catalog.snapshots.get(pg, []), cut):
            self.store.delete(name)
            self.counters["deleted"] += 1

    def _collect(self, pg: int, segment: "SegmentStore") -> None:
        """Let the store drop log files the archive now covers (A3 no longer keeps them)."""
        covered = self.progress.covered(pg)
        if covered is None:
            return
        materialized = segment.materialized_lsn
        if any(0 < info.max_lsn <= min(covered, materialized)
               for info in segment.log_files()):
            self.counters["collected_files"] += segment.collect()

    def statistics(self) -> dict:
        return dict(self.counters, location=self.settings.location, disabled=self.disabled,
                    last_error=self.last_error,
                    covered={str(pg): s.covered for pg, s in sorted(self._pgs.items())},
                    floors={str(pg): lsn for pg, lsn in
                            sorted(self.progress.snapshot()["floors"].items())})


def archive_store_range(segment: "SegmentStore", store: ArchiveStore, pg: int, start: int,
                        limit: int, chunk_bytes: int = 16 << 20) -> int:
    """Archive ``(start, limit]`` of ``segment`` as chunks (tools and tests that drive a
    store directly, e.g. a LocalVolume's); return the end reached."""
    while start < limit:
        end, records = segment.archive_range(start, limit, chunk_bytes)
        if end <= start:
            break
        store.put(chunk_name(pg, start, end), encode_chunk(pg, start, end, records))
        start = end
    return start


def archive_store_snapshot(segment: "SegmentStore", store: ArchiveStore, pg: int,
                           now_us: int | None = None) -> int:
    """Upload ``segment``'s pages at its materialized LSN; return that LSN."""
    writer = SnapshotWriter(pg)
    lsn = segment.snapshot_pages(writer.add)
    data = writer.finish(lsn, int(time.time() * 1_000_000) if now_us is None else now_us)
    store.put(snapshot_name(pg, lsn, max(lsn, writer.max_page_lsn)), data)
    return lsn
