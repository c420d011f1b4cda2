"""The bounded buffer pool: current page images for the writer, older images for readers.

Each cached page is a ``Frame`` holding its current ``Image`` (the page bytes plus a decoded
cache the B-tree keeps beside them). Three rules make readers and the writer independent:

1. *Copy-on-write at transaction boundaries.* ``pool.epoch`` changes whenever a write
   transaction ends. The first time the writer changes a frame in an epoch, the frame's image
   is moved to the version store (with the LSN range of read points it serves) and the writer
   gets a private copy. A frame whose ``cow_epoch`` equals the current epoch is private: readers
   never use its bytes. An image that a reader may hold is therefore never mutated.
2. *Read-point resolution.* A reader at read point R uses the frame's image when the frame is
   not private and its page LSN <= R; otherwise the version whose [lsn, until) range covers R;
   otherwise it asks storage for the page as of R (``volume.get_page``).
3. *Eviction needs durability.* A frame may be dropped only when its page LSN <= VDL, because
   storage can then rebuild it from redo. Hence every page that is not in the pool has its
   newest version at or below VDL, and a miss loads the page as of VDL.

The resolution and the copy-on-write swap happen under one short lock; page bytes are read and
changed outside it.
"""

from __future__ import annotations

import struct
import threading
from typing import Callable

from aurora_lite.page import OFF_LSN, PAGE_SIZE
from aurora_lite.volume import Volume

_U64 = struct.Struct("<Q")
_NEVER = 1 << 64


def image_lsn(data: bytearray | bytes) -> int:
    return _U64.unpack_from(data, OFF_LSN)[0]


class Image:
    """Page bytes plus whatever the B-tree decoded from them (``keys`` etc.)."""

    __slots__ = ("data", "keys", "children", "until")

    def __init__(self, data: bytearray, until: int = _NEVER) -> None:
        self.data = data
        self.keys: list[bytes] | None = None
        self.children: list[int] | None = None
        # First LSN at which this image stops being the page's content (versions only).
        self.until = until

    def private_copy(self) -> "Image":
        copy = Image(bytearray(self.data))
        if self.keys is not None:
            copy.keys = list(self.keys)
        if self.children is not None:
            copy.children = list(self.children)
        return copy


class Frame:
    __slots__ = ("page_id", "image", "cow_epoch", "referenced", "last_op")

    def __init__(self, page_id: int, image: Image, cow_epoch: int = -1) -> None:
        self.page_id = page_id
        self.image = image
        self.cow_epoch = cow_epoch
        self.referenced = True
        self.last_op = 0


