"""The writer's LSN allocator, shared by LocalVolume and the quorum client.

LSNs number records: every record gets the next integer. Each record also carries ``prev_lsn``,
the previous LSN of the same protection group (PG = page_id // pg_size), so a segment can tell
when it is missing something (its SCL is the end of its unbroken chain).

``mark()`` starts a mini-transaction and returns a token; ``reset(token)`` gives back every LSN
allocated since (an MTR abandoned before ``submit``), restoring the per-PG back-links, so no
segment ever waits for an LSN that was never sent. Only the writer's write lock serializes
MTRs: reset is meaningful for the latest mark of a single writer, and a token from an older
mark is refused.

Back-pressure: ``mark()`` blocks while more than ``window`` LSNs are allocated but not yet
durable (next_lsn - 1 - vdl > window), and raises OperationalError after ``timeout`` seconds. It
never blocks in ``allocate``: inside an MTR the MTR's own records are not submitted yet, so
waiting there for VDL could wait for itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from aurora_lite.errors import InternalError, OperationalError


@dataclass(frozen=True)
class AllocatorMark:
    """The allocator's state before a mini-transaction (opaque to callers)."""

    next_lsn: int
    generation: int


class LsnAllocator:
    """Next LSN, per-PG back-links, MTR marks and VDL back-pressure. Thread-safe."""

    def __init__(self, next_lsn: int = 1, *, pg_size: int, last_lsns: dict[int, int] | None = None,
                 vdl: int = 0, window: int = 1 << 20, timeout: float = 30.0) -> None:
        if next_lsn < 1 or pg_size < 1 or window < 1:
            raise ValueError("next_lsn, pg_size and window must be positive")
        self.pg_size = pg_size
        self.window = window
        self.timeout = timeout
        self._next = next_lsn
        self._last: dict[int, int] = dict(last_lsns or {})
        self._vdl = vdl
        # pg -> its last LSN before the latest mark (first touch only: bounded by the PGs).
        self._undo: dict[int, int] = {}
        self._generation = 0
        self._failure: BaseException | None = None
        self._cond = threading.Condition(threading.Lock())
        self.waits = 0          # times mark() had to wait for VDL

    @property
    def next_lsn(self) -> int:
        return self._next

    @property
    def vdl(self) -> int:
        return self._vdl

    def last_lsn(self, pg: int) -> int:
        """The last LSN allocated in protection group ``pg`` (0 if none)."""
        with self._cond:
            return self._last.get(pg, 0)

    def allocate(self, page_id: int) -> tuple[int, int]:
        """(lsn, prev_lsn) for the next record, which changes ``page_id``."""
        pg = page_id // self.pg_size
        with self._cond:
            lsn = self._next
            prev = self._last.get(pg, 0)
            if pg not in self._undo:
                self._undo[pg] = prev
            self._last[pg] = lsn
            self._next = lsn + 1
            return lsn, prev

    def mark(self, timeout: float | None = None) -> AllocatorMark:
        """Start an MTR: wait for room in the window, then return a token for ``reset``."""
        limit = self.timeout if timeout is None else timeout
        with self._cond:
            if self._outstanding() > self.window and self._failure is None:
                self.waits += 1
                self._cond.wait_for(
                    lambda: self._outstanding() <= self.window or self._failure is not None,
                    limit)
            if self._failure is not None:
                raise OperationalError(f"storage failed: {self._failure}") from self._failure
            if self._outstanding() > self.window:
                raise OperationalError(
                    f"redo back-pressure: {self._outstanding()} LSNs are not yet durable "
                    f"(window {self.window}, VDL {self._vdl}) after {limit:g} s; storage is "
                    f"not keeping up")
            self._undo.clear()
            self._generation += 1
            return AllocatorMark(self._next, self._generation)

    def reset(self, token: object) -> None:
        """Give back every LSN allocated since ``token`` (the latest mark)."""
        if not isinstance(token, AllocatorMark):
            raise InternalError(f"not an allocator mark: {token!r}")
        with self._cond:
            if token.generation != self._generation:
                raise InternalError("allocator reset to a mark that is not the latest one")
            for pg, prev in self._undo.items():
                if prev:
                    self._last[pg] = prev
                else:
                    self._last.pop(pg, None)
            self._undo.clear()
            self._next = token.next_lsn

    def advance_vdl(self, vdl: int) -> None:
        """VDL moved forward: wake MTRs waiting for room in the window."""
        with self._cond:
            if vdl > self._vdl:
                self._vdl = vdl
                self._cond.notify_all()

    def fail(self, failure: BaseException) -> None:
        """Storage failed: waiting and later marks raise instead of waiting forever."""
        with self._cond:
            self._failure = failure
            self._cond.notify_all()

    def _outstanding(self) -> int:
        return self._next - 1 - self._vdl
