"""The window: the redo records a replica received above its read point, by page.

A page the replica does not cache is read from storage *at the read point* (a durable
transaction end, so storage can build it); the window then brings that image forward to
everything received, so it can be cached and follow the stream like any other cached page
(replication.md P5). Records at or below the read point are dropped from the window when the
read point moves: every cached page already holds them and storage serves them.

VOID records are kept as ranges: a record inside ``(from_lsn, void_lsn)`` never happened, so
bringing a page forward skips it. A VOID's range always lies above every read point (a
rollback starts after the last commit, recovery voids above the durable point), hence inside
the window: ``pages_between`` finds every page a VOID undoes (replication.md P6).
"""

from __future__ import annotations

from collections import deque


class RecordWindow:
    """Not thread-safe: the pool calls it under its lock."""

    def __init__(self) -> None:
        self._order: deque[tuple[int, int]] = deque()              # (lsn, page) in LSN order
        self._by_page: dict[int, deque[tuple[int, int, bytes]]] = {}  # page -> (lsn, type, payload)
        self.voids: list[tuple[int, int]] = []                     # (from_lsn, void_lsn)
        self.floor = 0          # every record above it (up to the last added) is here
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._order)

    def add(self, lsn: int, page_id: int, rtype: int, payload: bytes) -> None:
        self._order.append((lsn, page_id))
        records = self._by_page.get(page_id)
        if records is None:
            records = self._by_page[page_id] = deque()
        records.append((lsn, rtype, payload))
        self.bytes += len(payload) + 48

    def add_void(self, from_lsn: int, void_lsn: int) -> None:
        self.voids.append((from_lsn, void_lsn))

    def voided(self, lsn: int) -> bool:
        for low, high in self.voids:
            if low < lsn < high:
                return True
        return False

    def records_of(self, page_id: int, above: int) -> list[tuple[int, int, bytes]]:
        """The page's records above ``above`` that are not voided, in LSN order."""
        records = self._by_page.get(page_id)
        if not records:
            return []
        voids = self.voids
        return [record for record in records if record[0] > above
                and not (voids and self.voided(record[0]))]

    def pages_between(self, low: int, high: int) -> set[int]:
        """Pages with records in ``(low, high)``."""
        pages = set()
        for lsn, page_id in reversed(self._order):
            if lsn <= low:
                break
            if lsn < high:
                pages.add(page_id)
        return pages

    def prune(self, read_point: int) -> None:
        """Forget records (and VOID ranges) at or below ``read_point``."""
        order = self._order
        by_page = self._by_page
        while order and order[0][0] <= read_point:
            _lsn, page_id = order.popleft()
            records = by_page[page_id]
            _l, _t, payload = records.popleft()
            self.bytes -= len(payload) + 48
            if not records:
                del by_page[page_id]
        if self.voids:
            self.voids = [(low, high) for low, high in self.voids if high > read_point]
        self.floor = max(self.floor, read_point)

    def clear(self, floor: int) -> None:
        self._order.clear()
        self._by_page.clear()
        self.voids = []
        self.bytes = 0
        self.floor = floor