class BufferPool:
    """A CLOCK-managed set of frames over a volume, plus the version store for readers."""

    def __init__(self, volume: Volume, capacity: int = 4096, *,
                 version_capacity: int | None = None) -> None:
        if capacity < 16:
            raise ValueError("the buffer pool needs at least 16 pages")
        self.volume = volume
        self.capacity = capacity
        self.version_capacity = version_capacity if version_capacity is not None \
            else max(16, capacity // 4)
        self.frames: dict[int, Frame] = {}
        self.versions: dict[int, list[Image]] = {}
        self.version_count = 0
        self.epoch = 0
        # The newest transaction end issued: no read point can be above it.
        self.boundary = 0
        self.op = 1
        self.lock = threading.RLock()
        self._loading: dict[int, threading.Event] = {}
        self._clock: list[int] = []
        self._hand = 0
        # Called before waiting for durability so that records still batched in the writer
        # are submitted (otherwise they could never become durable).
        self.flush_hook: Callable[[], None] | None = None
        self.pinned: set[int] = set()
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.storage_reads = 0
        self.version_reads = 0
        self.cow_copies = 0

    # -- the writer's view -------------------------------------------------------------------
    def begin_op(self) -> None:
        """Start a B-tree operation: frames it touches are not evicted until the next one."""
        self.op += 1

    def get(self, page_id: int) -> Frame:
        """The frame holding the newest version of ``page_id`` (loaded at VDL on a miss)."""
        frame = self.frames.get(page_id)
        if frame is None:
            frame = self._load(page_id)
        else:
            self.hits += 1
        frame.referenced = True
        frame.last_op = self.op
        return frame

    def for_write(self, frame: Frame) -> bytearray:
        """The frame's bytes, made private to the writer first if a reader could see them."""
        if frame.cow_epoch != self.epoch:
            with self.lock:
                if frame.cow_epoch != self.epoch:
                    old = frame.image
                    # Every read point is a transaction end at or below ``boundary``; the change
                    # about to happen gets a larger LSN, so the old image serves them all.
                    old.until = self.boundary + 1
                    self._keep_version(frame.page_id, old)
                    frame.cow_epoch = self.epoch
                    frame.image = old.private_copy()
                    self.cow_copies += 1
        frame.last_op = self.op
        return frame.image.data

    def new_frame(self, page_id: int) -> Frame:
        """A frame for a page that is being (re)initialised: no need to read it first."""
        with self.lock:
            old = self.frames.get(page_id)
            if old is not None:
                if old.cow_epoch != self.epoch:
                    old.image.until = self.boundary + 1
                    self._keep_version(page_id, old.image)
                del self.frames[page_id]
            else:
                self._make_room()
            frame = Frame(page_id, Image(bytearray(PAGE_SIZE)), self.epoch)
            frame.last_op = self.op
            self.frames[page_id] = frame
            self._clock.append(page_id)
        return frame

    def end_epoch(self, txn_end_lsn: int) -> None:
        """A write transaction ended at ``txn_end_lsn`` (its COMMIT or VOID was issued): its
        frames become shared, and that LSN is the newest possible read point."""
        with self.lock:
            self.epoch += 1
            self.boundary = max(self.boundary, txn_end_lsn)

    def discard_above(self, lsn: int) -> int:
        """Drop every frame whose page LSN is above ``lsn`` (rollback by VOID); return count."""
        with self.lock:
            doomed = [pid for pid, frame in self.frames.items()
                      if image_lsn(frame.image.data) > lsn]
            for pid in doomed:
                del self.frames[pid]
            if doomed:
                self._clock = [pid for pid in self._clock if pid in self.frames]
                self._hand = 0
            return len(doomed)

    def discard(self, page_ids) -> None:
        """Drop frames whose content is no longer trustworthy (an abandoned MTR)."""
        with self.lock:
            for pid in page_ids:
                self.frames.pop(pid, None)
            self._clock = [pid for pid in self._clock if pid in self.frames]
            self._hand = 0

    # -- readers -------------------------------------------------------------------------------
    def read(self, page_id: int, read_point: int) -> Image:
        """The image of ``page_id`` as of ``read_point`` (a published read point)."""
        with self.lock:
            frame = self.frames.get(page_id)
            if frame is not None:
                frame.referenced = True
                if frame.cow_epoch != self.epoch:
                    image = frame.image
                    if image_lsn(image.data) <= read_point:
                        self.hits += 1
                        return image
                versions = self.versions.get(page_id)
                if versions:
                    for image in reversed(versions):
                        if image_lsn(image.data) <= read_point < image.until:
                            self.version_reads += 1
                            return image
            else:
                versions = self.versions.get(page_id)
                if versions:
                    for image in reversed(versions):
                        if image_lsn(image.data) <= read_point < image.until:
                            self.version_reads += 1
                            return image
        if frame is None:
            frame = self._load(page_id)
            with self.lock:
                if frame.cow_epoch != self.epoch and image_lsn(frame.image.data) <= read_point:
                    return frame.image
        # The newest version is too new and no kept version covers the read point: storage
        # builds the page as of the read point from redo.
        data = self.volume.get_page(page_id, read_point)
        self.storage_reads += 1
        image = Image(data, read_point + 1)
        with self.lock:
            self._keep_version(page_id, image)
        return image

    def prune_versions(self, oldest_read_point: int) -> None:
        """Forget versions no reader at or after ``oldest_read_point`` can need."""
        with self.lock:
            for pid in list(self.versions):
                kept = [image for image in self.versions[pid] if image.until > oldest_read_point]
                self.version_count -= len(self.versions[pid]) - len(kept)
                if kept:
                    self.versions[pid] = kept
                else:
                    del self.versions[pid]

    # -- internals -----------------------------------------------------------------------------
    def _keep_version(self, page_id: int, image: Image) -> None:
        versions = self.versions.setdefault(page_id, [])
        versions.append(image)
        versions.sort(key=lambda item: image_lsn(item.data))
        self.version_count += 1
        if self.version_count > self.version_capacity:
            # Drop the oldest images first; a reader that needed one asks storage instead.
            for pid in list(self.versions):
                if self.version_count <= self.version_capacity // 2:
                    break
                dropped = self.versions.pop(pid)
                self.version_count -= len(dropped)

    def _load(self, page_id: int) -> Frame:
        while True:
            with self.lock:
                frame = self.frames.get(page_id)
                if frame is not None:
                    return frame
                event = self._loading.get(page_id)
                if event is None:
                    event = self._loading[page_id] = threading.Event()
                    break
            if not event.wait(60):
                raise TimeoutError(f"page {page_id} did not load within 60 s")
        try:
            self.misses += 1
            data = self.volume.get_page(page_id, self.volume.vdl)
            self.storage_reads += 1
            frame = Frame(page_id, Image(data))
            frame.last_op = self.op
            with self.lock:
                self._make_room()
                self.frames[page_id] = frame
                self._clock.append(page_id)
            return frame
        finally:
            with self.lock:
                del self._loading[page_id]
            event.set()

    def _make_room(self) -> None:
        """Evict until there is room for one more frame (called with the lock held)."""
        if len(self.frames) < self.capacity:
            return
        vdl = self.volume.vdl
        blocked_lsn = None
        for _attempt in range(3):
            scanned = 0
            limit = 2 * len(self._clock) + 1
            while len(self.frames) >= self.capacity and scanned < limit and self._clock:
                scanned += 1
                if self._hand >= len(self._clock):
                    self._compact_clock()
                    if not self._clock:
                        break
                pid = self._clock[self._hand]
                frame = self.frames.get(pid)
                if frame is None:
                    self._clock[self._hand] = -1
                    self._hand += 1
                    continue
                if frame.referenced:
                    frame.referenced = False
                    self._hand += 1
                    continue
                if frame.last_op == self.op or pid in self.pinned:
                    self._hand += 1
                    continue
                lsn = image_lsn(frame.image.data)
                if lsn > vdl:
                    blocked_lsn = lsn if blocked_lsn is None else min(blocked_lsn, lsn)
                    self._hand += 1
                    continue
                if frame.cow_epoch == self.epoch:
                    # The writer's private image leaves; readers never needed it.
                    pass
                del self.frames[pid]
                self._clock[self._hand] = -1
                self._hand += 1
                self.evictions += 1
            if len(self.frames) < self.capacity:
                return
            if blocked_lsn is None:
                break
            # Everything evictable is waiting for durability: push batched records out and
            # wait (without the lock, so readers and the flusher go on).
            if self.flush_hook is not None:
                self.flush_hook()
            self.lock.release()
            try:
                vdl = self.volume.wait_durable(blocked_lsn, timeout=60)
            finally:
                self.lock.acquire()
            blocked_lsn = None
        # Every frame is in use by the current operation: grow past the bound rather than fail.

    def _compact_clock(self) -> None:
        self._clock = [pid for pid in self._clock if pid >= 0 and pid in self.frames]
        self._hand = 0

    def statistics(self) -> dict:
        return {
            "capacity_pages": self.capacity,
            "cached_pages": len(self.frames),
            "versions": self.version_count,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "storage_reads": self.storage_reads,
            "version_reads": self.version_reads,
            "cow_copies": self.cow_copies,
        }
