"""The replica's buffer pool: cached pages that follow the redo stream, versions for readers.

Every cached page (a *frame*) holds the page with every record the replica received applied
(through the reference applier, the same code the writer and storage run: Invariant 7), so
it may be ahead of the read point; readers never use bytes that are ahead of them:

* **Resolution.** A reader at read point R uses the frame if its page LSN <= R (no record of
  the page lies between, so it *is* the page as of R); otherwise the kept version whose
  ``[page LSN, until)`` covers R; otherwise storage builds the page as of R (GET_PAGE).
* **Copy-on-write (replication.md P5).** A record changes a frame in place only when the
  frame's page LSN is above the last transaction end received: no read point, present or
  future, can then resolve to that image. Otherwise the image is kept as a version (``until``
  = the record's LSN) and the record goes to a copy. So an image a reader holds is never
  changed, and readers at an older read point are unaffected by records applied above it.
* **Loading.** A page that is not cached is read from storage at the replica's read point
  (``base``), then brought forward with the window's records above it (``RecordWindow``),
  and cached. The window is not pruned below the base of a load in flight.
* **VOID (P6).** The frames of every page the voided range touched are dropped; the window
  skips voided records when it brings a page forward again.
* **Eviction.** Any frame may go (least recently used first): storage at the read point
  plus the window rebuilds it.

One lock guards frames, versions and the window; page bytes are read outside it.
"""

from __future__ import annotations

import struct
import threading
from collections import Counter, OrderedDict
from typing import Callable

from aurora_lite.buffer import Image, image_lsn
from aurora_lite.errors import CorruptionError, ReadOnlyError
from aurora_lite.page import PAGE_SIZE
from aurora_lite.redo import FLAG_TXN_END, RECORD_HEADER, RecordType, apply, record_offsets
from aurora_lite.replica._window import RecordWindow

_U64 = struct.Struct("<Q")
_HEADER = RECORD_HEADER.size
_CHUNK = 64          # records applied per hold of the lock (readers wait at most that long)


