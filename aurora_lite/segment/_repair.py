"""Scrubbing and repair of one segment: finding damage, and filling it from a peer's copy.

Mixed into ``SegmentStore`` (it uses the store's locks and files; the lock order of
``_store`` applies). The node's background tasks drive it (aurora_lite.segment._scrub and
_gossip), recovery.md R4/R5:

* ``scrub()`` re-reads every log record and page image written so far and checks its CRC32C
  (Invariant 5); it changes nothing and reports what is damaged.
* ``repair_log()`` re-reads the log salvaging: damaged bytes are cut out, the records they held
  become holes in SCL (``gaps()``), and gossip fetches them from a peer (FETCH_RECORDS).
* ``repair_page(page_id, image)`` replaces a damaged page image by a peer's image of the page
  at this segment's materialized LSN (GET_PAGE at that read point).
* ``page_images`` / ``install_pages`` + ``finish_install`` move a peer's page store to a segment
  whose SCL is below the peer's materialized LSN (a wiped data directory, or a segment down for
  so long that the peers collected the log it misses): the images, then the control file
  (materialized LSN = chain base = the peer's), then the hot log above it by gossip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as _replace
from typing import TYPE_CHECKING

from aurora_lite.errors import CorruptionError, InternalError
from aurora_lite.page._layout import MAGIC, PAGE_SIZE, page_id_of, seal, verify
from aurora_lite.redo._record import check_record
from aurora_lite.segment._formats import LOG_HEADER, LogHeader
from aurora_lite.segment._hotlog import DamagedRange

if TYPE_CHECKING:
    from aurora_lite.segment._store import SegmentStore

# Page slots are read this many at a time under the store lock (a slot is never half written
# while the lock is held), so appends and reads wait at most a few milliseconds.
_SLOTS_PER_LOCK = 64


@dataclass(frozen=True)
class ScrubReport:
    """What one scrub pass found."""

    records_checked: int = 0
    pages_checked: int = 0
    log_damage: tuple[str, ...] = field(default_factory=tuple)   # "<path> at offset <n>: ..."
    bad_pages: tuple[int, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return not self.log_damage and not self.bad_pages


class MaintenanceMixin:
    """Scrub and repair operations of ``SegmentStore``."""

    def scrub(self: "SegmentStore") -> ScrubReport:
        """CRC-check every record in the hot log and every page image (read-only)."""
        with self._maint:             # no materialization or truncation removes files meanwhile
            with self._lock:
                self._check_usable()
                files = [(info.seq, info.path, info.size) for info in self._hotlog.infos()]
                slots = max(0, self._pages.size() // PAGE_SIZE - 1)
            records = 0
            damage = []
            for seq, path, size in files:
                data = self._hotlog.read_prefix(seq, size)
                try:
                    header = LogHeader.unpack(data, path)
                    if header.pg_id != self.pg_id or header.file_seq != seq:
                        raise CorruptionError(f"{path} at offset 8: header names protection "
                                              f"group {header.pg_id} file {header.file_seq}")
                    offset = LOG_HEADER.size
                    while offset < len(data):
                        offset += check_record(data, offset, path)
                        records += 1
                except CorruptionError as exc:
                    damage.append(str(exc))
            bad_pages = []
            for start in range(0, slots, _SLOTS_PER_LOCK):
                with self._lock:
                    self._check_usable()
                    for page_id in range(self.first_page + start,
                                         self.first_page + min(slots, start + _SLOTS_PER_LOCK)):
                        try:
                            self._pages.read(page_id)
                        except CorruptionError:
                            bad_pages.append(page_id)
            return ScrubReport(records, slots, tuple(damage), tuple(bad_pages))

    def repair_log(self: "SegmentStore") -> list[DamagedRange]:
        """Re-read the hot log, cutting out damaged bytes (even at the tail: this is not a crash);
        SCL drops to the first hole (recovery.md R4). Return the ranges cut out."""
        with self._maint, self._sync_lock, self._lock:
            self._check_usable()
            try:
                damaged = self._reload(salvage=True, tail_is_damage=True)
            except OSError as exc:
                raise self._fail(exc) from exc
            self._counters["log_repairs"] += 1
            return damaged

    def repair_page(self: "SegmentStore", page_id: int, image: bytes) -> None:
        """Replace a damaged page image by ``image``: a peer's sealed image of the page at this
        segment's materialized LSN (checked here: Invariant 5)."""
        with self._maint:
            with self._lock:
                self._check_usable()
                target = self._control.materialized_lsn
            _check_image(image, page_id, f"repair image of page {page_id}")
            try:
                if any(image):
                    self._pages.write({page_id: bytearray(image)}, target, lock=self._lock)
                    self._pages.clear_journal()
                else:
                    # A page never written: the slot becomes a hole again (zeros).
                    with self._lock:
                        self._pages.write_zero(page_id)
            except OSError as exc:
                with self._lock:
                    raise self._fail(exc) from exc
            self._counters["page_repairs"] += 1

    def page_images(self: "SegmentStore", first_page: int,
                    max_pages: int) -> tuple[int, int, int, int | None, list[bytes]]:
        """``(materialized_lsn, base_cpl, base_txn_end, next_page, images)``: the sealed images
        of the written pages from ``first_page`` on (at most ``max_pages`` slots looked at);
        ``next_page`` is None once the page store is exhausted. An image may be newer than the
        materialized LSN (a batch being written), never older."""
        with self._lock:
            self._check_usable()
            slots = max(0, self._pages.size() // PAGE_SIZE - 1)
            stop_page = self.first_page + slots
            start = max(first_page, self.first_page)
            stop = min(stop_page, start + max(1, max_pages))
            images = []
            for page_id in range(start, stop):
                page = self._pages.read(page_id)
                if any(page):
                    images.append(bytes(seal(page)))
            control = self._control
            return (control.materialized_lsn, control.base_cpl, control.base_txn_end,
                    stop if stop < stop_page else None, images)

    def install_pages(self: "SegmentStore", images: list[bytes], target_lsn: int) -> None:
        """Write a peer's page images (step one of ``finish_install``); they are checked first.
        Harmless if nothing follows: slots newer than the control file are allowed."""
        pages = {}
        for image in images:
            if len(image) != PAGE_SIZE or image[4:6] != MAGIC:
                raise CorruptionError(f"segment {self.pg_id}: installed image is not a page")
            page_id = page_id_of(image)
            _check_image(image, page_id, f"installed image of page {page_id}")
            pages[page_id] = bytearray(image)
        with self._maint:
            with self._lock:
                self._check_usable()
                for page_id in pages:
                    self._pages.check_slot(page_id)
                if target_lsn <= self._control.materialized_lsn:
                    raise InternalError(f"segment {self.pg_id} is materialized at "
                                        f"{self._control.materialized_lsn}; not installing "
                                        f"pages of lsn {target_lsn}")
            try:
                self._pages.write(pages, target_lsn, lock=self._lock)
            except OSError as exc:
                with self._lock:
                    raise self._fail(exc) from exc

    def finish_install(self: "SegmentStore", materialized_lsn: int, base_cpl: int,
                       base_txn_end: int) -> None:
        """Adopt the installed pages: the control file says they hold every record at or
        below ``materialized_lsn`` (SCL restarts there; the hot log above it stays)."""
        with self._maint, self._sync_lock, self._lock:
            self._check_usable()
            if materialized_lsn <= self._control.materialized_lsn:
                raise InternalError(f"segment {self.pg_id} is materialized at "
                                    f"{self._control.materialized_lsn}, not below "
                                    f"{materialized_lsn}")
            if self._chain.scl >= materialized_lsn:
                raise InternalError(f"segment {self.pg_id} has SCL {self._chain.scl}: it does "
                                    f"not need pages of lsn {materialized_lsn}")
            try:
                self._write_control(_replace(
                    self._control, materialized_lsn=materialized_lsn,
                    chain_base=materialized_lsn, base_cpl=base_cpl,
                    base_txn_end=base_txn_end))
                self._pages.clear_journal()
                if self._checkpoints.highest <= materialized_lsn:
                    self._checkpoints.reset(0)
                self._reload()
                self._voids = [v for v in self._voids if v[1] > materialized_lsn]
                self._collect(materialized_lsn)
            except OSError as exc:
                raise self._fail(exc) from exc
            self._counters["installs"] += 1


def _check_image(image: bytes, page_id: int, where: str) -> None:
    if len(image) != PAGE_SIZE:
        raise CorruptionError(f"{where}: {len(image)} bytes, not a page")
    verify(image, where)
    if any(image) and page_id_of(image) != page_id:
        raise CorruptionError(f"{where}: the image holds page {page_id_of(image)}")
