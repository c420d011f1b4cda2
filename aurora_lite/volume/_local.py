"""LocalVolume: the Volume interface over one in-process SegmentStore (one PG, every page).

Write path: ``submit`` queues the packed MTR and returns; a flusher thread appends everything
queued to the store and fsyncs once per batch (group commit), then advances VDL to the highest
CPL now durable and wakes ``wait_durable``. An I/O error is never reported as durable
(Invariant 2): the flusher stops, VDL stays where it was, and every waiter, later submit and
MTR start raises OperationalError. Only redo records go to storage (Invariant 1):
``page_bytes_shipped`` is always 0.

Recovery (``open``): take an exclusive lock on the data directory (a second process gets
OperationalError naming the PID that holds it), recover the store (torn tail cut, damage in
the middle raises CorruptionError), VDL = the last CPL in the durable log, durable point = the
last TXN_END <= VDL; every record above the durable point is truncated (LSNs above it are
then reused: there are no other segments that could still hold the old ones), the epoch is
bumped and persisted, and allocation resumes at durable point + 1.

A background thread materializes up to the horizon (``set_horizon``; never above the last
durable transaction end) once ``materialize_records`` records have accumulated above the
materialized LSN.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading

from aurora_lite.env import Disk
from aurora_lite.errors import InterfaceError, InternalError, OperationalError
from aurora_lite.segment import RetentionHook, SegmentStore
from aurora_lite.volume._allocator import LsnAllocator
from aurora_lite.volume._interface import RecoveredState, Volume

LOCK_FILE = "LOCK"
SEGMENT_DIR = "pg-0"
PAGE_COUNT = 1 << 32       # page ids are u32: the one protection group holds every page
_JOIN_TIMEOUT = 60.0
_CHUNK = 4 << 20


class LocalVolume(Volume):
    """One directory, one segment store, group commit, background materialization."""

    def __init__(self, directory: str | os.PathLike, *, fsync: bool = True,
                 disk: Disk | None = None, window: int = 1 << 20,
                 backpressure_timeout: float = 30.0, materialize_records: int = 50_000,
                 max_file_size: int = 16 << 20, journal_pages: int = 256,
                 retain: RetentionHook | None = None) -> None:
        self.directory = os.fspath(directory)
        self.disk = disk if disk is not None else Disk(fsync=fsync)
        self.window = window
        self.backpressure_timeout = backpressure_timeout
        self.materialize_records = materialize_records
        self._store_options = dict(max_file_size=max_file_size, journal_pages=journal_pages,
                                   retain=retain)
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)      # flusher and materializer wake-ups
        self._done = threading.Condition(self._lock)      # VDL advanced / failure
        self._store: SegmentStore | None = None
        self._allocator: LsnAllocator | None = None
        self._lock_fd = -1
        self._threads: list[threading.Thread] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._open = False
        self._stopping = False
        self._queue: list[tuple[bytes, int, bool]] = []
        self._cpls: list[tuple[int, bool]] = []    # submitted CPLs not yet durable
        self._vdl = 0
        self._durable_txn_end = 0
        self._horizon = 0
        self._unmaterialized = 0
        self._failure: BaseException | None = None
        self._materialize_error: BaseException | None = None
        self._counters = dict(submits=0, redo_records_shipped=0, redo_bytes_shipped=0,
                              group_commits=0)

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> RecoveredState:
        if self._open:
            raise InterfaceError(f"volume {self.directory} is already open")
        self._reset_state()
        os.makedirs(self.directory, exist_ok=True)
        self._lock_fd = _lock_directory(self.directory)
        store = SegmentStore(os.path.join(self.directory, SEGMENT_DIR), 0, 0, PAGE_COUNT,
                             disk=self.disk, **self._store_options)
        try:
            created = store.open()
            vdl = store.last_cpl(store.scl)
            durable_point = store.last_txn_end(vdl)
            if store.max_lsn > durable_point:
                store.truncate_above(durable_point)
            if store.scl != durable_point:
                raise InternalError(f"volume {self.directory}: after recovery SCL is "
                                    f"{store.scl}, not the durable point {durable_point}")
            epoch = store.epoch + 1
            store.set_epoch(epoch)
        except BaseException:
            store.close()
            self._unlock()
            raise
        self._store = store
        self._vdl = self._durable_txn_end = durable_point
        self._unmaterialized = store.unmaterialized_records()
        self._allocator = LsnAllocator(
            durable_point + 1, pg_size=PAGE_COUNT,
            last_lsns={0: durable_point} if durable_point else None, vdl=durable_point,
            window=self.window, timeout=self.backpressure_timeout)
        self._open = True
        self._threads = [
            threading.Thread(target=self._flush_loop, name="aurora-flusher", daemon=True),
            threading.Thread(target=self._materialize_loop, name="aurora-materializer",
                             daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return RecoveredState(vdl=durable_point, durable_point=durable_point,
                              next_lsn=durable_point + 1, epoch=epoch, created=created)

    def close(self) -> None:
        """Drain the queue (group commit), fsync, stop the threads, release the lock."""
        with self._lock:
            if not self._open:
                return
            self._stopping = True
            self._work.notify_all()
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)
        self._threads = []
        try:
            if self._store is not None:
                self._store.close()
        finally:
            with self._lock:
                self._open = False
                if self._failure is None and self._queue:
                    self._failure = OperationalError("volume closed before its queue drained")
                self._done.notify_all()
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _check_open(self) -> None:
        if not self._open or self._stopping:
            raise InterfaceError(f"volume {self.directory} is not open")

    # -- write side -----------------------------------------------------------------------------
    def allocate(self, page_id: int) -> tuple[int, int]:
        return self._require_allocator().allocate(page_id)

    def mark(self) -> object:
        return self._require_allocator().mark()

    def reset(self, token: object) -> None:
        self._require_allocator().reset(token)

    def _require_allocator(self) -> LsnAllocator:
        if self._allocator is None:
            raise InterfaceError(f"volume {self.directory} is not open")
        return self._allocator

    @property
    def allocator(self) -> LsnAllocator:
        return self._require_allocator()

    def submit(self, buffer: bytes | bytearray, last_lsn: int, *, txn_end: bool) -> None:
        data = bytes(buffer)
        with self._lock:
            self._check_open()
            if self._failure is not None:
                raise OperationalError(f"volume {self.directory} failed: "
                                       f"{self._failure}") from self._failure
            self._queue.append((data, last_lsn, txn_end))
            self._counters["submits"] += 1
            self._counters["redo_bytes_shipped"] += len(data)
            self._work.notify_all()

    def _flush_loop(self) -> None:
        store = self._store
        assert store is not None and self._allocator is not None
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._work.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            try:
                appended = sum(store.append(chunk) for chunk in _chunks(batch))
                durable_scl = store.sync()       # one fsync for the whole batch: group commit
            except BaseException as exc:  # noqa: BLE001 - any failure stops durability
                with self._lock:
                    self._failure = exc
                    self._done.notify_all()
                self._allocator.fail(exc)
                return
            with self._lock:
                self._cpls.extend((last, end) for _data, last, end in batch)
                waiting = []
                for last, end in self._cpls:
                    if last <= durable_scl:
                        # Everything up to this CPL is fsynced: VDL may pass it (Invariant 2).
                        self._vdl = max(self._vdl, last)
                        if end:
                            self._durable_txn_end = max(self._durable_txn_end, last)
                    else:
                        waiting.append((last, end))
                self._cpls = waiting
                self._counters["group_commits"] += 1
                # Counted here, not in submit: the writer's thread does no per-record work.
                self._counters["redo_records_shipped"] += appended
                self._unmaterialized += appended
                self._done.notify_all()
                vdl = self._vdl
            del batch                 # nothing submitted stays referenced while idle
            self._allocator.advance_vdl(vdl)

    def wait_durable(self, lsn: int, timeout: float | None = None) -> int:
        with self._lock:
            self._done.wait_for(lambda: self._vdl >= lsn or self._failure is not None
                                or not self._open, timeout)
            if self._vdl >= lsn:
                return self._vdl
            if self._failure is not None:
                raise OperationalError(f"lsn {lsn} is not durable: volume {self.directory} "
                                       f"failed: {self._failure}") from self._failure
            if not self._open:
                raise OperationalError(f"lsn {lsn} is not durable: volume {self.directory} "
                                       f"is closed")
            raise OperationalError(f"lsn {lsn} did not become durable within {timeout:g} s "
                                   f"(VDL {self._vdl})")

    @property
    def vdl(self) -> int:
        return self._vdl

    def protection_group_anchors(self) -> list[int]:
        return [0]

    # -- materialization ------------------------------------------------------------------------
    def set_horizon(self, lsn: int) -> None:
        with self._lock:
            if lsn > self._horizon:
                self._horizon = lsn
                self._work.notify_all()

    def _target(self) -> int:
        # Never above the last durable transaction end: truncation never undoes a page.
        return min(self._horizon, self._durable_txn_end)

    def _materialize_loop(self) -> None:
        store = self._store
        assert store is not None
        while True:
            with self._lock:
                self._work.wait_for(lambda: self._stopping or self._materialize_due(), 1.0)
                if self._stopping:
                    return
                if not self._materialize_due():
                    continue
                target = self._target()
            try:
                store.materialize(target)
                left = store.unmaterialized_records()
            except BaseException as exc:  # noqa: BLE001 - reported by statistics/materialize_now
                with self._lock:
                    self._materialize_error = exc
                return
            with self._lock:
                self._unmaterialized = left

    def _materialize_due(self) -> bool:
        return (self._store is not None and self._materialize_error is None
                and self._target() > self._store.materialized_lsn
                and self._unmaterialized >= self.materialize_records)

    def materialize_now(self, horizon: int | None = None) -> int:
        """Materialize synchronously up to ``horizon`` (default: the horizon set), never above
        the last durable transaction end; return the materialized LSN (tests, tools)."""
        store = self._require_store()
        with self._lock:
            if self._materialize_error is not None:
                raise OperationalError(f"materialization failed: {self._materialize_error}"
                                       ) from self._materialize_error
            target = min(self._horizon if horizon is None else horizon, self._durable_txn_end)
        result = store.materialize(target)
        left = store.unmaterialized_records()
        with self._lock:
            self._unmaterialized = left
        return result

    # -- read side ------------------------------------------------------------------------------
    def get_page(self, page_id: int, read_point: int) -> bytearray:
        return self._require_store().get_page(page_id, read_point)

    def _require_store(self) -> SegmentStore:
        if not self._open or self._store is None:
            raise InterfaceError(f"volume {self.directory} is not open")
        return self._store

    @property
    def store(self) -> SegmentStore:
        """The segment store (tools and tests)."""
        return self._require_store()

    # -- observability ------------------------------------------------------------------------
    def statistics(self) -> dict:
        with self._lock:
            stats = dict(self._counters)
            stats.update(page_bytes_shipped=0, vdl=self._vdl,
                         durable_txn_end=self._durable_txn_end, horizon=self._horizon,
                         failed=self._failure is not None,
                         materialize_error=(str(self._materialize_error)
                                            if self._materialize_error else None))
        store = self._store
        segment = store.statistics() if store is not None else {}
        stats.update(
            fsyncs=self.disk.fsyncs,
            materialized_lsn=segment.get("materialized_lsn", 0),
            scl=segment.get("scl", 0),
            epoch=segment.get("epoch", 0),
            log_files=segment.get("log_files", 0),
            log_bytes=segment.get("bytes", 0),
            log_records=segment.get("records", 0),
            materializations=segment.get("materializations", 0),
            index_bytes=segment.get("index_bytes", 0),
            backpressure_waits=self._allocator.waits if self._allocator else 0,
        )
        return stats


def _chunks(batch: list[tuple[bytes, int, bool]]) -> list[bytes]:
    """The batch's buffers joined into appends of about _CHUNK bytes (bounded memory)."""
    chunks, parts, size = [], [], 0
    for data, _last, _end in batch:
        parts.append(data)
        size += len(data)
        if size >= _CHUNK:
            chunks.append(b"".join(parts) if len(parts) > 1 else parts[0])
            parts, size = [], 0
    if parts:
        chunks.append(b"".join(parts) if len(parts) > 1 else parts[0])
    return chunks


def _lock_directory(directory: str) -> int:
    """Hold an exclusive flock on ``directory``/LOCK for as long as the volume is open."""
    path = os.path.join(directory, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise OperationalError(f"data directory {directory} is in use by process "
                                   f"{holder}") from None
        raise OperationalError(f"cannot lock data directory {directory}: {exc}") from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