class ReplicaPool:
    """Frames and versions of a replica. ``fetch(page_id, read_point)`` reads storage (it
    blocks; it is called from reader threads, never with the lock held)."""

    def __init__(self, fetch: Callable[[int, int], bytearray], capacity: int = 4096, *,
                 version_capacity: int | None = None) -> None:
        if capacity < 16:
            raise ValueError("the replica's buffer pool needs at least 16 pages")
        self.fetch = fetch
        self.capacity = capacity
        self.version_capacity = version_capacity if version_capacity is not None \
            else max(64, capacity // 2)
        self.lock = threading.RLock()
        self.frames: OrderedDict[int, Image] = OrderedDict()
        self.versions: dict[int, list[Image]] = {}
        self.version_count = 0
        self.window = RecordWindow()
        self.base = 0                # the read point pages are loaded at
        self.received = 0            # the highest LSN received
        self.last_txn_end = 0        # the highest transaction end received
        self.generation = 0          # bumped by reset(): loads in flight do not install
        self._loading: dict[int, threading.Event] = {}
        self._load_bases: Counter[int] = Counter()
        self.counters = dict(hits=0, version_reads=0, loads=0, storage_reads=0,
                             records_received=0, records_applied=0, cow_copies=0,
                             void_drops=0, init_frames=0, evictions=0, reloads=0,
                             apply_failures=0)

    # -- the stream --------------------------------------------------------------------------
    def receive(self, buffer: bytes) -> int:
        """Apply a batch of records (LSN order) to the cached pages and keep them in the
        window; return the highest LSN received."""
        offsets = record_offsets(buffer, "replication stream")     # CRC32C: Invariant 5
        unpack = RECORD_HEADER.unpack_from
        counters = self.counters
        for start in range(0, len(offsets), _CHUNK):
            with self.lock:
                frames = self.frames
                window = self.window
                for offset in offsets[start:start + _CHUNK]:
                    _crc, length, lsn, _prev, page_id, rtype, flags, _v = unpack(buffer, offset)
                    if lsn <= self.received:
                        continue
                    payload = bytes(buffer[offset + _HEADER:offset + length])
                    counters["records_received"] += 1
                    if rtype == RecordType.VOID:
                        self._void(_U64.unpack_from(payload, 0)[0], lsn)
                    else:
                        window.add(lsn, page_id, rtype, payload)
                        image = frames.get(page_id)
                        if image is not None:
                            self._apply(page_id, image, rtype, lsn, payload)
                        elif rtype == RecordType.INIT_PAGE:
                            # A page (re)initialised needs nothing from storage. Its blank
                            # image is no version of anything: read points before this
                            # record find no version and ask storage.
                            self._make_room()
                            data = bytearray(PAGE_SIZE)
                            apply(data, rtype, lsn, page_id, payload)
                            frames[page_id] = Image(data)
                            counters["init_frames"] += 1
                    if flags & FLAG_TXN_END:
                        self.last_txn_end = lsn
                    self.received = lsn
        return self.received

    def _apply(self, page_id: int, image: Image, rtype: int, lsn: int, payload: bytes) -> None:
        if lsn <= image_lsn(image.data):
            return
        if image_lsn(image.data) <= self.last_txn_end:
            # P5: a read point may resolve to this image; it stays as it is.
            image.until = lsn
            self._keep_version(page_id, image)
            image = Image(bytearray(image.data))
            self.frames[page_id] = image
            self.counters["cow_copies"] += 1
        else:
            image.keys = image.children = None
        try:
            apply(image.data, rtype, lsn, page_id, payload)
            self.counters["records_applied"] += 1
        except CorruptionError:
            # The cached page and the stream disagree: forget the page, storage rebuilds it.
            self.counters["apply_failures"] += 1
            self.frames.pop(page_id, None)

    def _void(self, from_lsn: int, void_lsn: int) -> None:
        window = self.window
        for page_id in window.pages_between(from_lsn, void_lsn):
            if self.frames.pop(page_id, None) is not None:
                self.counters["void_drops"] += 1
        window.add_void(from_lsn, void_lsn)

    def advance(self, read_point: int) -> None:
        """The read point moved: loads start from it, the window keeps what is above it (and
        above the base of any load in flight)."""
        with self.lock:
            self.base = max(self.base, read_point)
            keep = min(self._load_bases) if self._load_bases else self.base
            self.window.prune(min(self.base, keep))

    def reset(self, read_point: int, position: int) -> None:
        """A fresh stream: forget every frame and the window; pages load at ``read_point``,
        records above ``position`` follow. Versions stay: they are committed images that
        readers at older read points may still use."""
        with self.lock:
            self.generation += 1
            self.frames.clear()
            self.window.clear(read_point)
            self._load_bases.clear()
            self.base = read_point
            self.received = position
            self.last_txn_end = position

    def prune_versions(self, oldest_read_point: int) -> None:
        """Forget versions no reader at or after ``oldest_read_point`` can need."""
        with self.lock:
            for page_id in list(self.versions):
                images = self.versions[page_id]
                kept = [image for image in images if image.until > oldest_read_point]
                self.version_count -= len(images) - len(kept)
                if kept:
                    self.versions[page_id] = kept
                else:
                    del self.versions[page_id]

    # -- readers -------------------------------------------------------------------------------
    def read(self, page_id: int, read_point: int) -> Image:
        """The image of ``page_id`` as of ``read_point`` (a read point the replica made
        visible, or the one it is about to)."""
        with self.lock:
            image = self.frames.get(page_id)
            if image is not None:
                self.frames.move_to_end(page_id)
                if image_lsn(image.data) <= read_point:
                    self.counters["hits"] += 1
                    return image
            version = self._version(page_id, read_point)
            if version is not None:
                return version
        if image is None:
            image = self._load(page_id)
            with self.lock:
                if image is not None and image_lsn(image.data) <= read_point:
                    return image
                version = self._version(page_id, read_point)
                if version is not None:
                    return version
        # No image here is as old as the reader: storage builds the page as of its read point.
        data = self.fetch(page_id, read_point)
        image = Image(data, read_point + 1)
        with self.lock:
            self.counters["storage_reads"] += 1
            self._keep_version(page_id, image)
        return image

    def get(self, page_id: int):
        raise ReadOnlyError("a replica's pages cannot be changed (this is a read replica)")

    def _version(self, page_id: int, read_point: int) -> Image | None:
        versions = self.versions.get(page_id)
        if versions:
            for image in reversed(versions):
                if image_lsn(image.data) <= read_point < image.until:
                    self.counters["version_reads"] += 1
                    return image
        return None

    def _load(self, page_id: int) -> Image | None:
        """Cache ``page_id``: storage at the base, brought forward with the window."""
        while True:
            with self.lock:
                image = self.frames.get(page_id)
                if image is not None:
                    return image
                event = self._loading.get(page_id)
                if event is None:
                    event = self._loading[page_id] = threading.Event()
                    base, generation = self.base, self.generation
                    self._load_bases[base] += 1
                    break
            if not event.wait(60):
                raise TimeoutError(f"page {page_id} did not load within 60 s")
        try:
            self.counters["loads"] += 1
            data = self.fetch(page_id, base)
            with self.lock:
                self.counters["storage_reads"] += 1
                if generation != self.generation:
                    return None             # a fresh stream began meanwhile: not ours to cache
                image = self.frames.get(page_id)
                if image is not None:
                    return image            # an INIT_PAGE made it meanwhile
                at_base = Image(data)
                current = at_base
                records = self.window.records_of(page_id, max(base, image_lsn(data)))
                if records:
                    page = bytearray(data)
                    try:
                        for lsn, rtype, payload in records:
                            apply(page, rtype, lsn, page_id, payload)
                    except CorruptionError:
                        self.counters["apply_failures"] += 1
                        return None
                    at_base.until = records[0][0]
                    self._keep_version(page_id, at_base)
                    current = Image(page)
                self._make_room()
                self.frames[page_id] = current
                return current
        finally:
            with self.lock:
                del self._loading[page_id]
                if self._load_bases[base] <= 1:
                    del self._load_bases[base]
                else:
                    self._load_bases[base] -= 1
            event.set()

    # -- internals -----------------------------------------------------------------------------
    def _keep_version(self, page_id: int, image: Image) -> None:
        versions = self.versions.setdefault(page_id, [])
        versions.append(image)
        if len(versions) > 1:
            versions.sort(key=lambda item: image_lsn(item.data))
        self.version_count += 1
        if self.version_count > self.version_capacity:
            # Drop whole pages' versions, oldest pages first; a reader that needed one asks
            # storage instead.
            for pid in list(self.versions):
                if self.version_count <= self.version_capacity // 2:
                    break
                self.version_count -= len(self.versions.pop(pid))

    def _make_room(self) -> None:
        frames = self.frames
        while len(frames) >= self.capacity:
            frames.popitem(last=False)
            self.counters["evictions"] += 1

    def statistics(self) -> dict:
        with self.lock:
            stats = dict(self.counters)
            stats.update(capacity_pages=self.capacity, cached_pages=len(self.frames),
                         versions=self.version_count, window_records=len(self.window),
                         window_bytes=self.window.bytes, base=self.base,
                         received=self.received)
        return stats
