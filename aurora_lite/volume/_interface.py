"""The volume interface: the only way the writer reaches storage. Redo in, pages out.

Write side: ``allocate`` hands out LSNs (with the per-PG back-link), ``submit`` takes the packed
buffer of a finished mini-transaction, ``wait_durable`` blocks until VDL covers an LSN. Nothing
on this interface accepts a page image (Invariant 1).

Read side: ``get_page(page_id, read_point)`` returns the page as of ``read_point``, built by
storage from redo. A read point is always <= VDL.

Recovery: ``open`` establishes the durable state and returns it; everything above the last
transaction end at or below VDL is gone (voided) when it returns, so the writer starts from a
transaction-consistent volume.

Implementations: ``LocalVolume`` (one in-process segment store, fsync per group commit) and
the six-segment quorum client of the storage tier. Both must pass tests/volume's contract tests.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class RecoveredState:
    """What ``Volume.open`` established."""

    vdl: int               # volume durable LSN after recovery
    durable_point: int     # LSN of the last TXN_END record <= vdl (0 for a new volume)
    next_lsn: int          # first LSN the writer may allocate
    epoch: int             # volume epoch this writer holds
    created: bool          # True when the volume was created by this open


class Volume(abc.ABC):
    """Storage as the writer sees it."""

    # -- lifecycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    def open(self) -> RecoveredState:
        """Recover (or create) the volume and fence older writers by bumping the epoch."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and wait for everything submitted, then release resources."""

    # -- write side ----------------------------------------------------------------------------
    @abc.abstractmethod
    def allocate(self, page_id: int) -> tuple[int, int]:
        """Next (lsn, prev_lsn) for a record changing ``page_id``; may block for back-pressure
        when LSN allocation runs too far ahead of VDL."""

    @abc.abstractmethod
    def mark(self) -> object:
        """A token for the allocator's state before a mini-transaction."""

    @abc.abstractmethod
    def reset(self, token: object) -> None:
        """Return the allocator to ``token`` (an MTR was abandoned before being submitted)."""

    @abc.abstractmethod
    def submit(self, buffer: bytes | bytearray, last_lsn: int, *, txn_end: bool) -> None:
        """Queue a finished mini-transaction (records already sealed, last one a CPL)."""

    @abc.abstractmethod
    def wait_durable(self, lsn: int, timeout: float | None = None) -> int:
        """Block until VDL >= lsn; return VDL. Raise OperationalError on timeout or loss of
        quorum, never returning as if durable when it is not (Invariant 2)."""

    @property
    @abc.abstractmethod
    def vdl(self) -> int:
        """Current volume durable LSN."""

    @abc.abstractmethod
    def protection_group_anchors(self) -> list[int]:
        """One page id inside each protection group that has records: a VOID record (rollback)
        is written once per protection group, addressed to its anchor page."""

    @abc.abstractmethod
    def set_horizon(self, lsn: int) -> None:
        """Oldest read point still in use (<= the last durable transaction end): storage may
        coalesce records at or below it into page versions and collect older ones."""

    # -- read side -----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_page(self, page_id: int, read_point: int) -> bytearray:
        """The page as of ``read_point`` (all-zero if it was never written by then)."""

    # -- observability -------------------------------------------------------------------------
    @abc.abstractmethod
    def statistics(self) -> dict:
        """Counters: records/bytes shipped, fsyncs, vdl, ... (always includes those keys)."""

    def __enter__(self) -> "Volume":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
