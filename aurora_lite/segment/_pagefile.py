"""The page file: a storage node's side of page shipping, the baseline of bench/shipping.py.

A writer that ships pages (aurora_lite.volume._pageship, the mirrored-MySQL model) sends
PAGE_WRITE frames: its log since the last write plus whole 16 KB page images. The node appends
each payload, as received, to one append-only file in ``DATA/pageship/`` and acknowledges it
once fsynced; PAGE_WRITEs that arrive while an fsync runs wait for the next one (group commit,
the same policy as the redo path's hot log: ``_commit``). This is storage for the benchmark's
baseline only: nothing here feeds the segments, and the redo path never sends page images
(Invariant 1). docs/formats/pageship.md documents the bytes::

    file header (8 bytes)              entry (8 + length bytes)
      0 4 magic    b"APSF"               0 4 crc     CRC32C of bytes [4, 8 + length)
      4 2 version  1                     4 4 length  of the body
      6 2 reserved 0                     8 * body    a PAGE_WRITE payload, as received

Epochs and gaps: a node holds one writer epoch at a time. A PAGE_WRITE of an older epoch is
refused (STALE_EPOCH, Invariant 6); one of a newer epoch is adopted only if it is that epoch's
first write (``start_lsn == base_lsn``); within an epoch a write must start at or below the end
of the last one. Anything else is a gap (this node missed a write): refused, so the node stays
out of the quorum rather than acknowledge what it lacks. There is no catch-up: the baseline
tolerates two such nodes, as the quorum does. ``durable_lsn`` (acknowledged) is the end of the
newest fsynced write of the current epoch.

Recovery scans the entries: the first one that is truncated or fails its CRC ends the file (a
torn tail; it and anything after it are cut, Invariant 5). An in-memory index maps each page
to its newest image, so ``read`` answers GET_SHIPPED_PAGE without a scan. Images are appended,
never overwritten in place, so a torn write cannot damage an older image: the double-write
buffer that InnoDB needs for in-place page writes has nothing to protect here.
"""

from __future__ import annotations

import logging
import os
import struct
import threading

import crc32c as _crc32c
import trio

from aurora_lite.env import Disk
from aurora_lite.errors import OperationalError, ProgrammingError, StaleEpochError
from aurora_lite.page import PAGE_SIZE
from aurora_lite.wire import PageWrite, PageWriteAck, ShippedPage
from aurora_lite.wire._pageship import _IMAGE_HEAD, _PAGE_WRITE

log = logging.getLogger("aurora_lite.segment")

DIRECTORY = "pageship"
FILE_NAME = "PAGEFILE"
MAGIC = b"APSF"
VERSION = 1
FILE_HEADER = struct.Struct("<4sHH")
ENTRY_HEADER = struct.Struct("<II")
assert FILE_HEADER.size == 8 and ENTRY_HEADER.size == 8


def encode_entry(body: bytes) -> bytes:
    """One entry of the page file around a PAGE_WRITE payload."""
    length = struct.pack("<I", len(body))
    return struct.pack("<I", _crc32c.crc32c(body, _crc32c.crc32c(length))) + length + body


class PageFileGap(OperationalError):
    """A PAGE_WRITE that does not follow what this node holds (it missed a write)."""


