"""The database: one volume, one buffer pool, one writer at a time, read points for readers.

``Database.open(directory)`` recovers the volume, bootstraps a new one (meta page, catalog tree),
and hands out ``Session`` objects. It owns the state shared by sessions:

* the write lock (one write transaction at a time, serializable);
* the published read point: the newest transaction end known durable, and the catalog as of
  it. A commit publishes its LSN only after ``wait_durable`` returns (Invariant 2);
* the registered read points of running readers, whose minimum is the horizon storage may
  coalesce up to (never above the published read point);
* per-table caches: hidden row-id counters, table handles.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

from aurora_lite.btree import BTree, LatestView, SnapshotView, WriteContext
from aurora_lite.buffer import BufferPool
from aurora_lite.catalog import Catalog
from aurora_lite.catalog._store import CATALOG_TREE_ID, CatalogStore
from aurora_lite.errors import InternalError, OperationalError
from aurora_lite.page import (
    META_PAGE_ID, NO_PAGE, OFF_META_CATALOG_ROOT, OFF_META_CREATED, OFF_META_FREELIST,
    OFF_META_LAST_TXN, OFF_META_NEXT_PAGE, OFF_META_NEXT_TREE, PageType, read_u32, read_u64,
)
from aurora_lite.values import SqlType, decode_key
from aurora_lite.volume import Volume


def now_micros() -> int:
    return time.time_ns() // 1000


class HeldSnapshot(SnapshotView):
    """A snapshot view that keeps its read point registered while anyone holds it (a lazy
    result may outlive its statement). ``__del__`` is cheaper than a weakref finalizer, and
    this sits on the path of every statement."""

    __slots__ = ("database",)

    def __del__(self) -> None:
        database = self.database
        if database is not None:
            self.database = None
            database._release_reader(self.read_point)


class Database:
    """Shared state of one open volume. Create with ``Database.open``."""

    def __init__(self, volume: Volume, *, pool_pages: int = 4096, lock_timeout: float = 5.0,
                 commit_timeout: float = 30.0, directory: str | None = None) -> None:
        self.directory = directory
        self.volume = volume
        self.lock_timeout = lock_timeout
        self.commit_timeout = commit_timeout
        state = volume.open()
        self.epoch = state.epoch
        self.pool = BufferPool(volume, pool_pages)
        self.ctx = WriteContext(self.pool, volume)
        self.ctx.last_lsn = state.next_lsn - 1
        self.pool.boundary = state.durable_point
        self._write_lock = threading.Lock()
        self._writer = None
        self._state_lock = threading.Lock()
        self._readers: Counter[int] = Counter()
        self._horizon = -1
        self.read_point = state.durable_point
        # The newest COMMIT issued (durable or not): a snapshot older than it is stale.
        self.last_commit_lsn = state.durable_point
        self._catalog_version = 0
        self._row_ids: dict[int, int] = {}
        self._tables: dict[tuple[int, str], object] = {}
        self.commits = 0
        self.rollbacks = 0
        self.read_point_listeners: list = []
        self.closed = False
        meta = self.pool.get(META_PAGE_ID).image.data
        if meta[7] != PageType.META:
            self._bootstrap()
            meta = self.pool.get(META_PAGE_ID).image.data
        self.last_txn_id = read_u64(meta, OFF_META_LAST_TXN)
        self.catalog_store = CatalogStore(
            BTree(self.pool, read_u32(meta, OFF_META_CATALOG_ROOT), CATALOG_TREE_ID))
        catalog = self.catalog_store.load(LatestView(self.pool), self.next_catalog_version())
        self.latest_catalog = catalog
        self.published_catalog = catalog

    @classmethod
    def open(cls, directory: str | os.PathLike | None = None, *, volume: Volume | None = None,
             fsync: bool = True, **options) -> "Database":
        """Open (creating if needed) the database in ``directory``, or on ``volume``."""
        if volume is None:
            if directory is None:
                raise ValueError("either a directory or a volume is needed")
            from aurora_lite.volume import LocalVolume
            volume = LocalVolume(os.fspath(directory), fsync=fsync)
        return cls(volume, directory=os.fspath(directory) if directory else None, **options)

    # -- bootstrap -----------------------------------------------------------------------------
    def _bootstrap(self) -> None:
        """Format a new volume: meta page, catalog tree, first transaction end."""
        ctx = self.ctx
        frame = self.pool.new_frame(META_PAGE_ID)
        with ctx.mtr() as mtr:
            data = frame.image.data
            mtr.init_page(data, META_PAGE_ID, PageType.META)
            mtr.write_u64(data, META_PAGE_ID, OFF_META_NEXT_PAGE, 1)
            mtr.write_u32(data, META_PAGE_ID, OFF_META_FREELIST, NO_PAGE)
            mtr.write_u64(data, META_PAGE_ID, OFF_META_NEXT_TREE, CATALOG_TREE_ID + 1)
            mtr.write_u64(data, META_PAGE_ID, OFF_META_CREATED, now_micros())
        tree = BTree.create(ctx, CATALOG_TREE_ID)
        with ctx.mtr() as mtr:
            mtr.write_u32(self.pool.for_write(ctx.meta()), META_PAGE_ID, OFF_META_CATALOG_ROOT,
                          tree.root)
        lsn = self.write_commit(1)
        self.pool.end_epoch(lsn)
        self.volume.wait_durable(lsn, timeout=self.commit_timeout)
        self.read_point = lsn

    def write_commit(self, txn_id: int) -> int:
        """Issue the COMMIT record (its CPL ends the transaction); return its LSN."""
        with self.ctx.mtr(txn_end=True) as mtr:
            mtr.commit_record(self.pool.for_write(self.ctx.meta()), txn_id, now_micros())
        return mtr.last_lsn

    # -- sessions and the write lock ------------------------------------------------------------
    def session(self):
        from aurora_lite.txn._session import Session
        if self.closed:
            raise OperationalError("the database is closed")
        return Session(self)

    def acquire_write_lock(self, session) -> None:
        if not self._write_lock.acquire(timeout=self.lock_timeout):
            raise OperationalError(
                f"could not obtain the write lock within {self.lock_timeout:g} s: another "
                f"transaction is writing", sqlstate="55P03")
        self._writer = session

    def release_write_lock(self, session) -> None:
        if self._writer is session:
            self._writer = None
            self._write_lock.release()

    def current_writer(self):
        writer = self._writer
        if writer is None:
            raise InternalError("a write was attempted outside a write transaction")
        return writer

    # -- read points ----------------------------------------------------------------------------
    def snapshot(self, read_point: int | None = None) -> HeldSnapshot:
        """A registered snapshot view at ``read_point`` (default: the newest published)."""
        with self._state_lock:
            if read_point is None:
                read_point = self.read_point
            self._readers[read_point] += 1
        view = HeldSnapshot(self.pool, read_point)
        view.database = self
        return view

    def _release_reader(self, read_point: int) -> None:
        with self._state_lock:
            remaining = self._readers[read_point] - 1
            if remaining > 0:
                self._readers[read_point] = remaining
                return
            del self._readers[read_point]
        self._advance_horizon()

    def publish(self, lsn: int, catalog: Catalog) -> None:
        """A transaction end at ``lsn`` is durable: new readers may read at it."""
        with self._state_lock:
            if lsn <= self.read_point:
                return
            self.read_point = lsn
            self.published_catalog = catalog
        for listener in self.read_point_listeners:
            listener(lsn)
        self._advance_horizon()

    def add_replication_listener(self, records, read_point) -> None:
        """Follow the writer: ``records(buffer, last_lsn)`` gets every batch of redo shipped
        to storage, in LSN order; ``read_point(lsn)`` every durable transaction end, once the
        commit is durable. Both are called on the writer's threads and must not block
        (read replicas queue and send them on their own threads)."""
        self.ctx.listeners.append(records)
        self.read_point_listeners.append(read_point)

    def published(self) -> tuple[int, Catalog]:
        """The newest published read point and the catalog as of it (one consistent pair)."""
        with self._state_lock:
            return self.read_point, self.published_catalog

    def follow_quietly(self, records, read_point, timeout: float = 10.0) -> tuple[int, Catalog]:
        """``add_replication_listener`` at a quiet moment, for a follower that starts without
        the records shipped before: take the write lock (no write transaction runs), wait
        until every issued commit is published, register, and return (read point, catalog).
        Every record shipped before is then at or below that read point or voided by a
        rollback that has ended, so the follower needs only what the listeners get."""
        token = object()
        self.acquire_write_lock(token)
        try:
            deadline = time.monotonic() + timeout
            while self.read_point < self.last_commit_lsn:
                if time.monotonic() > deadline:
                    raise OperationalError(f"commit {self.last_commit_lsn} was not published "
                                           f"within {timeout:g} s")
                time.sleep(0.001)
            self.add_replication_listener(records, read_point)
            return self.published()
        finally:
            self.release_write_lock(token)

    def remove_replication_listener(self, records, read_point) -> None:
        if records in self.ctx.listeners:
            self.ctx.listeners.remove(records)
        if read_point in self.read_point_listeners:
            self.read_point_listeners.remove(read_point)

    def _advance_horizon(self) -> None:
        with self._state_lock:
            horizon = min(self._readers) if self._readers else self.read_point
            horizon = min(horizon, self.read_point)
            if horizon <= self._horizon:
                return
            self._horizon = horizon
        self.pool.prune_versions(horizon)
        if not self.closed:
            self.volume.set_horizon(horizon)

    # -- per-table helpers -----------------------------------------------------------------------
    def next_catalog_version(self) -> int:
        self._catalog_version += 1
        return self._catalog_version

    def table_handle(self, catalog: Catalog, name: str):
        key = (catalog.version, name)
        handle = self._tables.get(key)
        if handle is None:
            from aurora_lite.txn._table import Table
            definition = catalog.tables[name]
            handle = Table(self, definition, catalog.indexes_of(name))
            if len(self._tables) > 512:
                self._tables.clear()
            self._tables[key] = handle
        return handle

    def next_row_id(self, table, view) -> int:
        tree_id = table.definition.tree_id
        row_id = self._row_ids.get(tree_id)
        if row_id is None:
            last = table.tree.last_key(view)
            row_id = decode_key(last, (SqlType.INTEGER,))[0] + 1 if last else 1
        self._row_ids[tree_id] = row_id + 1
        return row_id

    def forget_row_ids(self) -> None:
        self._row_ids.clear()

    def estimated_rows(self, table) -> int:
        return table.tree.estimate_count(LatestView(self.pool))

    # -- lifecycle -----------------------------------------------------------------------------
    def statistics(self) -> dict:
        volume = self.volume.statistics()
        stats = {
            "commits": self.commits,
            "rollbacks": self.rollbacks,
            "redo_records_shipped": volume.get("redo_records_shipped", 0),
            "redo_bytes_shipped": volume.get("redo_bytes_shipped", 0),
            "page_bytes_shipped": volume.get("page_bytes_shipped", 0),
            "vdl": self.volume.vdl,
            "read_point": self.read_point,
            "epoch": self.epoch,
            "mtrs": self.ctx.mtrs,
        }
        stats.update({f"pool_{key}": value for key, value in self.pool.statistics().items()})
        stats["volume"] = volume
        return stats

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.ctx.flush()
        finally:
            self.volume.close()
