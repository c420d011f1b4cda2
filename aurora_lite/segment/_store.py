"""SegmentStore: the storage side of one protection group's segment on one node.

It owns a directory holding the hot log files (``_hotlog``), the page store with its
double-write journal (``_pagestore``) and the control file (``CONTROL``), and keeps in memory
the compact record index (``_index``) and the prev_lsn chain (``_chain``). Every storage node
runs one per PG it holds; the local volume runs one whose PG covers every page.

Write path: ``append`` checks every record (CRC32C, header: Invariant 5), drops duplicates,
accepts records in any order and writes them to the hot log; ``sync`` makes everything appended
durable with one fsync per file written (the caller batches appends: group commit) and returns
the SCL that is now durable.

Read path: ``get_page(page, read_point)`` = the page store's image + the page's records above
the materialized LSN up to the read point, not voided, applied in LSN order.

Background: ``materialize(horizon)`` coalesces the records at or below the horizon into the
page store through aurora_lite.redo.materialize (apply_to_array), crash-safely, then collects the
log files wholly below the new materialized LSN (unless the retention hook keeps them).

Archiving (aurora_lite.segment._archiver) uses three more entry points: ``archive_range`` (the
records of a range, also below the chain base in files the retention hook kept),
``snapshot_pages`` (every page image with materialization held off) and ``collect`` (collect
again once the archive covers files the hook kept); ``before_install`` tells it when a peer's
pages are about to replace the log below their LSN.

Locks, always taken in this order: ``_maint`` (materialize, truncate, close: one at a time),
``_sync_lock`` (one fsync round at a time; files are not removed during one), ``_lock`` (the
in-memory state; never held across an fsync of the log).
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace as _replace
from typing import Callable

import numpy as np

from aurora_lite.env import Disk
from aurora_lite.errors import (
    CorruptionError, InternalError, OperationalError, StaleEpochError,
)
from aurora_lite.page._layout import PAGE_SIZE, page_lsn, seal
from aurora_lite.redo._record import RECORD_HEADER, RecordType
from aurora_lite.redo.materialize import record_columns
from aurora_lite.segment._chain import ACCEPTED, DUPLICATE, Chain
from aurora_lite.segment._checkpoint import SclCheckpoints
from aurora_lite.segment._formats import Control
from aurora_lite.segment._hotlog import DamagedRange, HotLog, LogFileInfo
from aurora_lite.segment._index import (
    POS_SHIFT, RecordIndex, pack_pos, parse_headers,
)
from aurora_lite.segment._pagestore import PageStore
from aurora_lite.segment._repair import MaintenanceMixin

CONTROL_FILE = "CONTROL"
_U64 = int.from_bytes
# One materialization batch holds at most this many bytes of records in memory.
_BATCH_BYTES = 32 << 20

RetentionHook = Callable[[LogFileInfo], bool]


class ReadPointBehind(OperationalError):
    """The segment is not complete up to the requested read point (quorum.md Q7)."""


class ReadPointTooOld(OperationalError):
    """What the request needs is older than the segment keeps (materialized and collected)."""


class SegmentStore(MaintenanceMixin):
    """One PG's segment: hot log + page store + control file, recoverable from its directory."""

    def __init__(self, directory: str | os.PathLike, pg_id: int, first_page: int,
                 page_count: int, *, fsync: bool = True, disk: Disk | None = None,
                 max_file_size: int = 16 << 20, max_pending: int = 1 << 20,
                 retain: RetentionHook | None = None, journal_pages: int = 256,
                 before_install: Callable[[int], None] | None = None) -> None:
        self.directory = os.fspath(directory)
        self.pg_id = pg_id
        self.first_page = first_page
        self.page_count = page_count
        self.disk = disk if disk is not None else Disk(fsync=fsync)
        self.max_pending = max_pending
        self.retain = retain
        # Told the LSN of a peer's pages before they are adopted: the log below it never
        # arrived here (the archiver must not archive that range from this segment).
        self.before_install = before_install
        self._control_path = os.path.join(self.directory, CONTROL_FILE)
        self._hotlog = HotLog(self.directory, pg_id, self.disk, max_file_size)
        self._pages = PageStore(self.directory, pg_id, first_page, page_count, self.disk,
                                journal_pages=journal_pages)
        self._checkpoints = SclCheckpoints(self.directory, pg_id, self.disk)
        self._frontier_dirty = False    # a frontier moved SCL since the last checkpoint
        self._maint = threading.Lock()
        self._sync_lock = threading.Lock()
        self._lock = threading.RLock()
        self._control = Control(pg_id, first_page, page_count)
        self._index = RecordIndex()
        self._chain = Chain()
        self._voids: list[tuple[int, int]] = []   # (from_lsn, void_lsn) above the floor
        self._damaged: list[DamagedRange] = []
        self._open = False
        self._failed: BaseException | None = None
        self._counters = dict(appends=0, records_appended=0, bytes_appended=0, duplicates=0,
                              refused=0, log_syncs=0, materializations=0, gc_files=0,
                              truncations=0, log_repairs=0, page_repairs=0, installs=0)

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self, *, salvage: bool = False) -> bool:
        """Recover from the files; return True when the segment was created by this call.

        A torn tail is cut; damage in the middle raises CorruptionError naming the file and the
        offset unless ``salvage`` is set, in which case the damaged bytes are cut out and listed
        by ``damaged_ranges()`` and their records show up as ``gaps()`` for peers to fill.
        """
        with self._maint, self._sync_lock, self._lock:
            os.makedirs(self.directory, exist_ok=True)
            created = not os.path.exists(self._control_path)
            if created:
                self._write_control(self._control)
            else:
                with open(self._control_path, "rb") as handle:
                    control = Control.unpack(handle.read(), self._control_path)
                if (control.pg_id, control.first_page, control.page_count) != (
                        self.pg_id, self.first_page, self.page_count):
                    raise OperationalError(
                        f"{self.directory} holds protection group {control.pg_id} (pages "
                        f"{control.first_page}+{control.page_count}), not {self.pg_id} "
                        f"(pages {self.first_page}+{self.page_count})")
                self._control = control
            try:
                self._pages.open(self._control.materialized_lsn)
                self._checkpoints.open()
                if self._load(salvage, self._checkpoints.highest):
                    self._distrust_checkpoint()
            except BaseException:
                self._hotlog.close()
                self._pages.close()
                self._checkpoints.close()
                raise
            self._open = True
            return created

    def _load(self, salvage: bool, known_scl: int = 0,
              tail_is_damage: bool = False) -> list[DamagedRange]:
        """Rebuild the index, the chain and the void list from the hot log files; ``known_scl``
        is an SCL known to hold besides the records (an SCL checkpoint). Return the damaged
        ranges a salvage cut out now."""
        control = self._control
        index = RecordIndex(floor=control.materialized_lsn)
        # Unbounded while loading: everything on disk was accepted once.
        chain = Chain(control.chain_base, max_pending=1 << 62)
        voids: list[tuple[int, int]] = []

        def visit(seq: int, data: bytes, offsets: list[int]) -> np.ndarray:
            where = self._hotlog_path(seq)
            headers = parse_headers(data, offsets)
            self._check_pages(headers, where, CorruptionError)
            newer = headers["lsn"] > control.chain_base
            accepted, _dups, _refused = _offer(chain, headers, where, newer)
            if _dups:
                # Every record in the files was accepted once; a repeat is a broken file.
                raise CorruptionError(f"{where}: holds a record twice")
            index.extend(headers["lsn"], headers["offset"].astype(np.uint64) + np.uint64(
                pack_pos(seq, 0)), headers["length"], headers["page"], headers["flags"],
                headers["type"])
            voids.extend(_voids(data, headers, headers["lsn"] > control.materialized_lsn))
            return headers["lsn"]

        damaged = self._hotlog.open(visit, salvage=salvage, tail_is_damage=tail_is_damage)
        # A checkpoint vouches for records that were held when it was written; after damage was
        # cut out they are not (their LSNs are unknown), so SCL is rebuilt from the records'
        # chain alone and the holes show as gaps for peers to fill (recovery.md R4).
        if known_scl > control.chain_base and not damaged:
            chain.offer(known_scl, control.chain_base)
        chain.max_pending = self.max_pending
        self._index, self._chain, self._voids = index, chain, voids
        self._damaged.extend(damaged)
        return damaged

    def _reload(self, *, salvage: bool = False,
                tail_is_damage: bool = False) -> list[DamagedRange]:
        """Re-read the hot log (after truncation, repair or an installed base); caller holds
        every lock. Files written since the last sync are fsynced first: closing forgets which
        ones are dirty, and a later sync must not acknowledge records that were never made
        durable."""
        fds, directory = self._hotlog.take_sync_plan()
        self._hotlog.sync_now(fds, directory)
        self._hotlog.close()
        damaged = self._load(salvage, self._checkpoints.highest, tail_is_damage)
        if damaged:
            self._distrust_checkpoint()
        return damaged

    def _distrust_checkpoint(self) -> None:
        """Damage was cut out: the SCL checkpoint may claim lost records; drop it (SCL now
        comes from the records' chain, and the next frontier writes a new entry)."""
        if self._checkpoints.highest:
            self._checkpoints.reset(0)

    def _hotlog_path(self, seq: int) -> str:
        return os.path.join(self.directory, f"redo-{seq:08d}.log")

    def close(self) -> None:
        """Make everything appended durable (unless the store failed) and release the files."""
        with self._maint, self._sync_lock, self._lock:
            if not self._open:
                return
            self._open = False
            try:
                if self._failed is None:
                    fds, directory = self._hotlog.take_sync_plan()
                    self._hotlog.sync_now(fds, directory)
            finally:
                self._hotlog.close()
                self._pages.close()
                self._checkpoints.close()

    def _check_usable(self) -> None:
        if not self._open:
            raise OperationalError(f"segment store {self.directory} is not open")
        if self._failed is not None:
            raise OperationalError(f"segment store {self.directory} failed earlier "
                                   f"({self._failed}); reopen it to recover")

    def _fail(self, exc: BaseException) -> OperationalError:
        self._failed = exc
        return OperationalError(f"segment store {self.directory}: I/O error: {exc}")

    # -- write side -----------------------------------------------------------------------------
    def append(self, buffer: bytes | bytearray | memoryview, *, epoch: int | None = None,
               frontier: tuple[int, int] | None = None) -> int:
        """Check and persist (not yet durably) every new record of ``buffer``; return how many
        were accepted. Duplicates are ignored; records may come in any order.

        ``frontier=(start, end)`` says the batch holds every record of this PG with
        start < lsn <= end (possibly none): SCL may then pass records that do not exist
        (docs/protocols/quorum.md, Q1). It is ignored if any record of the batch was refused.
        """
        view = memoryview(buffer)
        if frontier is not None and not 0 <= frontier[0] < frontier[1]:
            raise InternalError(f"frontier range {frontier} of segment {self.pg_id} is empty")
        with self._lock:
            self._check_usable()
            if epoch is not None and epoch < self._control.epoch:
                raise StaleEpochError(f"segment {self.pg_id} has seen epoch "
                                      f"{self._control.epoch}; refusing a request of epoch "
                                      f"{epoch} (Invariant 6)")
            where = f"records appended to segment {self.pg_id}"
            # One kernel call checks every record (Invariant 5) and lists their header fields
            # with a summary; the usual batch (one writer, records in order, nothing waiting)
            # then needs no per-record work in Python.
            columns = record_columns(view, where)
            scl_before = self._chain.scl
            if not columns.count:
                self._offer_frontier(frontier, scl_before, None)
                return 0
            if columns.min_page < self.first_page or \
                    columns.max_page >= self.first_page + self.page_count:
                self._check_pages(columns.headers(), where, InternalError)
            if columns.ordered and self._chain.offer_chain(int(columns.prev[0]),
                                                           columns.min_lsn, columns.max_lsn):
                return self._append_all(view, columns, frontier, scl_before)
            headers = columns.headers()
            accepted, duplicates, refused = _offer(self._chain, headers, where)
            self._counters["duplicates"] += duplicates
            self._counters["refused"] += refused
            count = columns.count - duplicates - refused
            self._offer_frontier(None if refused else frontier, scl_before, headers["lsn"])
            if not count:
                return 0
            if count == columns.count:
                data: bytes | memoryview = view
                relative = headers["offset"]
            else:
                headers = {name: column[accepted] for name, column in headers.items()}
                data = b"".join(view[o:o + n] for o, n in zip(headers["offset"].tolist(),
                                                              headers["length"].tolist()))
                relative = np.concatenate(([0], np.cumsum(headers["length"][:-1],
                                                          dtype=np.int64)))
            lsns = headers["lsn"]
            try:
                position = self._hotlog.append(data, int(lsns.min()), int(lsns.max()), count,
                                               scl_before + 1)
            except (OSError, OperationalError) as exc:
                raise self._fail(exc) from exc
            self._index.extend(lsns, relative.astype(np.uint64) + np.uint64(position),
                               headers["length"], headers["page"], headers["flags"],
                               headers["type"])
            self._voids.extend(_voids(view, headers))
            self._counters["appends"] += 1
            self._counters["records_appended"] += count
            self._counters["bytes_appended"] += len(data)
            return count

    def _append_all(self, view: memoryview, columns, frontier: tuple[int, int] | None,
                    scl_before: int) -> int:
        """The whole batch continues SCL (the chain accepted it): log it and index it."""
        if frontier is not None:
            self._chain.offer(frontier[1], frontier[0])
        scl = self._chain.scl
        if scl > columns.max_lsn:
            # The frontier carried SCL past the records: only a checkpoint explains it.
            self._frontier_dirty = True
        try:
            position = self._hotlog.append(view, columns.min_lsn, columns.max_lsn,
                                           columns.count, scl_before + 1)
        except (OSError, OperationalError) as exc:
            raise self._fail(exc) from exc
        self._index.extend_columns(columns.lsn, columns.offset.view(np.uint64) + np.uint64(
            position), columns.length, columns.page, columns.meta, columns.max_lsn)
        if columns.voids:
            self._voids.extend(_voids(view, columns.headers()))
        counters = self._counters
        counters["appends"] += 1
        counters["records_appended"] += columns.count
        counters["bytes_appended"] += len(view)
        return columns.count

    def busy(self) -> bool:
        """Another thread holds the store's lock right now (a hint: it may change at once)."""
        if not self._lock.acquire(blocking=False):
            return True
        self._lock.release()
        return False

    def _offer_frontier(self, frontier: tuple[int, int] | None, scl_before: int,
                        lsns: np.ndarray | None) -> None:
        """Offer the batch's frontier; note when SCL now stands where the records alone would
        not put it after a restart, so the next sync writes an SCL checkpoint. SCL that ends
        on a record of this batch is explained by the records (each names its predecessor in
        the PG), which is the usual case - a checkpoint there would cost every group-commit
        round a second fsync for nothing."""
        if frontier is not None:
            self._chain.offer(frontier[1], frontier[0])
        scl = self._chain.scl
        if scl > scl_before and (lsns is None or not lsns.size or int(lsns.max()) != scl
                                 and not np.any(lsns == scl)):
            self._frontier_dirty = True

    def _check_pages(self, headers: dict, where: str, error: type) -> None:
        first, last = self.first_page, self.first_page + self.page_count
        outside = np.flatnonzero((headers["page"] < first) | (headers["page"] >= last))
        if outside.size:
            at = int(outside[0])
            raise error(f"{where} at offset {int(headers['offset'][at])}: record lsn "
                        f"{int(headers['lsn'][at])} is for page {int(headers['page'][at])}, "
                        f"outside protection group {self.pg_id} (pages {first}..{last - 1})")

    def sync(self, *, blocking: bool = True) -> int | None:
        """fsync everything appended so far; return the SCL that is now durable. With
        ``blocking=False`` return None at once, having done nothing, when a maintenance step
        (materialization, repair, truncation) holds the store: an event loop may then call
        this on its own thread and never wait for more than the fsync itself."""
        if not self._sync_lock.acquire(blocking=blocking):
            return None
        try:
            if not self._lock.acquire(blocking=blocking):
                return None
            try:
                self._check_usable()
                fds, directory = self._hotlog.take_sync_plan()
                scl = self._chain.scl
                # While a frontier waits for a gap, SCL can jump without one arriving.
                checkpoint = self._frontier_dirty or (self._chain.pending > 0 and (
                    self._checkpoints.highest > 0))
                self._frontier_dirty = False
            finally:
                self._lock.release()
            if not fds and not directory and not checkpoint:
                return scl
            try:
                self._hotlog.sync_now(fds, directory)
                if checkpoint:
                    # After the log fsync: the entry never claims records a crash could lose.
                    self._checkpoints.write(scl)
            except OSError as exc:
                with self._lock:
                    raise self._fail(exc) from exc
            self._counters["log_syncs"] += 1
            return scl
        finally:
            self._sync_lock.release()

    def set_epoch(self, epoch: int) -> None:
        """Adopt a newer volume epoch durably (older requests are then refused)."""
        with self._lock:
            self._check_usable()
            if epoch < self._control.epoch:
                raise StaleEpochError(f"segment {self.pg_id} has seen epoch "
                                      f"{self._control.epoch}, not going back to {epoch}")
            if epoch != self._control.epoch:
                self._write_control(_replace(self._control, epoch=epoch))

    def _write_control(self, control: Control) -> None:
        self.disk.write_atomic(self._control_path, control.pack())
        self._control = control

    # -- lookups --------------------------------------------------------------------------------
    @property
    def scl(self) -> int:
        return self._chain.scl

    @property
    def max_lsn(self) -> int:
        return max(self._index.max_lsn, self._control.chain_base)

    @property
    def materialized_lsn(self) -> int:
        return self._control.materialized_lsn

    @property
    def epoch(self) -> int:
        return self._control.epoch

    @property
    def chain_base(self) -> int:
        """Every record at or below it may be gone from the hot log (it is in the pages)."""
        return self._control.chain_base

    def last_cpl(self, upto: int) -> int:
        """The highest CPL <= ``upto`` (exact for ``upto`` >= the chain base)."""
        with self._lock:
            base = self._control.base_cpl if self._control.base_cpl <= upto else 0
            return max(self._index.last_cpl(upto), base)

    def last_txn_end(self, upto: int) -> int:
        """The highest TXN_END <= ``upto`` (exact for ``upto`` >= the chain base)."""
        with self._lock:
            base = self._control.base_txn_end if self._control.base_txn_end <= upto else 0
            return max(self._index.last_txn_end(upto), base)

    def gaps(self) -> list[tuple[int, int]]:
        """(after, before) LSN ranges in which records of this PG are missing."""
        with self._lock:
            return self._chain.gaps()

    def damaged_ranges(self) -> list[DamagedRange]:
        """Byte ranges a salvaging open cut out of the log files."""
        with self._lock:
            return list(self._damaged)

    def log_files(self) -> list[LogFileInfo]:
        with self._lock:
            return self._hotlog.infos()

    def unmaterialized_records(self) -> int:
        with self._lock:
            return self._index.count_above(self._control.materialized_lsn)

    def records_in_range(self, low: int, high: int) -> bytes:
        """The records with low < lsn <= high still in the hot log, in LSN order, CRC-checked
        (for gossip, replicas and archiving)."""
        with self._lock:
            self._check_open()
            cols = self._index.columns()
            lsn = cols["lsn"]
            rows = np.nonzero((lsn > low) & (lsn <= high))[0]
            rows = rows[np.argsort(lsn[rows], kind="stable")]
            return self._hotlog.read_joined(cols["pos"][rows], cols["length"][rows])

    def fetch(self, low: int, high: int, max_bytes: int) -> tuple[int, bytes]:
        """``(end, records)``: every record with low < lsn <= end, in LSN order, CRC-checked,
        where ``end <= high`` is as far as about ``max_bytes`` reach (at least one record).
        ``(low, end]`` is a frontier range (quorum.md Q1) when ``low >= chain_base`` and
        ``high <= SCL``; the caller (gossip, FETCH_RECORDS) guarantees both."""
        with self._lock:
            self._check_open()
            if low < self._control.chain_base:
                raise ReadPointTooOld(f"segment {self.pg_id} holds records only above lsn "
                                      f"{self._control.chain_base} (the rest is in its pages), "
                                      f"not above {low}")
            return self._range(low, high, max_bytes)

    def archive_range(self, low: int, high: int, max_bytes: int) -> tuple[int, bytes]:
        """As ``fetch``, for the archiver: ``end`` is also at most SCL (read under the same
        lock as the records, so a repair that lowers SCL meanwhile cannot leave a hole), and
        ``low`` may lie below the chain base, in files the retention hook kept; whether the log
        is complete there is the archiver's to know (it decides what may be collected)."""
        with self._lock:
            self._check_open()
            return self._range(low, min(high, self._chain.scl), max_bytes)

    def _range(self, low: int, high: int, max_bytes: int) -> tuple[int, bytes]:
        if high <= low:
            return low, b""
        cols = self._index.columns()
        lsn = cols["lsn"]
        rows = np.nonzero((lsn > low) & (lsn <= high))[0]
        rows = rows[np.argsort(lsn[rows], kind="stable")]
        end = high
        if rows.size:
            sizes = np.cumsum(cols["length"][rows].astype(np.int64))
            take = max(1, int(np.searchsorted(sizes, max_bytes, side="right")))
            if take < rows.size:
                # Stop below the next record: (low, end] holds every record of the PG.
                end = int(lsn[rows[take]]) - 1
                rows = rows[:take]
        return end, self._hotlog.read_joined(cols["pos"][rows], cols["length"][rows])

    def _check_open(self) -> None:
        if not self._open:
            raise OperationalError(f"segment store {self.directory} is not open")

    # -- read side ------------------------------------------------------------------------------
    def get_page(self, page_id: int, read_point: int) -> bytearray:
        """The page as of ``read_point``, checksum field zero (as pages live in memory)."""
        with self._lock:
            self._check_open()
            if read_point > self._chain.scl:
                raise ReadPointBehind(f"segment {self.pg_id} cannot serve read point "
                                       f"{read_point}: it is complete only up to SCL "
                                       f"{self._chain.scl}")
            page = self._pages.read(page_id)
            base_lsn = page_lsn(page)
            if base_lsn > read_point:
                raise ReadPointTooOld(f"page {page_id} is materialized at lsn {base_lsn}, "
                                       f"above read point {read_point}: read points older than "
                                       f"the horizon are no longer kept")
            low = self._control.materialized_lsn
            rows = self._index.page_rows(page_id, low, read_point)
            if not rows:
                return page
            records = self._hotlog.read_records([r[1] for r in rows], [r[2] for r in rows])
            voids = [(a, b) for a, b in self._voids if low < b <= read_point]
            pages = {page_id: page}
            _apply(pages, b"".join(records), voids, read_point, f"records of page {page_id}")
            return pages[page_id]

    # -- materialization and garbage collection -------------------------------------------------
    def materialize(self, horizon: int) -> int:
        """Coalesce every non-voided record <= ``horizon`` (and <= SCL) into the page store,
        then collect the log files wholly below it; return the new materialized LSN."""
        with self._maint:
            with self._lock:
                self._check_usable()
                old = self._control.materialized_lsn
                target = self._safe_target(min(horizon, self._chain.scl))
                if target <= old:
                    return old
                cols = self._index.select(old, target)
                voids = [(a, b) for a, b in self._voids if old < b <= target]
                # Every record of the PG <= target is held (target <= SCL).
                chain_base = target
                base_cpl = max(self._index.last_cpl(chain_base), self._control.base_cpl)
                base_txn_end = max(self._index.last_txn_end(chain_base),
                                   self._control.base_txn_end)
            # The heavy part runs without _lock: appends and reads go on meanwhile. Pages are
            # written in place under _lock only (so no reader sees half a slot); a reader that
            # finds a page newer than the materialized LSN skips the records it already holds.
            order = np.lexsort((cols["lsn"], cols["page"]))
            pages_sorted = cols["page"][order]
            starts = np.flatnonzero(np.r_[True, pages_sorted[1:] != pages_sorted[:-1]]) \
                if order.size else np.array([], dtype=np.int64)
            ends = np.r_[starts[1:], order.size] if order.size else starts
            batch: list[tuple[int, int]] = []
            batch_bytes = 0
            try:
                for start, end in zip(starts.tolist(), ends.tolist()):
                    batch.append((start, end))
                    batch_bytes += int(cols["length"][order[start:end]].sum())
                    if len(batch) >= self._pages.journal_pages or batch_bytes >= _BATCH_BYTES:
                        self._materialize_batch(cols, order, batch, voids,
                                                target)
                        batch, batch_bytes = [], 0
                if batch:
                    self._materialize_batch(cols, order, batch, voids, target)
            except OSError as exc:
                with self._lock:
                    raise self._fail(exc) from exc
            with self._sync_lock, self._lock:
                try:
                    self._write_control(_replace(
                        self._control, materialized_lsn=target, chain_base=chain_base,
                        base_cpl=base_cpl, base_txn_end=base_txn_end))
                    self._pages.clear_journal()
                    if self._checkpoints.highest:
                        self._checkpoints.reset(self._checkpoints.highest
                                                if self._checkpoints.highest > target else 0)
                    self._voids = [v for v in self._voids if v[1] > target]
                    self._collect(target)
                except OSError as exc:
                    raise self._fail(exc) from exc
                self._counters["materializations"] += 1
                return target

    def _safe_target(self, target: int) -> int:
        """Lower ``target`` below any void range that a VOID above it declares: a record a later
        VOID takes back must stay in the log (horizons at transaction ends never hit this)."""
        lowered = True
        while lowered:
            lowered = False
            for low, void_lsn in self._voids:
                if low < target < void_lsn:
                    target = low
                    lowered = True
        return target

    def _materialize_batch(self, cols: dict, order: np.ndarray,
                           groups: list[tuple[int, int]], voids: list[tuple[int, int]],
                           target: int) -> None:
        pages: dict[int, bytearray] = {}
        base_lsns: dict[int, int] = {}
        rows = []
        for start, end in groups:
            page_id = int(cols["page"][order[start]])
            pages[page_id] = self._pages.read(page_id)
            base_lsns[page_id] = page_lsn(pages[page_id])
            rows.append(order[start:end])
        picked = np.concatenate(rows)
        picked = picked[np.argsort(cols["lsn"][picked], kind="stable")]
        records = self._hotlog.read_joined(cols["pos"][picked], cols["length"][picked])
        _apply(pages, records, voids, target,
               f"segment {self.pg_id} materialization")
        changed = {page_id: page for page_id, page in pages.items()
                   if page_lsn(page) != base_lsns[page_id]}
        if changed:
            self._pages.write(changed, target, lock=self._lock)

    def _collect(self, materialized: int) -> None:
        """Remove log files wholly at or below the materialized LSN (unless retained) and
        forget their rows; the per-page lists keep only records above the new floor."""
        drop = []
        for info in self._hotlog.infos():
            # The active file goes too once it is wholly materialized: the next append starts a
            # new one.
            if info.max_lsn > materialized:
                continue
            if self.retain is not None and self.retain(info):
                continue
            drop.append(info.seq)
        self._hotlog.remove(drop)
        self._counters["gc_files"] += len(drop)
        seqs = (np.array(self._index.pos, dtype=np.uint64) >> np.uint64(POS_SHIFT))
        keep = ~np.isin(seqs, np.array(drop, dtype=np.uint64))
        self._index.retain(keep, floor=materialized)

    def collect(self) -> int:
        """Collect again the log files wholly below the materialized LSN that the retention
        hook kept before (the archiver has archived them since); return how many went."""
        with self._maint, self._sync_lock, self._lock:
            self._check_usable()
            before = self._counters["gc_files"]
            try:
                self._collect(self._control.materialized_lsn)
            except OSError as exc:
                raise self._fail(exc) from exc
            return self._counters["gc_files"] - before

    def snapshot_pages(self, visit: Callable[[bytes], None]) -> int:
        """Call ``visit(sealed image)`` for every written page, in page order, while no
        materialization, repair or install runs; return the materialized LSN. Every record at
        or below it is in the images; an image may be newer (a batch a crash interrupted,
        docs/formats/segment.md), never older - the page LSNs say which."""
        with self._maint:
            with self._lock:
                self._check_usable()
                slots = max(0, self._pages.size() // PAGE_SIZE - 1)
                materialized = self._control.materialized_lsn
            zero = bytes(PAGE_SIZE)
            for page_id in range(self.first_page, self.first_page + slots):
                page = self._pages.read(page_id)
                if page != zero:
                    visit(bytes(seal(page)))
            return materialized

    def finish_install(self, materialized_lsn: int, base_cpl: int,
                       base_txn_end: int) -> None:
        if self.before_install is not None:
            self.before_install(materialized_lsn)
        super().finish_install(materialized_lsn, base_cpl, base_txn_end)

    # -- recovery ------------------------------------------------------------------------------
    def truncate_above(self, lsn: int) -> None:
        """Physically remove every record above ``lsn`` (recovery: they belong to transactions
        that never committed). Never below the materialized LSN: pages are not un-applied."""
        with self._maint, self._sync_lock, self._lock:
            self._check_usable()
            if lsn < self._control.materialized_lsn:
                raise InternalError(f"cannot truncate segment {self.pg_id} to lsn {lsn}: it is "
                                    f"materialized up to {self._control.materialized_lsn}")
            if max(self._index.max_lsn, self._chain.scl, self._checkpoints.highest) <= lsn:
                return
            keep_scl = min(self._chain.scl, lsn)
            try:
                # The checkpoint is clipped first: it must never claim records being removed.
                if self._checkpoints.highest > lsn:
                    self._checkpoints.reset(lsn)
                if self._index.max_lsn > lsn:
                    self._cut_above(lsn)
                self._reload()
            except OSError as exc:
                raise self._fail(exc) from exc
            # Evidence held before (frontiers not yet checkpointed) still holds up to lsn.
            if keep_scl > self._chain.scl:
                self._chain.offer(keep_scl, self._control.chain_base)
                self._frontier_dirty = True
            self._counters["truncations"] += 1

    def _cut_above(self, lsn: int) -> None:
        cols = self._index.columns()
        seqs = cols["pos"] >> np.uint64(POS_SHIFT)
        offsets = (cols["pos"] & np.uint64((1 << POS_SHIFT) - 1)).astype(np.int64)
        above = cols["lsn"] > lsn
        # Newest file first: a crash part way leaves fewer records above lsn, never a hole
        # below it, and the recovery that called us simply runs again.
        for seq in sorted(set(seqs[above].tolist()), reverse=True):
            mine = seqs == seq
            cut, kept = mine & above, mine & ~above
            if not kept.any():
                self._hotlog.remove([int(seq)])
            elif offsets[cut].min() > offsets[kept].max():
                self._hotlog.cut(int(seq), int(offsets[cut].min()))
            else:
                spans = sorted(zip(offsets[kept].tolist(), cols["length"][kept].tolist()))
                self._hotlog.keep_only(int(seq), spans)

    # -- observability -------------------------------------------------------------------------
    def statistics(self) -> dict:
        with self._lock:
            files = self._hotlog.infos()
            stats = dict(self._counters)
            stats.update(
                pg_id=self.pg_id,
                records=len(self._index),
                bytes=sum(info.size for info in files),
                log_files=len(files),
                fsyncs=self.disk.fsyncs,
                scl=self._chain.scl,
                max_lsn=self.max_lsn,
                materialized_lsn=self._control.materialized_lsn,
                chain_base=self._control.chain_base,
                epoch=self._control.epoch,
                scl_checkpoint=self._checkpoints.highest,
                pending=self._chain.pending,
                voids=len(self._voids),
                pages_written=self._pages.pages_written,
                page_store_bytes=self._pages.size() if self._open else 0,
                journal_replays=self._pages.journal_replays,
                torn_bytes_cut=self._hotlog.torn_bytes_cut,
                damaged_ranges=len(self._damaged),
                index_bytes=self._index.nbytes(),
            )
            return stats



def _offer(chain: Chain, headers: dict, where: str,
           mask: np.ndarray | None = None) -> tuple[np.ndarray, int, int]:
    """Offer records to the chain: (accepted mask, duplicates, refused). Records outside
    ``mask`` are not offered (and count as accepted: they are below the chain's base)."""
    lsns, prevs = headers["lsn"], headers["prev"]
    if mask is None or mask.all():
        if chain.offer_run(lsns, prevs):
            return np.ones(lsns.size, dtype=bool), 0, 0
        mask = np.ones(lsns.size, dtype=bool)
    accepted = np.ones(lsns.size, dtype=bool)
    duplicates = refused = 0
    for index in np.flatnonzero(mask).tolist():
        verdict = chain.offer(int(lsns[index]), int(prevs[index]),
                              f"{where} at offset {int(headers['offset'][index])}")
        if verdict != ACCEPTED:
            accepted[index] = False
            if verdict == DUPLICATE:
                duplicates += 1
            else:
                refused += 1
    return accepted, duplicates, refused


def _voids(data: bytes | memoryview, headers: dict,
           mask: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(from_lsn, void_lsn) of the VOID records among ``headers``."""
    chosen = headers["type"] == RecordType.VOID
    if mask is not None:
        chosen &= mask
    result = []
    for index in np.flatnonzero(chosen).tolist():
        start = int(headers["offset"][index]) + RECORD_HEADER.size
        result.append((_U64(data[start:start + 8], "little"), int(headers["lsn"][index])))
    return result


def _apply(pages: dict[int, bytearray], buffer: bytes, voids: list[tuple[int, int]],
           upto_lsn: int, where: str) -> None:
    """Apply ``buffer`` to ``pages`` (replacing each entry by its new image) through the batch
    materializer, which checks every record's CRC32C first (Invariant 5) and runs the numba
    kernel when it is available (Invariant 7: byte-identical to the reference applier)."""
    from aurora_lite.redo.materialize import apply_to_array
    ids = sorted(pages)
    array = np.empty((len(ids), PAGE_SIZE), dtype=np.uint8)
    for row, page_id in enumerate(ids):
        array[row] = np.frombuffer(pages[page_id], dtype=np.uint8)
    apply_to_array(array, ids, buffer, voids=voids, upto_lsn=upto_lsn, where=where)
    for row, page_id in enumerate(ids):
        pages[page_id] = bytearray(array[row])