class PageFile:
    """The append-only page file of one node (thread-safe; fsync outside the lock)."""

    def __init__(self, directory: str | os.PathLike, disk: Disk | None = None) -> None:
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, FILE_NAME)
        self.disk = disk if disk is not None else Disk()
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._fd = -1
        self.size = 0                   # bytes appended (header included)
        self.epoch = 0                  # newest writer epoch seen
        self.end_lsn = 0                # end_lsn of the newest entry of that epoch
        self.durable_lsn = 0            # end_lsn of the newest entry fsynced (this epoch)
        self._synced = (0, 0)
        self.index: dict[int, tuple[int, int]] = {}     # page -> (image offset, end_lsn)
        self.counters = dict(writes=0, write_bytes=0, images=0, log_bytes=0, syncs=0,
                             reads=0, torn_bytes_cut=0, gaps=0)

    # -- lifecycle --------------------------------------------------------------------------------
    def open(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        new = not os.path.exists(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if new or os.fstat(self._fd).st_size == 0:
            self.disk.pwrite(self._fd, FILE_HEADER.pack(MAGIC, VERSION, 0), 0)
            self.disk.fsync(self._fd)
            self.disk.fsync_dir(self.directory)
            self.size = FILE_HEADER.size
            return
        self._recover()

    def _recover(self) -> None:
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        magic, version, _reserved = FILE_HEADER.unpack_from(data, 0) \
            if len(data) >= FILE_HEADER.size else (b"", 0, 0)
        if magic != MAGIC or version != VERSION:
            raise ProgrammingError(f"{self.path}: not a page file (magic {magic!r}, "
                                   f"version {version})")
        offset = FILE_HEADER.size
        while offset + ENTRY_HEADER.size <= len(data):
            crc, length = ENTRY_HEADER.unpack_from(data, offset)
            end = offset + ENTRY_HEADER.size + length
            if end > len(data) or _crc32c.crc32c(data[offset + 4:end]) != crc:
                break
            self._index_entry(memoryview(data)[offset + ENTRY_HEADER.size:end],
                              offset + ENTRY_HEADER.size)
            offset = end
        if offset < len(data):
            log.warning("%s: cutting %d bytes of a torn or damaged tail at offset %d",
                        self.path, len(data) - offset, offset)
            self.counters["torn_bytes_cut"] += len(data) - offset
            self.disk.truncate(self._fd, offset)
            self.disk.fsync(self._fd)
        self.size = offset
        self.durable_lsn = self.end_lsn
        self._synced = (self.epoch, self.end_lsn)

    def close(self) -> None:
        with self._sync_lock, self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # -- writes -----------------------------------------------------------------------------------
    def _index_entry(self, body: memoryview, body_offset: int) -> int:
        epoch, _base, _start, end, log_length, count = _PAGE_WRITE.unpack_from(body, 0)
        position = _PAGE_WRITE.size + log_length
        for _ in range(count):
            (page_id,) = _IMAGE_HEAD.unpack_from(body, position)
            self.index[page_id] = (body_offset + position + _IMAGE_HEAD.size, end)
            position += _IMAGE_HEAD.size + PAGE_SIZE
        if epoch > self.epoch:
            self.epoch, self.end_lsn = epoch, end
        else:
            self.end_lsn = max(self.end_lsn, end)
        return count

    def append(self, write: PageWrite) -> int:
        """Append one PAGE_WRITE (not yet durable); StaleEpochError for an older writer."""
        body = write.encode()
        entry = encode_entry(body)
        with self._lock:
            if self._fd < 0:
                raise ProgrammingError("the page file is closed")
            if write.epoch < self.epoch:
                raise StaleEpochError(f"page write of epoch {write.epoch}: this node's page "
                                      f"file has seen epoch {self.epoch}")
            if write.epoch > self.epoch:
                gap = write.start_lsn != write.base_lsn
            else:
                gap = write.start_lsn > self.end_lsn
            if gap:
                self.counters["gaps"] += 1
                raise PageFileGap(f"page write ({write.start_lsn}, {write.end_lsn}] of epoch "
                                  f"{write.epoch}: this node holds epoch {self.epoch} up to "
                                  f"{self.end_lsn} (a write was missed)")
            offset = self.size
            self.disk.pwrite(self._fd, entry, offset)
            self.size = offset + len(entry)
            count = self._index_entry(memoryview(body), offset + ENTRY_HEADER.size)
            counters = self.counters
            counters["writes"] += 1
            counters["write_bytes"] += len(entry)
            counters["images"] += count
            counters["log_bytes"] += len(write.log)
            return write.end_lsn

    def sync(self) -> int:
        """fsync everything appended so far; the end_lsn now durable."""
        with self._sync_lock:
            with self._lock:
                target = (self.epoch, self.end_lsn)
                fd = self._fd
                done = target == self._synced
            if not done:
                self.disk.fsync(fd)
                self.counters["syncs"] += 1
                with self._lock:
                    self._synced = target
                    if target[0] == self.epoch:
                        self.durable_lsn = target[1]
            return self.durable_lsn

    # -- reads ------------------------------------------------------------------------------------
    def read(self, page_id: int) -> ShippedPage:
        with self._lock:
            self.counters["reads"] += 1
            where = self.index.get(page_id)
            if where is None:
                return ShippedPage(page_id, 0, None)
            offset, end = where
            image = os.pread(self._fd, PAGE_SIZE, offset)
        return ShippedPage(page_id, end, image)

    def statistics(self) -> dict:
        with self._lock:
            return dict(self.counters, size=self.size, epoch=self.epoch, end_lsn=self.end_lsn,
                        durable_lsn=self.durable_lsn, pages=len(self.index))


class PageShipService:
    """The node's async side: appends in arrival order, one fsync per round, acknowledges."""

    def __init__(self, data_dir: str, disk: Disk) -> None:
        self.file = PageFile(os.path.join(data_dir, DIRECTORY), disk)
        self._opened = False
        self._open_lock = trio.Lock()
        self._waiting: list[trio.Event] = []
        self._wake = trio.Event()
        self._error: BaseException | None = None
        self.rounds = 0

    async def _ensure_open(self) -> PageFile:
        # Opened at first use: a node that never sees page shipping keeps no page file.
        if not self._opened:
            async with self._open_lock:
                if not self._opened:
                    await trio.to_thread.run_sync(self.file.open)
                    self._opened = True
        return self.file

    async def append(self, write: PageWrite) -> None:
        """Append (in the caller's order: the server awaits this before reading on)."""
        page_file = await self._ensure_open()
        await trio.to_thread.run_sync(page_file.append, write)

    async def durable(self, epoch: int, end_lsn: int) -> PageWriteAck:
        """Wait for the group commit that covers ``end_lsn`` of ``epoch``."""
        page_file = self.file
        while page_file.epoch == epoch and page_file.durable_lsn < end_lsn:
            done = trio.Event()
            self._waiting.append(done)
            self._wake.set()
            await done.wait()
            if self._error is not None:
                raise self._error
        if page_file.epoch != epoch:
            raise StaleEpochError(f"page write of epoch {epoch}: this node's page file has "
                                  f"seen epoch {page_file.epoch}")
        return PageWriteAck(page_file.durable_lsn)

    async def read(self, page_id: int) -> ShippedPage:
        page_file = await self._ensure_open()
        return await trio.to_thread.run_sync(page_file.read, page_id)

    async def run(self) -> None:
        """The flusher: every waiter present shares one fsync."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            waiters, self._waiting = self._waiting, []
            try:
                await trio.to_thread.run_sync(self.file.sync)
                self._error = None
            except Exception as exc:     # an I/O error: nothing is acknowledged (Q2)
                log.error("page file sync failed: %s", exc)
                self._error = exc
            self.rounds += 1
            for done in waiters:
                done.set()

    def statistics(self) -> dict:
        stats = self.file.statistics() if self._opened else {}
        stats["rounds"] = self.rounds
        return stats

    def close(self) -> None:
        if self._opened:
            self.file.close()
