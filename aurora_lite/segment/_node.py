"""SegmentNode: one storage node's segments and its node-level state, without any networking.

A node holds one ``SegmentStore`` per protection group placed on it (membership: PG ``g`` on
nodes ``(g + i) mod N``), in ``<data>/pg-<g:08d>/``, created on the first batch (or gossip)
for that PG. It owns the node control file (``NODE``: epoch and last truncation) and the
horizon. Every method is synchronous and thread-safe: the trio server (``_server``) calls them
through worker threads so that the event loop never waits for a disk.

Locks: ``_epoch_lock`` makes "check the epoch, then append" atomic with respect to FENCE and
TRUNCATE (a batch of an older epoch is either appended before the fence, and so covered by the
state it answers, or refused: Invariant 6, recovery.md R1); ``_lock`` guards the dictionaries
and counters and is never held across disk I/O except while creating a store.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from dataclasses import replace as _replace

from aurora_lite.env import Disk
from aurora_lite.errors import (
    InternalError, OperationalError, ProgrammingError, StaleEpochError,
)
from aurora_lite.membership import ClusterConfig
from aurora_lite.page._layout import PAGE_SIZE, seal
from aurora_lite.segment._archiver import ArchiveProgress
from aurora_lite.segment._nodecontrol import NODE_FILE, NodeControl
from aurora_lite.segment._store import ReadPointBehind, SegmentStore
from aurora_lite.wire import (
    NO_MORE_PAGES, Pages, PgState, Records, SegmentState, WriteBatch,
)

log = logging.getLogger("aurora_lite.segment")

_PG_DIR = re.compile(r"^pg-(\d{8})$")


class UnknownProtectionGroup(OperationalError):
    """The request names a protection group that this node holds no segment of."""


def pg_directory(data_dir: str, pg: int) -> str:
    return os.path.join(data_dir, f"pg-{pg:08d}")


class SegmentNode:
    """The segments of one storage node and its control file."""

    def __init__(self, config: ClusterConfig, node_id: int, data_dir: str | None = None, *,
                 fsync: bool = True, disk: Disk | None = None,
                 max_file_size: int = 16 << 20) -> None:
        self.config = config
        self.node_id = node_id
        self.info = config.node(node_id)
        self.data_dir = os.path.abspath(data_dir or self.info.data)
        self.disk = disk if disk is not None else Disk(fsync=fsync)
        self.max_file_size = max_file_size
        self._control_path = os.path.join(self.data_dir, NODE_FILE)
        self._control = NodeControl(node_id, config.cluster_id_bytes)
        self._stores: dict[int, SegmentStore] = {}
        self._durable: dict[int, int] = {}      # pg -> SCL made durable by the last sync
        # Bumped whenever an SCL may go down (truncation, repair, install): a sync that began
        # before must not publish its (higher) SCL afterwards.
        self._lowered = 0
        self._lock = threading.Lock()
        self._epoch_lock = threading.Lock()
        self.horizon = 0
        # Continuous archiving (docs/formats/archive.md): the retention hook and log floors
        # of every segment; the archiving task itself runs in the server.
        self.archive_progress: ArchiveProgress | None = None
        if config.archive is not None:
            self.archive_progress = ArchiveProgress(self.data_dir, self.disk)
        self.counters: dict[str, int] = dict(
            batches=0, sections=0, batch_bytes=0, acks=0, group_commits=0, get_pages=0,
            fetches=0, fetched_bytes=0, page_fetches=0, fences=0, truncations=0,
            epoch_adoptions=0, materializations=0, materialize_errors=0, connections=0,
            auth_failures=0, protocol_errors=0, gossip_rounds=0, gossip_fetches=0,
            gossip_records_bytes=0, rebuilds=0, truncations_adopted=0, scrub_passes=0,
            damage_found=0, log_repairs=0, page_repairs=0, gap_waits=0)

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> None:
        """Read (or create) the node control file and open every segment directory."""
        os.makedirs(self.data_dir, exist_ok=True)
        if os.path.exists(self._control_path):
            with open(self._control_path, "rb") as handle:
                control = NodeControl.unpack(handle.read(), self._control_path)
            if control.node_id != self.node_id or control.cluster_id != \
                    self.config.cluster_id_bytes:
                raise OperationalError(
                    f"{self.data_dir} belongs to node {control.node_id} of cluster "
                    f"{control.cluster_id.hex()}, not node {self.node_id} of cluster "
                    f"{self.config.cluster_id}")
            self._control = control
        else:
            self.disk.write_atomic(self._control_path, self._control.pack())
        if self.archive_progress is not None:
            self.archive_progress.load()
        for name in sorted(os.listdir(self.data_dir)):
            match = _PG_DIR.match(name)
            if not match:
                continue
            pg = int(match.group(1))
            if not self.config.holds(self.node_id, pg):
                log.warning("node %d: %s is not placed on this node any more; ignored",
                            self.node_id, name)
                continue
            self._open_store(pg)

    def _open_store(self, pg: int) -> SegmentStore:
        first_page, page_count = self.config.page_range(pg)
        progress = self.archive_progress
        hooks = {} if progress is None else dict(
            retain=functools.partial(progress.retain, pg),
            before_install=functools.partial(progress.before_install, pg))
        store = SegmentStore(pg_directory(self.data_dir, pg), pg, first_page, page_count,
                             disk=self.disk, max_file_size=self.max_file_size, **hooks)
        # Damage in the middle of a log is cut out and refetched from peers (R4).
        created = store.open(salvage=True)
        if progress is not None:
            progress.adopt(pg, created, store.chain_base)
        if store.damaged_ranges():
            log.warning("node %d pg %d: damaged log bytes cut out at open: %s; SCL %d, "
                        "refetching from peers", self.node_id, pg, store.damaged_ranges(),
                        store.scl)
            self.log_damaged(pg, store)
        self._stores[pg] = store
        self._durable[pg] = store.scl       # what is on disk at open is durable
        return store

    def log_damaged(self, pg: int, store: SegmentStore) -> None:
        """Damaged log bytes of ``pg`` were cut out. Records above the chain base come back by
        gossip (SCL dropped below them), but records at or below it are in the pages and
        nobody refetches them: the log may now lack some of them, so an archiving node must
        not cut chunks from it below the chain base (archiver A2: raise the log floor)."""
        if self.archive_progress is not None:
            self.archive_progress.raise_floor(pg, store.chain_base)

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            try:
                store.close()
            except Exception as exc:    # closing the others matters more
                log.error("node %d: closing segment %d: %s", self.node_id, store.pg_id, exc)

    # -- stores ---------------------------------------------------------------------------------
    def holds(self, pg: int) -> bool:
        return self.config.holds(self.node_id, pg)

    def store(self, pg: int, *, create: bool = False) -> SegmentStore | None:
        """The segment of ``pg`` (created when ``create``); UnknownProtectionGroup if the PG is
        not placed on this node."""
        if not self.holds(pg):
            raise UnknownProtectionGroup(f"node {self.node_id} holds no segment of protection "
                                         f"group {pg}")
        with self._lock:
            store = self._stores.get(pg)
            if store is None and create:
                store = self._open_store(pg)
            return store

    def stores(self) -> dict[int, SegmentStore]:
        with self._lock:
            return dict(self._stores)

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + amount

    # -- epochs ---------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self._control.epoch

    @property
    def truncation(self) -> tuple[int, int]:
        return self._control.truncation_epoch, self._control.truncation_lsn

    def _check_epoch_locked(self, epoch: int) -> None:
        """Refuse an older epoch (quorum.md Q6, Invariant 6); adopt a newer one durably."""
        if epoch < self._control.epoch:
            raise StaleEpochError(f"node {self.node_id} has seen volume epoch "
                                  f"{self._control.epoch}; refusing a request of epoch {epoch}")
        if epoch > self._control.epoch:
            self._write_control(epoch=epoch)
            self.count("epoch_adoptions")

    def _write_control(self, **changes: int) -> None:
        control = _replace(self._control, **changes)
        self.disk.write_atomic(self._control_path, control.pack())
        self._control = control

    def check_epoch(self, epoch: int) -> None:
        with self._epoch_lock:
            self._check_epoch_locked(epoch)

    def adopt_epoch(self, epoch: int) -> bool:
        """Adopt a newer epoch learnt from a peer (it only fences more); True if adopted."""
        with self._epoch_lock:
            if epoch <= self._control.epoch:
                return False
            self._write_control(epoch=epoch)
            self.count("epoch_adoptions")
            return True

    # -- foreground -----------------------------------------------------------------------------
    def append_batch(self, batch: WriteBatch, *, check_epoch: bool = True) -> list[int]:
        """Append every section to its segment (records CRC-checked by the store) with its
        frontier range; return the PGs. Durability comes from ``sync_stores`` (group commit)."""
        for section in batch.sections:
            if not self.holds(section.pg):
                raise UnknownProtectionGroup(f"node {self.node_id} holds no segment of "
                                             f"protection group {section.pg}")
        with self._epoch_lock:
            return self._append_locked(batch, check_epoch)

    def try_append_batch(self, batch: WriteBatch, *, check_epoch: bool = True
                         ) -> list[int] | None:
        """``append_batch`` on the caller's thread if it cannot wait on the disk: None when a
        FENCE or TRUNCATE holds the epoch lock, a segment must first be created or a new epoch
        adopted (all fsync), or a segment is busy, and the caller runs ``append_batch`` in a worker thread instead. The append itself
        only writes to the page cache, so the event loop saves a thread hand-off per batch."""
        with self._lock:
            stores = [self._stores.get(section.pg) for section in batch.sections]
        # A store busy (materialization holds its lock over a few fsyncs) means the thread;
        # the check races, at worst this waits as long as the worker thread would have.
        if any(store is None or store.busy() for store in stores):
            return None
        if not self._epoch_lock.acquire(blocking=False):
            return None
        try:
            if check_epoch and batch.epoch > self._control.epoch:
                return None         # adopting it writes the control file
            return self._append_locked(batch, check_epoch)
        finally:
            self._epoch_lock.release()

    def _append_locked(self, batch: WriteBatch, check_epoch: bool) -> list[int]:
        if check_epoch:
            self._check_epoch_locked(batch.epoch)
        for section in batch.sections:
            store = self.store(section.pg, create=True)
            frontier = (section.start, section.end) if section.end > section.start else None
            store.append(section.records, frontier=frontier)
        size = sum(len(section.records) for section in batch.sections)
        with self._lock:
            self.counters["batches"] += 1
            self.counters["sections"] += len(batch.sections)
            self.counters["batch_bytes"] += size
        return [section.pg for section in batch.sections]

    def append_records(self, records: Records, truncation: tuple[int, int]) -> int | None:
        """Append records fetched from a peer (a frontier range, like a batch); return SCL.
        ``truncation`` is this node's truncation when the fetch was decided: if a truncation
        came in meanwhile the records are dropped (None) - they may be the ones it removed."""
        store = self.store(records.pg, create=True)
        frontier = (records.start, records.end) if records.end > records.start else None
        with self._epoch_lock:
            if self.truncation != truncation:
                return None
            store.append(records.records, frontier=frontier)
        return store.scl

    def sync_stores(self, pgs: list[int] | None = None, *, blocking: bool = True
                    ) -> dict[int, int] | None:
        """fsync the segments of ``pgs`` (every one when None); return their durable SCLs.
        With ``blocking=False``, None when a segment is held by a maintenance step (see
        ``SegmentStore.sync``): the caller then repeats the call in a worker thread."""
        stores = self.stores()
        with self._lock:
            generation = self._lowered
        result = {}
        for pg in (sorted(stores) if pgs is None else pgs):
            store = stores.get(pg)
            scl = store.sync(blocking=blocking) if store is not None else 0
            if scl is None:
                return None
            result[pg] = scl
        with self._lock:
            if generation == self._lowered:
                for pg, scl in result.items():
                    if pg in self._stores:
                        self._durable[pg] = scl
        return result

    def durable_scl(self, pg: int) -> int:
        with self._lock:
            return self._durable.get(pg, 0)

    def note_durable(self, pg: int) -> None:
        """After a repair, truncation or install changed SCL: what is durable now (a sync
        that no sync begun earlier may overwrite)."""
        with self._lock:
            self._lowered += 1
        self.sync_stores([pg])

    def state(self, *, sync: bool) -> SegmentState:
        """SEGMENT_STATE for every segment this node holds. With ``sync`` (FENCE) everything
        appended so far is made durable first, so the state covers every batch that passed
        the epoch check before it (R1)."""
        durable = self.sync_stores() if sync else None
        t_epoch, t_lsn = self.truncation
        pgs = []
        for pg, store in sorted(self.stores().items()):
            scl = durable[pg] if durable is not None else self.durable_scl(pg)
            pgs.append(PgState(pg, scl, store.max_lsn, store.last_txn_end(scl),
                               store.last_cpl(scl), t_epoch, t_lsn, store.materialized_lsn))
        return SegmentState(self.epoch, tuple(pgs))

    def fence(self, epoch: int) -> SegmentState:
        """Persist ``epoch`` if newer (control file, fsync) and answer the state (recovery.md
        step 1); an older epoch is refused."""
        with self._epoch_lock:
            self._check_epoch_locked(epoch)
        self.count("fences")
        return self.state(sync=True)

    def truncate(self, epoch: int, above: int) -> None:
        """Drop every record above ``above`` in every segment and record the truncation with
        its epoch (recovery.md step 4)."""
        with self._epoch_lock:
            self._check_epoch_locked(epoch)
            self._truncate_locked(epoch, above)
        self.count("truncations")

    def _truncate_locked(self, epoch: int, above: int) -> None:
        failures = []
        for pg, store in sorted(self.stores().items()):
            try:
                store.truncate_above(above)
            except InternalError as exc:
                failures.append(str(exc))
            self.note_durable(pg)
        # One control write: no state is ever seen with the truncation but not its epoch.
        self._write_control(truncation_epoch=epoch, truncation_lsn=above,
                            epoch=max(epoch, self._control.epoch))
        if failures:
            raise InternalError("; ".join(failures))

    def adopt_truncation(self, epoch: int, above: int) -> bool:
        """A peer applied TRUNCATE(epoch, above) and this node has only seen older epochs: every
        record it holds above ``above`` came from an older writer and belongs to no committed
        transaction (recovery.md step 4: gossip carries truncations). True if applied."""
        with self._epoch_lock:
            if epoch <= self._control.epoch:
                return False
            self._truncate_locked(epoch, above)
        self.count("truncations_adopted")
        return True

    def set_horizon(self, epoch: int, lsn: int, *, check_epoch: bool = True) -> None:
        if check_epoch:
            self.check_epoch(epoch)
        with self._lock:
            self.horizon = max(self.horizon, lsn)

    def get_page(self, pg: int, page_id: int, read_point: int) -> bytes:
        """The page as of ``read_point``, sealed (all zero when never written); BEHIND if the
        segment's SCL is below the read point (quorum.md Q7)."""
        if self.config.pg_of(page_id) != pg:
            raise ProgrammingError(f"page {page_id} is in protection group "
                                   f"{self.config.pg_of(page_id)}, not {pg}")
        store = self.store(pg)
        self.count("get_pages")
        if store is None:
            if read_point > 0:
                raise ReadPointBehind(f"node {self.node_id} holds nothing of protection group "
                                      f"{pg} yet (SCL 0 < read point {read_point})")
            return bytes(PAGE_SIZE)
        page = store.get_page(page_id, read_point)
        return bytes(seal(page)) if any(page) else bytes(page)

    def fetch_records(self, pg: int, low: int, high: int, max_bytes: int) -> Records:
        """Records of ``pg`` with low < lsn <= end, end <= min(high, durable SCL): only what
        this segment holds completely (a frontier range)."""
        store = self.store(pg)
        limit = min(high, self.durable_scl(pg))
        if store is None or limit <= low:
            return Records(pg, low, low, b"")
        end, data = store.fetch(low, limit, max(1, max_bytes))
        with self._lock:
            self.counters["fetches"] += 1
            self.counters["fetched_bytes"] += len(data)
        return Records(pg, low, end, data)

    def fetch_pages(self, pg: int, first_page: int, max_pages: int) -> Pages:
        store = self.store(pg)
        self.count("page_fetches")
        if store is None:
            return Pages(pg, 0, 0, 0, NO_MORE_PAGES, ())
        materialized, cpl, txn_end, next_page, images = store.page_images(first_page,
                                                                          max_pages)
        return Pages(pg, materialized, cpl, txn_end,
                     NO_MORE_PAGES if next_page is None else next_page, tuple(images))

    # -- observability --------------------------------------------------------------------------
    def statistics(self) -> dict:
        """Node counters, the fsync count of its disk, and per-PG SCL / max LSN / materialized."""
        stores = self.stores()
        with self._lock:
            stats: dict = dict(self.counters)
            durable = dict(self._durable)
        t_epoch, t_lsn = self.truncation
        stats.update(
            node_id=self.node_id, pid=os.getpid(), address=self.info.address,
            data=self.data_dir, epoch=self.epoch, truncation_epoch=t_epoch,
            truncation_lsn=t_lsn, horizon=self.horizon, fsyncs=self.disk.fsyncs,
            bytes_written=self.disk.bytes_written,
            pgs={str(pg): dict(scl=store.scl, durable_scl=durable.get(pg, 0),
                               max_lsn=store.max_lsn, materialized_lsn=store.materialized_lsn,
                               gaps=len(store.gaps()),
                               records=store.statistics()["records"])
                 for pg, store in sorted(stores.items())})
        return stats
