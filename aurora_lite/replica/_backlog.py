"""The writer's redo stream as a bounded, shared backlog of entries (records and read points).

The writer's threads append through the replication listeners (``add_records`` for every
batch shipped to storage, ``add_read_point`` for every published transaction end). Appending
only takes a short lock: it never waits for a replica, so the stream never slows a commit.
Every subscriber keeps a cursor (a sequence number) into the one backlog and sends what lies
after it. The backlog keeps at most ``max_bytes`` of records; older entries are dropped, and
a subscriber whose cursor falls below the first entry left is too far behind: it is told to
RESYNC rather than buffered for (replication.md P3).

Order (replication.md P1, P2): records entries are in LSN order (the writer calls the listener
under its flush lock). A read point is appended only once every record at or below it has
been appended: a transaction end published by one thread may reach the listener before the
thread that flushed its batch called the records listener, so such a read point waits here
until the records arrive.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

RECORDS = 0
READ_POINT = 1


@dataclass
class Entry:
    seq: int
    kind: int               # RECORDS or READ_POINT
    lsn: int                # last LSN of the records, or the read point
    data: bytes             # the records (RECORDS)
    catalog_version: int = 0
    published_us: int = 0
    frame: bytes | None = None   # encoded once, on the sender's thread, shared by subscribers


class BehindError(Exception):
    """A cursor points below the oldest entry kept: the subscriber must resync."""


class Backlog:
    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._first_seq = 0
        self._next_seq = 0
        self._bytes = 0
        # Records at or below ``floor`` may be missing (dropped, or shipped before the
        # publisher started): a stream can start only at a read point at or above it.
        self.floor = 0
        self.position = 0                   # highest LSN of records appended
        self.read_point = 0                 # highest read point appended
        self.catalog_version = 0
        self.published_us = time.time_ns() // 1000
        self._held: tuple[int, int, int] | None = None   # a read point waiting for records
        self.dropped_entries = 0

    def begin(self, position: int, read_point: int, catalog_version: int) -> None:
        """Called once the listeners are registered, with the writer's last shipped LSN and
        its published read point read *after* registering: every batch shipped after that
        LSN reaches ``add_records``, the ones before it are not all here (the floor)."""
        with self._lock:
            self.floor = max(self.floor, position)
            self.position = max(self.position, position)
            if read_point > self.read_point:
                self.read_point = read_point
                self.catalog_version = catalog_version

    # -- the writer's side (listener callbacks) ----------------------------------------------
    def add_records(self, buffer: bytes | bytearray, last_lsn: int) -> list[Entry]:
        """Append a batch; return the entries appended (it, and a read point it released)."""
        data = bytes(buffer)
        with self._lock:
            if last_lsn <= self.position:
                return []
            added = [self._append(Entry(self._next_seq, RECORDS, last_lsn, data))]
            self.position = last_lsn
            self._bytes += len(data)
            held = self._held
            if held is not None and held[0] <= last_lsn:
                self._held = None
                added.append(self._append_read_point(*held))
            if self._bytes > self.max_bytes:
                self._trim()
        return added

    def add_read_point(self, lsn: int, catalog_version: int) -> list[Entry]:
        """Append a published read point (held back until its records are here, P2)."""
        published_us = time.time_ns() // 1000
        with self._lock:
            if lsn <= self.read_point:
                return []
            if lsn > self.position:
                # P2: its records are not all here yet; the next add_records releases it.
                if self._held is None or lsn > self._held[0]:
                    self._held = (lsn, catalog_version, published_us)
                return []
            return [self._append_read_point(lsn, catalog_version, published_us)]

    def _append_read_point(self, lsn: int, catalog_version: int, published_us: int) -> Entry:
        entry = self._append(Entry(self._next_seq, READ_POINT, lsn, b"", catalog_version,
                                   published_us))
        self.read_point = lsn
        self.catalog_version = catalog_version
        self.published_us = published_us
        return entry

    def _append(self, entry: Entry) -> Entry:
        self._entries.append(entry)
        self._next_seq += 1
        return entry

    def _trim(self) -> None:
        entries = self._entries
        while entries and self._bytes > self.max_bytes // 2:
            entry = entries.popleft()
            self._first_seq += 1
            self.dropped_entries += 1
            if entry.kind == RECORDS:
                self._bytes -= len(entry.data)
                self.floor = max(self.floor, entry.lsn)

    # -- the senders' side --------------------------------------------------------------------
    def state(self) -> tuple[int, int, int, int]:
        """(position, read point, its catalog version, when it was published in us)."""
        with self._lock:
            return self.position, self.read_point, self.catalog_version, self.published_us

    def start_fresh(self, read_point: int) -> int | None:
        """The cursor of a stream that starts at ``read_point`` (every record above it
        follows), or None when records above it were already dropped."""
        with self._lock:
            if read_point < self.floor:
                return None
            for entry in self._entries:
                if entry.lsn > read_point:
                    return entry.seq
            return self._next_seq

    def start_resume(self, position: int) -> int | None:
        """The cursor of a stream that goes on after ``position`` (the last LSN a replica
        received in this epoch), or None when that is impossible."""
        with self._lock:
            if position < self.floor or position > self.position:
                return None
            for entry in self._entries:
                if entry.kind == RECORDS and entry.lsn > position:
                    return entry.seq
            return self._next_seq

    def take(self, cursor: int, max_bytes: int = 1 << 20) -> list[Entry]:
        """Entries from ``cursor`` on (about ``max_bytes`` of records at most)."""
        with self._lock:
            if cursor < self._first_seq:
                raise BehindError(f"the replica is {self._next_seq - cursor} stream entries "
                                  f"behind and the backlog keeps {len(self._entries)}")
            index = cursor - self._first_seq
            taken: list[Entry] = []
            size = 0
            entries = self._entries
            while index < len(entries) and (size < max_bytes or not taken):
                entry = entries[index]
                taken.append(entry)
                size += len(entry.data) + 32
                index += 1
            return taken

    def pending(self, cursor: int) -> bool:
        return cursor < self._next_seq

    def lag_entries(self, cursor: int) -> int:
        return self._next_seq - cursor

    def statistics(self) -> dict:
        with self._lock:
            return {"backlog_entries": len(self._entries), "backlog_bytes": self._bytes,
                    "backlog_floor": self.floor, "position": self.position,
                    "read_point": self.read_point, "dropped_entries": self.dropped_entries}
