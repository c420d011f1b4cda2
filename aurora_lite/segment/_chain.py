"""The completeness of one protection group's records, and from it the segment complete LSN.

SCL is the highest LSN ``L`` such that the segment holds every record of its PG with
``lsn <= L`` (docs/protocols/quorum.md, Q1). Two kinds of evidence advance it:

* a record: it names the previous LSN of its PG (``prev_lsn``), so there is no record of the PG
  between ``prev_lsn`` and its own LSN. If ``prev_lsn <= SCL``, SCL becomes its LSN.
* a frontier range ``(start, end]`` from the writer or a peer: the batch held every record of
  the PG in that range (possibly none). If ``start <= SCL``, SCL becomes ``max(SCL, end)``.

Both are the same rule - evidence ``(low, high)`` with ``low <= SCL`` lifts SCL to ``high`` - so a
frontier is offered here as ``offer(end, start)``. Evidence that arrives ahead of a gap waits in
a heap (two integers and a heap slot each; the record bytes are already in the hot log) until
the gap closes. At most ``max_pending`` wait: beyond that, evidence that does not close a gap is
refused (the sender or gossip offers it again later), while evidence that closes one is always
accepted, so the bound can never deadlock the segment.
"""

from __future__ import annotations

import heapq

import numpy as np

from aurora_lite.errors import CorruptionError

ACCEPTED = 1
DUPLICATE = 0
REFUSED = -1


class Chain:
    """SCL and the evidence waiting for a gap to close."""

    def __init__(self, base: int = 0, max_pending: int = 1 << 20) -> None:
        self.scl = base
        self.max_pending = max_pending
        self._waiting: list[tuple[int, int]] = []     # heap of (low, high)
        self._held: set[tuple[int, int]] = set()

    @property
    def pending(self) -> int:
        return len(self._waiting)

    def offer(self, lsn: int, prev_lsn: int, where: str = "record") -> int:
        """Account for a record (or a frontier ``(prev_lsn, lsn]``): ACCEPTED, DUPLICATE
        (already covered or already waiting) or REFUSED (the bound)."""
        if lsn <= self.scl:
            return DUPLICATE
        if prev_lsn >= lsn:
            raise CorruptionError(f"{where}: record lsn {lsn} names prev_lsn {prev_lsn}, "
                                  f"which is not below it")
        if prev_lsn <= self.scl:
            self.scl = lsn
            self._drain()
            return ACCEPTED
        key = (prev_lsn, lsn)
        if key in self._held:
            return DUPLICATE
        if len(self._waiting) >= self.max_pending:
            return REFUSED
        heapq.heappush(self._waiting, key)
        self._held.add(key)
        return ACCEPTED

    def _drain(self) -> None:
        waiting = self._waiting
        while waiting and waiting[0][0] <= self.scl:
            key = heapq.heappop(waiting)
            self._held.discard(key)
            if key[1] > self.scl:
                self.scl = key[1]

    def offer_run(self, lsns: np.ndarray, prevs: np.ndarray) -> bool:
        """Accept a whole batch at once when it simply continues SCL (the common case: one
        writer, records in order, nothing waiting); False means offer them one by one."""
        if self._waiting or not len(lsns) or int(prevs[0]) > self.scl or int(lsns[0]) <= \
                self.scl:
            return False
        if not (np.all(lsns > prevs) and np.all(lsns[1:] > lsns[:-1])
                and np.all(prevs[1:] <= lsns[:-1])):
            return False
        self.scl = int(lsns[-1])
        return True

    def offer_chain(self, first_prev: int, first_lsn: int, last_lsn: int) -> bool:
        """``offer_run`` for a batch already known to form one ascending chain (its first
        record names ``first_prev``): accepted at once when it continues SCL and nothing
        waits; False means offer the records one by one."""
        if self._waiting or first_prev > self.scl or first_lsn <= self.scl:
            return False
        self.scl = last_lsn
        return True

    def gaps(self) -> list[tuple[int, int]]:
        """``(after, upto)`` for each hole: records of this PG with after < lsn <= upto are
        missing (at least the one at ``upto``); fetch them from a peer and offer them."""
        result = []
        covered = self.scl
        for low, high in sorted(self._waiting):
            if low > covered:
                result.append((covered, low))
            covered = max(covered, high)
        return result

    def truncate(self, lsn: int) -> None:
        """Forget evidence above ``lsn``; SCL becomes min(SCL, lsn)."""
        self._waiting = [key for key in self._waiting if key[1] <= lsn]
        heapq.heapify(self._waiting)
        self._held = set(self._waiting)
        self.scl = min(self.scl, lsn)
