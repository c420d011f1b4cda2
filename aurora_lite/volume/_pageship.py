"""PageShipVolume: page shipping, the baseline that bench/shipping.py measures redo shipping with.

This volume is **not** Aurora: it is the mirrored-MySQL model (Aurora paper, section 3.1 and
Table 1) behind the same Volume interface, so that the same writer, B-tree, SQL and workload
run on it unchanged. It is the one place where a writer sends page images to storage; it
exists for the comparison (Invariant 1 holds for LocalVolume and ClusterVolume).

The model (docs/benchmarks.md, "Page shipping vs redo shipping"):

* **What is shipped.** Each group-commit round sends one PAGE_WRITE to every storage node: the
  log records submitted since the previous round (MySQL's redo log; a binlog is not modelled)
  and the whole 16 KB image, as of the round's last LSN, of every page those records dirtied,
  each page once per round however many transactions of the round changed it. This is the
  "ship the pages a commit dirtied" variant of the paper's mirrored setup, made as cheap as it
  honestly can be: pages that several commits of a round dirty go once; the nodes append the
  images to one file (``aurora_lite.segment._pagefile``), so there is no double-write (an
  append cannot tear an older image) and a round costs one write and one fsync per node.
* **Same policy as redo shipping.** The same six ``aurora-lite segment`` processes receive the
  frames (message types 50-59); a write is durable once 4 of 6 nodes have fsynced it; the
  flusher runs the same group commit as the quorum client (``_engine``): at most
  ``max_inflight`` rounds wait for the quorum while later commits pile up and leave together,
  and an idle quorum lingers ``group_delay`` (up to two round trips, at most
  ``group_delay_max``) for the commits it expects. Every node fsyncs once per round, as every
  segment does.
* **Where the images come from.** Nothing on the Volume interface carries a page image, so
  this volume keeps its own copy of the pages the way a MySQL primary keeps its buffer pool: it
  applies the submitted records to cached page images with the numba materializer (the same
  kernel the segments run) when it builds a round, in a worker thread off the commit path.
  ``statistics()['build_seconds']`` is that CPU, reported so a reader can see what it costs.
* **Reads and recovery.** ``get_page`` is served from a writer-local segment store (one PG,
  every page, no fsync) that holds every record shipped: versions at read points work as on a
  local volume. ``open`` recovers from that local copy (the durable point of what it holds).
  The nodes' page files are the durable copy; rebuilding the writer from them after the loss
  of the writer's machine is not implemented (the benchmark needs none), and neither is
  catching up a node that missed a write (it answers BEHIND and stays out of the quorum: two
  such nodes are tolerated, as with the quorum client).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, fields

import trio

from aurora_lite.env import Disk
from aurora_lite.errors import InterfaceError, InternalError, OperationalError, StaleEpochError
from aurora_lite.membership import ClusterConfig, load, load_secret
from aurora_lite.page import PAGE_SIZE, seal
from aurora_lite.redo import RECORD_HEADER, RecordType, apply_to_pages, record_offsets
from aurora_lite.segment import SegmentStore
from aurora_lite.volume._allocator import LsnAllocator
from aurora_lite.volume._connections import CALL_ID_BASE, NodeLink, RemoteError
from aurora_lite.volume._interface import RecoveredState
from aurora_lite.volume._writer import WriterVolume
from aurora_lite.wire import (
    Error, ErrorCode, GetShippedPage, PageWrite, PageWriteAck, ShippedPage, Status,
    encode_frame,
)

_log = logging.getLogger("aurora_lite.volume")
LOCAL_STORE = "pg-0"
PAGE_COUNT = 1 << 32
_WRITE_IDS = (1 << 31) - 1
_VOID = int(RecordType.VOID)


@dataclass(frozen=True)
class PageShipOptions:
    """Tuning (seconds unless stated); the group-commit knobs match ClusterOptions'."""

    write_quorum: int = 4
    window: int = 1 << 20
    backpressure_timeout: float = 30.0
    connect_timeout: float = 2.0
    open_timeout: float = 30.0
    request_timeout: float = 5.0
    max_inflight: int = 1
    group_delay: float = 0.002
    group_delay_max: float = 0.05
    close_timeout: float = 30.0
    max_outbox: int = 256 << 20
    cache_pages: int = 1 << 16          # page images kept for building rounds
    materialize_records: int = 50_000   # local store: coalesce after this many records


