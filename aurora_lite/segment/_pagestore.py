"""The page store: sealed 16 KB images of a protection group's pages at the materialized LSN.

``pages.dat`` is one 16 KB header block (``PagesHeader``) followed by one 16 KB slot per page
of the PG's range: page ``p`` lives at byte ``(p - first_page + 1) * 16384``. Page ids are
handed out densely by the B-tree, so the file is as long as the highest page written; slots of
pages never written are holes (all zero) and read back as all-zero pages.

Pages are overwritten in place, which a crash could tear (half old, half new); the log below
the materialized LSN may already be collected, so a torn page could not be rebuilt. Hence the
double-write journal ``pages.dwj`` (docs/formats/segment.md explains the choice): every batch of
new images is first written whole to the journal and fsynced, then written in place and
fsynced. On open a complete journal whose target LSN is above the control file's materialized
LSN is written in place again (idempotent); an incomplete one is discarded, because the
in-place writes of its batch never began.
"""

from __future__ import annotations

import os
import threading
from contextlib import nullcontext

from aurora_lite.env import Disk
from aurora_lite.errors import CorruptionError, InternalError
from aurora_lite.page._layout import MAGIC, OFF_CHECKSUM, PAGE_SIZE, page_id_of, seal, verify
from aurora_lite.segment._formats import JOURNAL_HEADER, JournalHeader, PagesHeader

PAGES_FILE = "pages.dat"
JOURNAL_FILE = "pages.dwj"
_ZERO_CHECKSUM = bytes(4)


