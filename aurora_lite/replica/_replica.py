"""A read replica: follows the writer's redo stream, serves read-only sessions at read points.

``Replica(cluster_file, writer=HOST:PORT)`` owns:

* a trio event loop on its own thread running the read-only storage client
  (``StorageReader``) and the stream follower (``_follower.follow``);
* the replica's buffer pool (``ReplicaPool``): cached pages follow the stream, everything
  else is read from storage at the read point;
* the **read point** and the catalog as of it. The read point moves only to a transaction
  end the writer announced (READ_POINT, or the read point of a HEARTBEAT) and only once every
  record up to it was received (replication.md P1, P2): readers never see part of a
  transaction, nor a transaction that did not commit (Invariant 3). When the catalog version
  announced with it differs from the one in use, the catalog is loaded *at* that read point
  before the read point moves, so readers always plan against the schema of their snapshot.

Sessions (``session()``) are aurora_lite.txn sessions that cannot write: the first write of
a transaction raises ReadOnlyError (SQLSTATE 25006). ``statistics()`` and ``lag()`` report
how far the replica is behind, in milliseconds and in LSN.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, deque

import trio

from aurora_lite.btree import BTree, SnapshotView
from aurora_lite.catalog import Catalog
from aurora_lite.catalog._store import CATALOG_TREE_ID, CatalogStore
from aurora_lite.env.loops import run_on_loop
from aurora_lite.errors import OperationalError, ReadOnlyError
from aurora_lite.membership import ClusterConfig, load, load_secret
from aurora_lite.page import META_PAGE_ID, OFF_META_CATALOG_ROOT, read_u32
from aurora_lite.replica._pool import ReplicaPool
from aurora_lite.replica._storage import SnapshotTooOld, StorageReader
from aurora_lite.txn import Session

log = logging.getLogger("aurora_lite.replica")
_PRUNE_INTERVAL = 0.02
_VISIBILITY_LOG = 100_000


class ReplicaSnapshot(SnapshotView):
    """A snapshot that keeps its read point registered while anyone holds it (the replica
    reports the oldest one to the writer, which keeps storage's horizon below it)."""

    __slots__ = ("replica",)

    def __del__(self) -> None:
        replica = self.replica
        if replica is not None:
            self.replica = None
            replica._release_reader(self.read_point)


class _NoWrites:
    """Stands in for the writer's WriteContext: a replica never has a last LSN of its own."""

    last_lsn = 0


class ReplicaSession(Session):
    """A session of a replica: reads at the replica's read points, never writes."""

    def _become_writer(self, txn) -> None:
        raise ReadOnlyError("cannot execute a write on a read replica: this transaction is "
                            "read-only (connect to the writer to change data)")


class Replica:
    """A replica of the volume described by ``cluster_file``, following ``writer``."""

    def __init__(self, cluster_file: str | os.PathLike | ClusterConfig, *,
                 writer: str | None = None, name: str = "", pool_pages: int = 4096,
                 secret: bytes | None = None, heartbeat_timeout: float = 1.0,
                 read_timeout: float = 10.0, hedge_delay: float = 0.02) -> None:
        config = cluster_file if isinstance(cluster_file, ClusterConfig) else load(cluster_file)
        self.config = config
        self.directory = os.path.dirname(os.path.abspath(config.path))
        self.secret = secret if secret is not None else load_secret(config.path)
        self.writer = writer
        self.name = name or f"replica pid {os.getpid()}"
        self.heartbeat_timeout = heartbeat_timeout
        self.storage = StorageReader(config, self.secret, read_timeout=read_timeout,
                                     hedge_delay=hedge_delay)
        self.pool = ReplicaPool(self._fetch, pool_pages)
        self.ctx = _NoWrites()
        self.lock_timeout = 5.0
        self._state_lock = threading.Lock()
        self._readers: Counter[int] = Counter()
        self._advanced = threading.Condition(self._state_lock)
        self.read_point = 0
        self.epoch = 0
        self.published_catalog: Catalog | None = None
        self.latest_catalog: Catalog | None = None
        self.catalog_version = 0          # the writer's version of published_catalog
        self._local_catalog_versions = 0
        self._tables: dict[tuple[int, str], object] = {}
        self.closed = False
        self.ready = threading.Event()    # the first stream started: sessions may read
        # Lag bookkeeping (updated on the I/O thread).
        self.pending: deque[tuple[int, int, int]] = deque()  # announced, not yet visible
        self.writer_read_point = 0
        self.writer_vdl = 0
        self.writer_position = 0
        self.last_heartbeat = 0.0         # local monotonic time of the last HEARTBEAT
        self.connected = False
        self.visibility: deque[tuple[int, int, int]] = deque(maxlen=_VISIBILITY_LOG)
        self._recent: deque[int] = deque(maxlen=1000)   # announcement -> visible, us
        self.counters = dict(advances=0, catalog_reloads=0, fresh_starts=0, resumes=0,
                             resyncs=0, reconnects=0, stream_errors=0, redo_batches=0)
        self.last_error = ""
        self.resync_wanted = False        # storage lost the read point: start fresh
        self._last_prune = 0.0
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._follow_scope: trio.CancelScope | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 30.0, *, wait_ready: bool = True) -> "Replica":
        """Start following; with ``wait_ready``, return once the first stream started."""
        self._thread = threading.Thread(target=self._io_main, name="aurora-replica-io",
                                        daemon=True)
        self._thread.start()
        self._started.wait(timeout)
        if self._failure is not None:
            raise OperationalError(f"the replica's I/O thread failed: {self._failure}")
        if wait_ready and not self.ready.wait(timeout):
            self.close()
            raise OperationalError(f"the replica did not start following the writer within "
                                   f"{timeout:g} s: {self.last_error or 'no answer'}")
        return self

    def _io_main(self) -> None:
        from aurora_lite.replica._follower import follow

        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(self.storage.run)
                self._follow_scope = trio.CancelScope()
                nursery.start_soon(self._follow, follow)
                self._started.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()

        try:
            trio.run(main)
        except BaseException as exc:  # noqa: BLE001 - reported to start() and readers
            self._failure = exc
            log.exception("the replica's I/O thread failed")
        finally:
            self._started.set()

    async def _follow(self, follow) -> None:
        with self._follow_scope:
            await follow(self)

    def stop_following(self) -> None:
        """Stop the stream (promotion): the read point stays where it is."""
        token, scope = self._token, self._follow_scope
        if token is not None and scope is not None:
            try:
                trio.from_thread.run_sync(scope.cancel, trio_token=token)
            except trio.RunFinishedError:
                pass
        self.connected = False

    def run_on_io_thread(self, async_fn, *args):
        """Run ``async_fn(*args)`` on the replica's event loop (tools: the control endpoint)."""
        if self._token is None:
            raise OperationalError("the replica's I/O thread is not running")
        return trio.from_thread.run(async_fn, *args, trio_token=self._token)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        thread, token, stop = self._thread, self._token, self._stop
        if thread is not None and token is not None and stop is not None:
            try:
                token.run_sync_soon(stop.set)
            except trio.RunFinishedError:
                pass
            thread.join(10)
        self._thread = None
        with self._advanced:
            self._advanced.notify_all()

    # -- storage -------------------------------------------------------------------------------
    def _fetch(self, page_id: int, read_point: int) -> bytearray:
        if self._token is None:
            raise OperationalError("the replica is not running")
        try:
            # Also from another trio loop's thread (the wire server's inline reads).
            return run_on_loop(self._token, self.storage.read_page, page_id, read_point)
        except trio.RunFinishedError:
            raise OperationalError("the replica has stopped") from None
        except SnapshotTooOld:
            if read_point >= self.read_point:
                # Storage's horizon passed the replica's own read point (a new writer does
                # not know it yet): follow again from the writer's current one.
                self.resync_wanted = True
            raise

    # -- the stream (called on the I/O thread by the follower) -------------------------------
    def load_catalog(self, read_point: int) -> Catalog:
        """The catalog as read from the pages at ``read_point`` (a worker thread)."""
        view = SnapshotView(self.pool, read_point)
        meta = self.pool.read(META_PAGE_ID, read_point).data
        store = CatalogStore(BTree(self.pool, read_u32(meta, OFF_META_CATALOG_ROOT),
                                   CATALOG_TREE_ID))
        self._local_catalog_versions += 1
        return store.load(view, self._local_catalog_versions)

    def make_visible(self, read_point: int, catalog: Catalog | None, catalog_version: int,
                     published_us: int, *, epoch: int | None = None) -> None:
        """P1: the one place the read point moves. ``catalog`` None keeps the current one."""
        now_us = time.time_ns() // 1000
        with self._advanced:
            if read_point < self.read_point:
                log.warning("read point %d is below the current %d (new writer): taking it",
                            read_point, self.read_point)
            self.read_point = read_point
            if catalog is not None:
                self.published_catalog = self.latest_catalog = catalog
                self.catalog_version = catalog_version
            if epoch is not None:
                self.epoch = epoch
            self._advanced.notify_all()
        self.pool.advance(read_point)
        self.counters["advances"] += 1
        self.visibility.append((read_point, published_us, now_us))
        if published_us:
            self._recent.append(now_us - published_us)
        while self.pending and self.pending[0][0] <= read_point:
            self.pending.popleft()
        now = time.monotonic()
        if now - self._last_prune > _PRUNE_INTERVAL:
            self._last_prune = now
            self.pool.prune_versions(self.oldest_read_point())
        self.ready.set()

    def wait_for(self, lsn: int, timeout: float) -> bool:
        """Wait until the read point is at least ``lsn`` (tests, benchmarks)."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.read_point >= lsn or self.closed,
                                           timeout) and self.read_point >= lsn

    # -- the engine API the SQL layers use -------------------------------------------------------
    def session(self) -> ReplicaSession:
        if self.closed:
            raise OperationalError("the replica is closed")
        if not self.ready.is_set():
            raise OperationalError("the replica has not started following the writer yet "
                                   f"({self.last_error or 'connecting'})", sqlstate="57P03")
        return ReplicaSession(self)

    def snapshot(self, read_point: int | None = None) -> ReplicaSnapshot:
        with self._state_lock:
            if read_point is None:
                read_point = self.read_point
            self._readers[read_point] += 1
        view = ReplicaSnapshot(self.pool, read_point)
        view.replica = self
        return view

    def _release_reader(self, read_point: int) -> None:
        with self._state_lock:
            remaining = self._readers[read_point] - 1
            if remaining > 0:
                self._readers[read_point] = remaining
            else:
                del self._readers[read_point]

    def oldest_read_point(self) -> int:
        with self._state_lock:
            return min(min(self._readers, default=self.read_point), self.read_point)

    def table_handle(self, catalog: Catalog, name: str):
        key = (catalog.version, name)
        handle = self._tables.get(key)
        if handle is None:
            from aurora_lite.txn._table import Table
            handle = Table(self, catalog.tables[name], catalog.indexes_of(name))
            if len(self._tables) > 512:
                self._tables.clear()
            self._tables[key] = handle
        return handle

    def estimated_rows(self, table) -> int:
        return table.tree.estimate_count(self.snapshot())

    def acquire_write_lock(self, session) -> None:
        raise ReadOnlyError("a read replica takes no writes")

    def release_write_lock(self, session) -> None:
        pass

    def current_writer(self):
        raise ReadOnlyError("a read replica takes no writes")

    # -- observability ------------------------------------------------------------------------
    def lag_us(self) -> int:
        """Microseconds since the oldest transaction end the writer announced and this
        replica does not show yet (0 when none), or since the stream went silent beyond the
        heartbeat timeout (the replica cannot know what it misses)."""
        lag_us = 0
        try:
            oldest = self.pending[0]        # the I/O thread may empty it meanwhile
        except IndexError:
            oldest = None
        if oldest is not None:
            lag_us = max(0, time.time_ns() // 1000 - oldest[2])
        silence = time.monotonic() - self.last_heartbeat if self.last_heartbeat else None
        if not self.connected or (silence is not None and silence > self.heartbeat_timeout):
            if silence is not None:
                lag_us = max(lag_us, int(silence * 1e6))
        return lag_us

    def lag(self) -> dict:
        """How far behind the writer the replica is: ``lag_ms`` (``lag_us``), ``lag_lsn``
        (writer read point - replica read point), and the recent time from the writer's
        announcement of a read point to its visibility here (p50/p99 of the last 1000)."""
        lag_us = self.lag_us()
        samples = sorted(self._recent)      # one C-level copy: atomic under the GIL
        return {
            "lag_ms": round(lag_us / 1000, 3),
            "lag_lsn": max(0, self.writer_read_point - self.read_point),
            "read_point": self.read_point,
            "writer_read_point": self.writer_read_point,
            "writer_vdl": self.writer_vdl,
            "received": self.pool.received,
            "connected": self.connected,
            "visibility_p50_ms": round(samples[len(samples) // 2] / 1000, 3)
            if samples else None,
            "visibility_p99_ms": round(samples[int(len(samples) * 0.99)] / 1000, 3)
            if samples else None,
        }

    def statistics(self) -> dict:
        stats = dict(self.counters)
        stats.update(self.lag())
        stats.update(name=self.name, epoch=self.epoch, writer=self.writer,
                     directory=self.directory, last_error=self.last_error,
                     catalog_version=self.catalog_version, pid=os.getpid(),
                     oldest_read_point=self.oldest_read_point())
        stats.update({f"pool_{key}": value for key, value in self.pool.statistics().items()})
        stats["storage"] = self.storage.statistics()
        return stats

