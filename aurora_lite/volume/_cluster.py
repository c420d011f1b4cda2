"""ClusterVolume: the Volume interface over the six-segment storage tier (the quorum client).

The writer's threads call the Volume methods; a dedicated thread runs a trio event loop with
the I/O engine (``_engine``: one connection task per storage node, the flusher, the
heartbeat, reads). The two sides meet in a few places, each cheap:

* ``submit`` appends the MTR buffer to a queue under a lock and wakes the flusher only when it
  is not already awake (``run_sync_soon``): a burst of commits costs one wake-up;
* VDL is published by the I/O thread, which wakes exactly the commits it covers
  (``_writer.WriterVolume``); ``wait_durable`` returns only once VDL >= its LSN (Invariant 2,
  Q4), or raises OperationalError on timeout or failure, never early;
* reads and recovery run on the I/O thread through ``trio.from_thread.run``.

Only redo records are sent (Invariant 1): ``page_bytes_shipped`` is always 0. LSNs come from an
``LsnAllocator`` whose window gives back-pressure (Q5). A STALE_EPOCH answer from any node
fences this writer for good: every later call raises StaleEpochError (Q6).

``open`` runs recovery (``_takeover``) and, when stragglers may hold stale records, writes the
epoch's first MTR itself: VOID(from=D) flagged TXN_END in every PG (recovery.md step 5).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, fields

import trio

from aurora_lite.env.loops import run_on_loop
from aurora_lite.errors import InterfaceError, InternalError, OperationalError
from aurora_lite.membership import ClusterConfig, load, load_secret
from aurora_lite.redo import MiniTransaction
from aurora_lite.volume._allocator import LsnAllocator
from aurora_lite.volume._engine import Engine
from aurora_lite.volume._interface import RecoveredState
from aurora_lite.volume._writer import WriterVolume
from aurora_lite.volume._takeover import take_over

_log = logging.getLogger("aurora_lite.volume")
CLUSTER_FILE = "cluster.json"
# statistics() asks every node for its STATUS; a node that does not answer this fast is left
# out (a stopped node must not make statistics slow).
_STATUS_TIMEOUT = 0.5


@dataclass(frozen=True)
class ClusterOptions:
    """Tuning of the quorum client (seconds unless stated)."""

    window: int = 1 << 20              # LSNs allocated beyond VDL before mark() waits (Q5)
    backpressure_timeout: float = 30.0
    connect_timeout: float = 2.0
    request_timeout: float = 5.0       # fence, truncate, state requests
    open_timeout: float = 30.0         # the whole recovery
    recovery_grace: float = 0.25       # extra wait for the rest once a read quorum answered
    read_timeout: float = 30.0
    read_retry: float = 0.05
    hedge_delay: float = 0.02          # minimum wait before a read is re-sent elsewhere
    hedge_max: float = 0.25
    max_inflight: int = 1              # flushes waiting for the write quorum (group commit)
    group_delay: float = 0.002         # how long an idle quorum waits for expected commits
    group_delay_max: float = 0.05      # (at least; up to two round trips, at most this)
    heartbeat: float = 0.05
    horizon_interval: float = 1.0
    close_timeout: float = 30.0
    max_outbox: int = 64 << 20         # bytes queued for one node before it is cut loose


_OPTION_NAMES = {field.name for field in fields(ClusterOptions)}


class ClusterVolume(WriterVolume):
    """The writer's client of the storage tier described by a cluster file."""

    def __init__(self, config: ClusterConfig | str | os.PathLike, secret: bytes | None = None,
                 **options) -> None:
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            raise TypeError(f"unknown ClusterVolume options: {', '.join(sorted(unknown))}")
        if not isinstance(config, ClusterConfig):
            config = load(config)
        self.config = config
        self._secret = secret if secret is not None else load_secret(config.path)
        self.options = ClusterOptions(**options)
        self._init_writer()
        self._engine: Engine | None = None
        self._reset_state()

    def describe(self) -> str:
        return f"volume of cluster {self.config.path}"

    @classmethod
    def from_directory(cls, directory: str | os.PathLike, **options) -> "ClusterVolume":
        """The volume of the cluster whose cluster file is ``directory``/cluster.json."""
        return cls(os.path.join(os.fspath(directory), CLUSTER_FILE), **options)

    def _reset_state(self) -> None:
        self._queue: list[tuple[bytes, int, bool]] = []
        self._queued_commits = 0
        self._flush_signalled = False
        self._last_submitted = 0
        self._vdl = 0
        self._durable_txn_end = 0
        self._horizon = 0
        self._horizon_signalled = False
        self.failure: BaseException | None = None
        self.max_pg = 0
        self._known_max_pg = -1
        self._closing = False
        self.epoch = 0
        self._counters = dict(submits=0, redo_records_shipped=0, redo_bytes_shipped=0)

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> RecoveredState:
        if self._open:
            raise InterfaceError(f"volume of cluster {self.config.path} is already open")
        self._reset_state()
        self._engine = self._token = self._stop = None
        self._allocator = None
        self._start_thread()
        try:
            takeover = self._on_io_thread(take_over, self._engine)
            self.epoch = takeover.epoch
            durable_point = takeover.durable_point
            pgs = takeover.pgs
            self._allocator = LsnAllocator(
                takeover.next_lsn, pg_size=self.config.pg_size,
                last_lsns={pg: durable_point for pg in pgs} if durable_point else None,
                vdl=durable_point, window=self.options.window,
                timeout=self.options.backpressure_timeout)
            self._last_submitted = takeover.next_lsn - 1
            self.max_pg = max(pgs, default=0)
            self._known_max_pg = max(pgs, default=-1)
            self._open = True
            if takeover.needs_void:
                # recovery.md step 5: stale records in (D, G) on stragglers are void everywhere.
                mtr = MiniTransaction(self)
                for pg in pgs:
                    mtr.void(pg * self.config.pg_size, durable_point)
                self.submit(mtr.finish(txn_end=True), mtr.last_lsn, txn_end=True)
                self.wait_durable(mtr.last_lsn, timeout=self.options.open_timeout)
        except BaseException:
            self._open = False
            self._stop_thread()
            raise
        return RecoveredState(vdl=self._vdl, durable_point=durable_point,
                              next_lsn=self._allocator.next_lsn, epoch=takeover.epoch,
                              created=takeover.created)

    def _start_thread(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._io_thread, args=(started,),
                                        name="aurora-volume-io", daemon=True)
        self._thread.start()
        started.wait(30)
        if self._engine is None:
            raise OperationalError(f"the storage I/O thread did not start: {self.failure}")

    def _io_thread(self, started: threading.Event) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            engine = Engine(self, self.config, self._secret)
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                self._engine = engine
                started.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()

        try:
            trio.run(main)
        except BaseException as exc:  # noqa: BLE001 - reported to every waiter instead
            _log.exception("the storage I/O thread failed")
            self.fail(InternalError(f"the storage I/O thread failed: {exc!r}"))
        finally:
            started.set()

    def close(self) -> None:
        """Wait (bounded) for everything submitted to be durable, then stop the I/O thread."""
        with self._lock:
            if not self._open:
                return
            self._closing = True
            last = self._last_submitted
        try:
            if self.failure is None and last > self._vdl:
                self.wait_durable(last, timeout=self.options.close_timeout)
        except OperationalError as exc:
            _log.warning("closing the volume with submitted records not durable: %s", exc)
        finally:
            self._stop_thread()
            self._mark_closed()

    def _on_io_thread(self, async_fn, *args):
        if self._token is None:
            raise OperationalError("the storage I/O thread is not running")
        try:
            # Also from another trio loop's thread (the wire server's inline reads).
            return run_on_loop(self._token, async_fn, *args)
        except trio.RunFinishedError:
            raise OperationalError(f"the storage I/O thread has stopped"
                                   f"{f': {self.failure}' if self.failure else ''}") from None

    # -- write side -----------------------------------------------------------------------------
    def allocate(self, page_id: int) -> tuple[int, int]:
        result = self._require_allocator().allocate(page_id)
        pg = page_id // self.config.pg_size
        if pg > self.max_pg:
            self.max_pg = pg
        return result

    def submit(self, buffer: bytes | bytearray, last_lsn: int, *, txn_end: bool) -> None:
        data = bytes(buffer)
        with self._lock:
            self._check_usable()
            if last_lsn <= self._last_submitted:
                raise InternalError(f"MTR ending at LSN {last_lsn} submitted after LSN "
                                    f"{self._last_submitted}: submissions must follow LSN order")
            self._queue.append((data, last_lsn, txn_end))
            self._queued_commits += txn_end
            counters = self._counters
            counters["submits"] += 1
            counters["redo_bytes_shipped"] += len(data)
            counters["redo_records_shipped"] += last_lsn - self._last_submitted
            self._last_submitted = last_lsn
            wake = not self._flush_signalled
            self._flush_signalled = True
        if wake:
            try:
                self._token.run_sync_soon(self._engine.wake_flusher)
            except trio.RunFinishedError:
                self._raise_failure()
                raise OperationalError("the storage I/O thread has stopped") from None

    def take_queue(self) -> list[tuple[bytes, int, bool]]:
        """Everything submitted since the last call (the flusher, on the I/O thread)."""
        with self._lock:
            queue, self._queue = self._queue, []
            self._queued_commits = 0
            self._flush_signalled = False
            return queue

    def queued_commits(self) -> int:
        """Transaction ends submitted and not yet taken by the flusher."""
        return self._queued_commits

    def rearm_flush(self) -> None:
        """Let the next submit wake the flusher (it waits for more while lingering)."""
        with self._lock:
            self._flush_signalled = False

    def publish_vdl(self, vdl: int, durable_txn_end: int) -> None:
        """VDL advanced (the I/O thread): wake commits and MTRs waiting for the window."""
        self._publish(vdl, durable_txn_end)

    def wait_durable(self, lsn: int, timeout: float | None = None) -> int:
        durable, vdl = self._await_durable(lsn, timeout)
        if durable:
            return vdl
        self._raise_not_durable(lsn)
        raise OperationalError(
            f"lsn {lsn} did not become durable within {timeout:g} s (VDL {vdl}): fewer than 4 "
            f"of 6 segments of a protection group acknowledge ({self._down_nodes()})")

    def _down_nodes(self) -> str:
        engine = self._engine
        if engine is None:
            return "not connected"
        down = [f"node {link.node_id}: {link.last_error or 'down'}"
                for link in engine.links.values() if not link.ready]
        return "; ".join(down) if down else "every node is connected; some are behind"

    def protection_group_anchors(self) -> list[int]:
        highest = max(self.max_pg, self._known_max_pg, 0)
        return [pg * self.config.pg_size for pg in range(highest + 1)]

    def set_horizon(self, lsn: int) -> None:
        with self._lock:
            if lsn <= self._horizon or not self._open:
                return
            self._horizon = lsn
            wake = not self._horizon_signalled
            self._horizon_signalled = True
        if wake and self._token is not None:
            try:
                self._token.run_sync_soon(self._engine.wake_horizon)
            except trio.RunFinishedError:
                pass

    def take_horizon(self) -> int:
        with self._lock:
            self._horizon_signalled = False
            return self._horizon

    # -- read side ------------------------------------------------------------------------------
    def get_page(self, page_id: int, read_point: int) -> bytearray:
        self._check_usable()
        return self._on_io_thread(self._engine.read_page, page_id, read_point)

    # -- observability ------------------------------------------------------------------------
    def statistics(self) -> dict:
        """Counters of the writer side, the quorum state, per-node link counters and, from
        each node's STATUS, its fsyncs and materialized LSNs. ``fsyncs`` is the count of the
        busiest node (one segment's fsyncs: what group commit saves), ``materialized_lsn``
        the lowest any answering node has reached."""
        with self._lock:
            stats: dict = dict(self._counters)
            stats.update(page_bytes_shipped=0, vdl=self._vdl,
                         durable_txn_end=self._durable_txn_end, horizon=self._horizon,
                         epoch=self.epoch, failed=self.failure is not None,
                         failure=str(self.failure) if self.failure else None)
        allocator = self._allocator
        stats["backpressure_waits"] = allocator.waits if allocator is not None else 0
        stats.update(fsyncs=0, fsyncs_total=0, materialized_lsn=0, group_commits=0)
        engine, token = self._engine, self._token
        if engine is None or token is None:
            return stats
        try:
            stats.update(trio.from_thread.run_sync(engine.snapshot, trio_token=token))
            statuses = trio.from_thread.run(engine.node_statuses, _STATUS_TIMEOUT,
                                            trio_token=token)
        except trio.RunFinishedError:
            return stats
        fsyncs = [status.get("fsyncs", 0) for status in statuses.values()]
        materialized = [min(pg["materialized_lsn"] for pg in status["pgs"].values())
                        for status in statuses.values() if status.get("pgs")]
        stats.update(fsyncs=max(fsyncs, default=0), fsyncs_total=sum(fsyncs),
                     materialized_lsn=min(materialized, default=0))
        for node_id, status in statuses.items():
            stats["nodes"][node_id].update(fsyncs=status.get("fsyncs", 0),
                                           epoch=status.get("epoch"),
                                           pid=status.get("pid"))
        return stats


def open_cluster_volume(directory: str | os.PathLike, **options) -> ClusterVolume:
    """An unopened ClusterVolume for the cluster in ``directory`` (its ``cluster.json`` and
    secret). The storage processes are the caller's business (aurora_lite.cluster starts
    them: this layer may not import it)."""
    return ClusterVolume.from_directory(directory, **options)
