"""What the two six-node writer volumes share: ClusterVolume (redo shipping, the product) and
PageShipVolume (page shipping, the baseline bench/shipping.py measures it against).

Both run a trio I/O thread beside the writer's threads, hand LSNs out through an
``LsnAllocator``, fail for good on the first unrecoverable error, and park committing threads
until VDL covers their LSN. This base owns those pieces; each volume keeps what it ships and how
it folds acknowledgements into VDL.

Durability waits: each waiting ``wait_durable`` parks on its own lock in a heap ordered by LSN,
and the I/O thread releases exactly the waiters a new VDL covers (a Condition's notify_all woke
every committer for every VDL step, most of them only to sleep again). A waiter returns only
once VDL >= its LSN (Invariant 2, quorum.md Q4), or raises, never early.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

import trio

from aurora_lite.errors import InterfaceError, OperationalError, StaleEpochError
from aurora_lite.volume._allocator import LsnAllocator
from aurora_lite.volume._interface import Volume

_log = logging.getLogger("aurora_lite.volume")


class WriterVolume(Volume):
    """The failure, allocator, I/O-thread and durability-wait plumbing of a writer volume.

    Subclasses call ``_init_writer`` first in ``__init__``, name themselves in ``describe``,
    set ``_vdl`` / ``_durable_txn_end`` only through ``_publish``, and set ``options`` with a
    ``close_timeout``."""

    #: the noun for what failed, in error messages ("storage failed: ...")
    failure_noun = "storage"

    def _init_writer(self) -> None:
        self._lock = threading.Lock()
        # (lsn, sequence, lock held until VDL >= lsn): the parked wait_durable calls.
        self._durable_waiters: list[tuple[int, int, threading.Lock]] = []
        self._waiter_sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._allocator: LsnAllocator | None = None
        self._open = False
        self._closing = False
        self._vdl = 0
        self._durable_txn_end = 0
        self.failure: BaseException | None = None

    def describe(self) -> str:
        """This volume in error messages, e.g. "volume of cluster /x/cluster.json"."""
        raise NotImplementedError

    # -- failures ----------------------------------------------------------------------------------
    def fail(self, failure: BaseException) -> None:
        """Stop for good: every waiter and every later call raises (called on any thread)."""
        with self._lock:
            if self.failure is not None:
                return
            self.failure = failure
            self._wake_waiters(None)
        _log.error("%s failed: %s", self.describe(), failure)
        if self._allocator is not None:
            self._allocator.fail(failure)

    def _raise_failure(self, what: str = "") -> None:
        failure = self.failure
        if failure is None:
            return
        prefix = f"{what}: " if what else ""
        if isinstance(failure, StaleEpochError):
            raise StaleEpochError(f"{prefix}{failure}") from failure
        raise OperationalError(f"{prefix}{self.failure_noun} failed: {failure}") from failure

    def _check_usable(self) -> None:
        if not self._open or self._closing:
            raise InterfaceError(f"{self.describe()} is not open")
        self._raise_failure()

    # -- the LSN allocator -------------------------------------------------------------------------
    def _require_allocator(self) -> LsnAllocator:
        if self._allocator is None:
            raise InterfaceError(f"{self.describe()} is not open")
        return self._allocator

    @property
    def allocator(self) -> LsnAllocator:
        return self._require_allocator()

    def allocate(self, page_id: int) -> tuple[int, int]:
        return self._require_allocator().allocate(page_id)

    def mark(self) -> object:
        self._check_usable()
        try:
            return self._require_allocator().mark()
        except OperationalError:
            self._raise_failure()
            raise

    def reset(self, token: object) -> None:
        self._require_allocator().reset(token)

    # -- the I/O thread ----------------------------------------------------------------------------
    def _stop_thread(self) -> None:
        thread, token, stop = self._thread, self._token, self._stop
        if thread is None:
            return
        if token is not None and stop is not None:
            try:
                token.run_sync_soon(stop.set)
            except trio.RunFinishedError:
                pass
        thread.join(self.options.close_timeout)
        self._thread = None

    def _mark_closed(self) -> None:
        """The volume is closed: parked waiters re-check and raise."""
        with self._lock:
            self._open = False
            self._wake_waiters(None)

    # -- durability --------------------------------------------------------------------------------
    @property
    def vdl(self) -> int:
        return self._vdl

    def _publish(self, vdl: int, durable_txn_end: int) -> bool:
        """VDL advanced (the I/O thread): wake the commits it covers and the allocator's window;
        False if it did not advance."""
        with self._lock:
            if vdl <= self._vdl:
                return False
            self._vdl = vdl
            self._durable_txn_end = durable_txn_end
            self._wake_waiters(vdl)
        if self._allocator is not None:
            self._allocator.advance_vdl(vdl)
        return True

    def _wake_waiters(self, vdl: int | None) -> None:
        """Release the waiters whose LSN is durable (all of them when ``vdl`` is None: failure
        or close, they re-check and raise). Caller holds ``_lock``."""
        waiters = self._durable_waiters
        while waiters and (vdl is None or waiters[0][0] <= vdl):
            heapq.heappop(waiters)[2].release()

    def _await_durable(self, lsn: int, timeout: float | None) -> tuple[bool, int]:
        """Wait until VDL >= ``lsn``: ``(True, vdl)``; or ``(False, vdl)`` after a failure, a
        close or the timeout (the caller raises the error that says which)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                vdl = self._vdl
                if vdl >= lsn:
                    return True, vdl
                if self.failure is not None or not self._open:
                    return False, vdl
                parked = threading.Lock()
                parked.acquire()
                heapq.heappush(self._durable_waiters, (lsn, next(self._waiter_sequence), parked))
            # A waiter that times out stays in the heap until VDL passes it: its lock is still
            # held, so the later release is harmless.
            if deadline is None:
                parked.acquire()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not parked.acquire(timeout=remaining):
                with self._lock:
                    return self._vdl >= lsn, self._vdl

    def _raise_not_durable(self, lsn: int) -> None:
        """After ``_await_durable`` gave up: raise for a failure or a close (else return)."""
        self._raise_failure(f"lsn {lsn} is not durable")
        if not self._open:
            raise OperationalError(f"lsn {lsn} is not durable: the volume is closed")