_OPTION_NAMES = {field.name for field in fields(PageShipOptions)}


class PageShipVolume(WriterVolume):
    """Ships log + dirty page images to the storage nodes of a cluster file (the baseline)."""

    def __init__(self, config: ClusterConfig | str | os.PathLike, local_directory: str,
                 secret: bytes | None = None, **options) -> None:
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            raise TypeError(f"unknown PageShipVolume options: {', '.join(sorted(unknown))}")
        if not isinstance(config, ClusterConfig):
            config = load(config)
        self.config = config
        self.directory = os.fspath(local_directory)
        self._secret = secret if secret is not None else load_secret(config.path)
        self.options = PageShipOptions(**options)
        if not 1 <= self.options.write_quorum <= len(config.nodes):
            raise ValueError(f"write quorum {self.options.write_quorum} of "
                             f"{len(config.nodes)} nodes")
        self._init_writer()
        self._store: SegmentStore | None = None
        self._reset_state()

    failure_noun = "page shipping"

    def describe(self) -> str:
        return f"page-shipping volume {self.directory}"

    def _reset_state(self) -> None:
        self._queue: list[tuple[bytes, int, bool]] = []
        self._queued_commits = 0
        self._flush_signalled = False
        self._last_submitted = 0
        self._vdl = 0
        self._durable_txn_end = 0
        self._horizon = 0
        self._closing = False
        self.failure: BaseException | None = None
        self.epoch = 0
        self._base_lsn = 0
        self._shipped_end = 0               # end of the last round built
        self._cpls: deque[tuple[int, bool]] = deque()   # shipped CPLs not yet durable
        self._images: dict[int, bytearray] = {}
        self._links: dict[int, NodeLink] = {}
        self._acked: dict[int, int] = {}
        self._refused: set[int] = set()
        self._inflight: deque[tuple[int, float]] = deque()
        self.round_trips: deque[float] = deque(maxlen=1024)
        self._flush_wanted: trio.Event | None = None
        self._progress: trio.Event | None = None
        self._stop: trio.Event | None = None
        self._write_id = 0
        self._counters = dict(submits=0, redo_records_shipped=0, redo_bytes_shipped=0,
                              page_bytes_shipped=0, page_images_shipped=0, log_bytes_shipped=0,
                              flushes=0, group_commits=0, write_frames=0, build_seconds=0.0,
                              remote_errors=0, cache_reloads=0)

    # -- lifecycle --------------------------------------------------------------------------------
    def open(self) -> RecoveredState:
        if self._open:
            raise InterfaceError(f"page-shipping volume {self.directory} is already open")
        self._reset_state()
        os.makedirs(self.directory, exist_ok=True)
        store = SegmentStore(os.path.join(self.directory, LOCAL_STORE), 0, 0, PAGE_COUNT,
                             disk=Disk(fsync=False))
        try:
            created = store.open()
            durable_point = store.last_txn_end(store.last_cpl(store.scl))
            if store.max_lsn > durable_point:
                store.truncate_above(durable_point)
            self.epoch = store.epoch + 1
            store.set_epoch(self.epoch)
        except BaseException:
            store.close()
            raise
        self._store = store
        self._vdl = self._durable_txn_end = durable_point
        self._base_lsn = self._shipped_end = self._last_submitted = durable_point
        self._acked = {node.node_id: durable_point for node in self.config.nodes}
        self._allocator = LsnAllocator(
            durable_point + 1, pg_size=PAGE_COUNT,
            last_lsns={0: durable_point} if durable_point else None, vdl=durable_point,
            window=self.options.window, timeout=self.options.backpressure_timeout)
        try:
            self._start_thread()
            self._wait_for_quorum()
        except BaseException:
            self._stop_thread()
            store.close()
            self._store = None
            raise
        self._open = True
        return RecoveredState(vdl=durable_point, durable_point=durable_point,
                              next_lsn=durable_point + 1, epoch=self.epoch, created=created)

    def _wait_for_quorum(self) -> None:
        deadline = time.monotonic() + self.options.open_timeout
        while True:
            connected = sum(link.connected for link in self._links.values())
            if connected >= self.options.write_quorum:
                return
            if time.monotonic() > deadline:
                errors = "; ".join(f"node {link.node_id}: {link.last_error or 'down'}"
                                   for link in self._links.values() if not link.connected)
                raise OperationalError(f"page shipping: only {connected} storage nodes "
                                       f"connected within {self.options.open_timeout:g} s "
                                       f"({errors})")
            time.sleep(0.01)

    def _start_thread(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._io_thread, args=(started,),
                                        name="aurora-pageship-io", daemon=True)
        self._thread.start()
        started.wait(30)
        if self._token is None:
            raise OperationalError(f"the page-shipping I/O thread did not start: {self.failure}")

    def _io_thread(self, started: threading.Event) -> None:
        async def ready(link: NodeLink) -> None:
            return None

        async def main() -> None:
            self._flush_wanted = trio.Event()
            self._progress = trio.Event()
            self._stop = trio.Event()
            options = self.options
            self._links = {
                node.node_id: NodeLink(
                    node.node_id, node.host, node.port, self._secret,
                    self.config.cluster_id_bytes, on_message=self._on_message,
                    on_connect=ready, on_down=lambda link: self._signal_progress(),
                    connect_timeout=options.connect_timeout, max_outbox=options.max_outbox,
                    wanted=lambda: self.failure is None)
                for node in self.config.nodes}
            async with trio.open_nursery() as nursery:
                for link in self._links.values():
                    nursery.start_soon(link.run)
                nursery.start_soon(self._flusher)
                self._token = trio.lowlevel.current_trio_token()
                started.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()

        try:
            trio.run(main)
        except BaseException as exc:  # noqa: BLE001 - reported to every waiter instead
            _log.exception("the page-shipping I/O thread failed")
            self.fail(InternalError(f"the page-shipping I/O thread failed: {exc!r}"))
        finally:
            started.set()

    def _stop_thread(self) -> None:
        super()._stop_thread()
        self._token = None

    def close(self) -> None:
        with self._lock:
            if not self._open:
                return
            self._closing = True
            last = self._last_submitted
        try:
            if self.failure is None and last > self._vdl:
                self.wait_durable(last, timeout=self.options.close_timeout)
        except OperationalError as exc:
            _log.warning("closing the page-shipping volume with writes not durable: %s", exc)
        finally:
            self._stop_thread()
            self._mark_closed()
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- write side (writer threads) -----------------------------------------------------------
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
            counters["redo_records_shipped"] += last_lsn - self._last_submitted
            self._last_submitted = last_lsn
            wake = not self._flush_signalled
            self._flush_signalled = True
        if wake:
            try:
                self._token.run_sync_soon(self._wake_flusher)
            except (trio.RunFinishedError, AttributeError):
                self._raise_failure()
                raise OperationalError("the page-shipping I/O thread has stopped") from None

    def wait_durable(self, lsn: int, timeout: float | None = None) -> int:
        durable, vdl = self._await_durable(lsn, timeout)
        if durable:
            return vdl
        self._raise_not_durable(lsn)
        down = "; ".join(f"node {link.node_id}: {link.last_error or 'down'}"
                         for link in self._links.values() if not link.connected)
        raise OperationalError(
            f"lsn {lsn} did not become durable within {timeout:g} s (VDL {vdl}): fewer than "
            f"{self.options.write_quorum} storage nodes acknowledge ({down or 'all connected'})")

    def protection_group_anchors(self) -> list[int]:
        return [0]

    def set_horizon(self, lsn: int) -> None:
        with self._lock:
            self._horizon = max(self._horizon, lsn)

    # -- the I/O thread -------------------------------------------------------------------------
    def _wake_flusher(self) -> None:
        self._flush_wanted.set()

    def _signal_progress(self) -> None:
        progress, self._progress = self._progress, trio.Event()
        progress.set()

    def _take_queue(self) -> list[tuple[bytes, int, bool]]:
        with self._lock:
            queue, self._queue = self._queue, []
            self._queued_commits = 0
            self._flush_signalled = False
            return queue

    def _inflight_count(self) -> int:
        inflight, vdl = self._inflight, self._vdl
        if inflight and inflight[0][0] <= vdl:
            now = trio.current_time()
            while inflight and inflight[0][0] <= vdl:
                self.round_trips.append(now - inflight.popleft()[1])
        return len(inflight)

    async def _flusher(self) -> None:
        options = self.options
        recent = deque([1], maxlen=4)
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted = trio.Event()
            if self._inflight_count() >= options.max_inflight:
                with trio.move_on_after(0.05):
                    while self._inflight_count() >= options.max_inflight:
                        await self._progress.wait()
            elif options.group_delay > 0 and max(recent) > 1:
                await self._linger(max(recent))
            batch = self._take_queue()
            if not batch or self.failure is not None:
                continue
            recent.append(sum(1 for _data, _last, end in batch if end))
            try:
                frame, end = await trio.to_thread.run_sync(self._build, batch)
            except BaseException as exc:  # noqa: BLE001 - the volume cannot go on
                self.fail(OperationalError(f"building a page write failed: {exc!r}"))
                raise
            sent = 0
            for link in self._links.values():
                if link.connected and link.post(frame):
                    sent += 1
            self._counters["write_frames"] += sent
            self._counters["flushes"] += 1
            self._counters["group_commits"] += 1
            self._inflight.append((end, trio.current_time()))

    async def _linger(self, expected: int) -> None:
        options = self.options
        trips = self.round_trips
        typical = sorted(trips)[len(trips) // 2] if trips else 0.0
        delay = min(options.group_delay_max, max(options.group_delay, 2 * typical))
        with trio.move_on_after(delay):
            while self._queued_commits < expected:
                with self._lock:
                    self._flush_signalled = False
                await self._flush_wanted.wait()
                self._flush_wanted = trio.Event()

    def _build(self, batch: list[tuple[bytes, int, bool]]) -> tuple[bytes, int]:
        """(worker thread) Append the round's records to the local copy, bring the cached
        images of the pages they dirty up to the round's end, encode the PAGE_WRITE."""
        started = time.process_time()
        store = self._store
        assert store is not None
        log = b"".join(data for data, _last, _end in batch)
        start, end = self._shipped_end, batch[-1][1]
        store.append(log)
        store.sync()                  # no fsync (the writer's own copy): advances its SCL
        dirty: dict[int, None] = {}
        voided = False
        header = RECORD_HEADER.unpack_from
        for offset in record_offsets(log):
            fields_ = header(log, offset)
            if fields_[5] == _VOID:
                voided = True
            else:
                dirty[fields_[4]] = None
        images = self._images
        if voided:
            # A rollback voided earlier records: the cached images may hold them.
            images.clear()
            for page_id in dirty:
                images[page_id] = store.get_page(page_id, end)
            self._counters["cache_reloads"] += 1
        else:
            work = {}
            for page_id in dirty:
                image = images.get(page_id)
                if image is None:
                    image = store.get_page(page_id, start)
                work[page_id] = image
            apply_to_pages(work, log, where="page-shipping round")
            images.update(work)
        if len(images) > self.options.cache_pages:
            for page_id in list(images)[:len(images) // 2]:
                if page_id not in dirty:
                    del images[page_id]
        shipped = tuple((page_id, bytes(seal(bytearray(images[page_id])))) for page_id in dirty)
        write = PageWrite(self.epoch, self._base_lsn, start, end, log, shipped)
        self._write_id = self._write_id % _WRITE_IDS + 1
        frame = encode_frame(PageWrite.TYPE, write.encode(), self._write_id)
        with self._lock:
            self._shipped_end = end
            self._cpls.extend((last, txn_end) for _data, last, txn_end in batch)
            counters = self._counters
            counters["redo_bytes_shipped"] += len(log)
            counters["log_bytes_shipped"] += len(log)
            counters["page_images_shipped"] += len(shipped)
            counters["page_bytes_shipped"] += len(shipped) * PAGE_SIZE
            horizon = min(self._horizon, self._durable_txn_end)
        if store.unmaterialized_records() >= self.options.materialize_records \
                and horizon > store.materialized_lsn:
            store.materialize(horizon)
        with self._lock:
            self._counters["build_seconds"] += time.process_time() - started
        return frame, end

    def _on_message(self, link: NodeLink, request_id: int, message: object) -> None:
        if isinstance(message, PageWriteAck):
            node = link.node_id
            if message.end_lsn > self._acked.get(node, 0):
                self._acked[node] = message.end_lsn
                self._advance()
        elif isinstance(message, Error):
            self._counters["remote_errors"] += 1
            if message.code == ErrorCode.STALE_EPOCH:
                self.fail(StaleEpochError(
                    f"this writer (epoch {self.epoch}) has been fenced: storage node "
                    f"{link.node_id} refused it ({message.message})"))
                self._signal_progress()
            elif request_id < CALL_ID_BASE and link.node_id not in self._refused:
                # Once per node: a node that missed a write refuses every later one.
                self._refused.add(link.node_id)
                _log.warning("storage node %d refused page write %d: %s", link.node_id,
                             request_id, message.message)

    def _advance(self) -> None:
        """VDL = the highest shipped CPL that ``write_quorum`` nodes have fsynced."""
        acked = sorted(self._acked.values(), reverse=True)
        quorum_end = acked[self.options.write_quorum - 1]
        with self._lock:      # the round builder appends to the CPL queue on its thread
            vdl, txn_end, cpls = self._vdl, self._durable_txn_end, self._cpls
            while cpls and cpls[0][0] <= quorum_end:
                last, end = cpls.popleft()
                vdl = last
                if end:
                    txn_end = last
        self._publish(vdl, txn_end)
        self._inflight_count()
        self._signal_progress()

    # -- read side ------------------------------------------------------------------------------
    def get_page(self, page_id: int, read_point: int) -> bytearray:
        if not self._open or self._store is None:
            raise InterfaceError(f"page-shipping volume {self.directory} is not open")
        return self._store.get_page(page_id, read_point)

    def shipped_page(self, node_id: int, page_id: int) -> ShippedPage:
        """The newest image of ``page_id`` in node ``node_id``'s page file (tests, tools)."""
        link = self._links[node_id]

        async def ask() -> ShippedPage:
            return await link.call(GetShippedPage(self.epoch, page_id),
                                   self.options.request_timeout)

        return trio.from_thread.run(ask, trio_token=self._token)

    # -- observability ------------------------------------------------------------------------
    def statistics(self) -> dict:
        """Writer-side counters, per-link counters and, from each node's STATUS, its fsyncs
        and page file. ``fsyncs`` is the busiest node's, ``fsyncs_total`` all nodes'."""
        with self._lock:
            stats: dict = dict(self._counters)
            stats.update(vdl=self._vdl, durable_txn_end=self._durable_txn_end,
                         horizon=self._horizon, epoch=self.epoch,
                         failed=self.failure is not None,
                         failure=str(self.failure) if self.failure else None)
        trips = sorted(self.round_trips)
        if trips:
            stats.update(quorum_rtt_p50_ms=round(trips[len(trips) // 2] * 1000, 3),
                         quorum_rtt_p99_ms=round(trips[int(len(trips) * 0.99)] * 1000, 3))
        stats["backpressure_waits"] = self._allocator.waits if self._allocator else 0
        nodes = {node_id: dict(connected=link.connected, bytes_sent=link.bytes_sent,
                               messages_sent=link.messages_sent,
                               messages_received=link.messages_received,
                               acked_lsn=self._acked.get(node_id, 0),
                               last_error=link.last_error)
                 for node_id, link in self._links.items()}
        stats.update(nodes=nodes, fsyncs=0, fsyncs_total=0)
        token = self._token
        if token is None:
            return stats
        try:
            statuses = trio.from_thread.run(self._statuses, trio_token=token)
        except trio.RunFinishedError:
            return stats
        fsyncs = [status.get("fsyncs", 0) for status in statuses.values()]
        stats.update(fsyncs=max(fsyncs, default=0), fsyncs_total=sum(fsyncs))
        for node_id, status in statuses.items():
            nodes[node_id].update(fsyncs=status.get("fsyncs", 0),
                                  pageship=status.get("pageship", {}), pid=status.get("pid"))
        return stats

    async def _statuses(self) -> dict[int, dict]:
        statuses: dict[int, dict] = {}

        async def one(link: NodeLink) -> None:
            try:
                reply = await link.call(Status(), 0.5)
                statuses[link.node_id] = json.loads(reply.json_text)
            except (OperationalError, RemoteError, ValueError, AttributeError):
                pass

        async with trio.open_nursery() as nursery:
            for link in self._links.values():
                if link.connected:
                    nursery.start_soon(one, link)
        return statuses