class PageStore:
    """Read and crash-safely write the sealed page images of one PG."""

    def __init__(self, directory: str, pg_id: int, first_page: int, page_count: int,
                 disk: Disk, *, journal_pages: int = 256) -> None:
        self.directory = directory
        self.pg_id = pg_id
        self.first_page = first_page
        self.page_count = page_count
        self.disk = disk
        self.journal_pages = journal_pages
        self.path = os.path.join(directory, PAGES_FILE)
        self.journal_path = os.path.join(directory, JOURNAL_FILE)
        self._fd = -1
        self._journal_fd = -1
        self.pages_written = 0
        self.journal_replays = 0

    def open(self, materialized_lsn: int) -> int:
        """Open (or create) the files and finish an interrupted batch; return pages replayed."""
        header = PagesHeader(self.pg_id, self.first_page, self.page_count)
        if not os.path.exists(self.path):
            block = bytearray(PAGE_SIZE)
            block[:len(header.pack())] = header.pack()
            self.disk.write_atomic(self.path, bytes(block))
        self._fd = os.open(self.path, os.O_RDWR)
        found = PagesHeader.unpack(os.pread(self._fd, PAGE_SIZE, 0), self.path)
        if found != header:
            raise CorruptionError(f"{self.path} at offset 8: page store belongs to protection "
                                  f"group {found.pg_id} pages {found.first_page}+"
                                  f"{found.page_count}, expected {self.pg_id} pages "
                                  f"{self.first_page}+{self.page_count}")
        created = not os.path.exists(self.journal_path)
        self._journal_fd = os.open(self.journal_path, os.O_RDWR | os.O_CREAT, 0o644)
        if created:
            self.disk.fsync_dir(self.directory)
        return self._replay_journal(materialized_lsn)

    def _replay_journal(self, materialized_lsn: int) -> int:
        data = os.pread(self._journal_fd, os.fstat(self._journal_fd).st_size, 0)
        if not data:
            return 0
        images = self._complete_journal(data)
        if images is None or images[0] <= materialized_lsn:
            # Torn (its batch never reached pages.dat) or already covered by the control file.
            self.clear_journal()
            return 0
        target, pages = images
        for page_id, image in pages:
            self.disk.pwrite(self._fd, image, self._slot(page_id))
        self.disk.fsync(self._fd)
        self.clear_journal()
        self.journal_replays += 1
        return len(pages)

    def _complete_journal(self, data: bytes) -> tuple[int, list[tuple[int, bytes]]] | None:
        try:
            header = JournalHeader.unpack(data, self.journal_path)
        except CorruptionError:
            return None
        if header.pg_id != self.pg_id or len(data) != JOURNAL_HEADER.size + \
                header.page_count * PAGE_SIZE:
            return None
        pages = []
        for index in range(header.page_count):
            offset = JOURNAL_HEADER.size + index * PAGE_SIZE
            image = data[offset:offset + PAGE_SIZE]
            # An all-zero image passes page.verify, but the journal never holds one: it is a
            # hole the crash left, so the journal is incomplete.
            if image[4:6] != MAGIC:
                return None
            try:
                verify(image, self.journal_path, offset)
            except CorruptionError:
                return None
            page_id = page_id_of(image)
            if not self.first_page <= page_id < self.first_page + self.page_count:
                return None
            pages.append((page_id, image))
        return header.target_lsn, pages

    def _slot(self, page_id: int) -> int:
        if not self.first_page <= page_id < self.first_page + self.page_count:
            last = self.first_page + self.page_count - 1
            raise InternalError(f"page {page_id} is outside protection group {self.pg_id} "
                                f"(pages {self.first_page}..{last})")
        return (page_id - self.first_page + 1) * PAGE_SIZE

    def check_slot(self, page_id: int) -> None:
        """InternalError unless ``page_id`` is in this PG's range."""
        self._slot(page_id)

    def write_zero(self, page_id: int) -> None:
        """Make a slot a never-written page again (a repair of a slot that should be a hole);
        no journal needed: zeros torn half way are still repaired by the next scrub."""
        self.disk.pwrite(self._fd, bytes(PAGE_SIZE), self._slot(page_id))
        self.disk.fsync(self._fd)

    def read(self, page_id: int) -> bytearray:
        """The stored image (checked, Invariant 5) with its checksum field zeroed, as pages are
        held in memory; an all-zero page when it was never written."""
        offset = self._slot(page_id)
        data = os.pread(self._fd, PAGE_SIZE, offset)
        page = bytearray(data)
        if len(page) < PAGE_SIZE:
            page.extend(bytes(PAGE_SIZE - len(page)))
        verify(page, self.path, offset)
        if any(page[4:6]):
            if page_id_of(page) != page_id:
                raise CorruptionError(f"{self.path} at offset {offset}: slot of page {page_id} "
                                      f"holds page {page_id_of(page)}")
            page[OFF_CHECKSUM:OFF_CHECKSUM + 4] = _ZERO_CHECKSUM
        return page

    def write(self, pages: dict[int, bytearray], target_lsn: int,
              lock: threading.RLock | None = None) -> None:
        """Write page images (never all-zero ones) crash-safely, in batches of
        ``journal_pages``: journal + fsync, then in place (holding ``lock``, so a reader never
        sees a half-written slot) + fsync."""
        page_ids = sorted(pages)
        for start in range(0, len(page_ids), self.journal_pages):
            batch = page_ids[start:start + self.journal_pages]
            images = []
            for page_id in batch:
                image = bytearray(pages[page_id])
                if image[4:6] != MAGIC:
                    raise InternalError(f"page {page_id} has no page header: not written")
                images.append(bytes(seal(image)))
            journal = JournalHeader(self.pg_id, len(batch), target_lsn).pack()
            self.disk.truncate(self._journal_fd, 0)
            self.disk.pwrite(self._journal_fd, journal + b"".join(images), 0)
            self.disk.fsync(self._journal_fd)
            with lock if lock is not None else nullcontext():
                for page_id, image in zip(batch, images):
                    self.disk.pwrite(self._fd, image, self._slot(page_id))
            self.disk.fsync(self._fd)
            self.pages_written += len(batch)

    def clear_journal(self) -> None:
        """Empty the journal. No fsync: should the old contents survive a crash, their target
        LSN is at or below the control file's and they are ignored."""
        self.disk.truncate(self._journal_fd, 0)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        for fd in (self._fd, self._journal_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._journal_fd = -1
