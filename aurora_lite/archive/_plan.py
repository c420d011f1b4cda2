"""Planning a point-in-time restore: the restorable window, the target, and what to replay.

A restore to a target yields the state after the **restore point** ``D``:

* ``--to-lsn N``: the last COMMIT at or below ``N``. (A rollback's TXN_END - a VOID - changes
  no page, so the state after the last transaction end at or below ``N`` is the state after
  the last COMMIT at or below it.)
* ``--to-time T``: the last COMMIT before the first COMMIT whose commit time is after ``T``;
  with a clock that never goes back that is the last COMMIT with commit time ``<= T``, and in
  any case no commit later than ``T`` is included.

COMMIT records live in protection group 0 (the meta page), so the chunk indexes of PG 0 give
every commit's LSN and time; a COMMIT inside a VOID range is not a commit.

The **restorable window** runs from the first commit at or above ``floor`` (for every PG, a
base - a snapshot, or the empty PG at LSN 0 when its chunks start there - must lie at or below
the target) to the last commit at or below ``ceiling`` (the lowest, over the PGs, of the
highest archived chunk end: above it some PG may have records that are not archived yet). A
target outside it is refused with the window in the message.

Per PG the plan takes the newest base at or below ``D`` and a contiguous path of chunks from
the base's LSN to ``D`` (overlapping chunks from two archivers are fine: the longest reach is
taken). A hole in that path is damage: the restore stops with an error naming the chunks on
both sides of the hole, never builds a volume without those records.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from aurora_lite.archive._catalog import Catalog, VoidSet
from aurora_lite.archive._names import ChunkRef, Descriptor, SnapshotRef
from aurora_lite.errors import CorruptionError, OperationalError, ProgrammingError

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def format_time(micros: int) -> str:
    """Microseconds since the epoch as ISO 8601 in UTC (exact: no float on the way)."""
    moment = _EPOCH + datetime.timedelta(microseconds=micros)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> int:
    """ISO 8601 -> microseconds since the epoch; a time without an offset is UTC."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ProgrammingError(f"bad time {text!r}: expected ISO 8601, e.g. "
                               f"2024-05-01T12:00:00Z or 2024-05-01 14:00:00+02:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return (moment - _EPOCH) // datetime.timedelta(microseconds=1)


class OutsideWindow(OperationalError):
    """The target lies outside the archive's restorable window."""


@dataclass(frozen=True)
class RestoreWindow:
    earliest_lsn: int
    earliest_time: int
    latest_lsn: int
    latest_time: int
    ceiling: int                 # every PG is archived up to here

    def describe(self) -> str:
        return (f"restorable window: from lsn {self.earliest_lsn} "
                f"({format_time(self.earliest_time)}) to lsn {self.latest_lsn} "
                f"({format_time(self.latest_time)})")


@dataclass(frozen=True)
class PgPlan:
    pg: int
    base_lsn: int                          # records above it are replayed
    snapshot: SnapshotRef | None           # None: the PG starts empty at LSN 0
    chunks: tuple[ChunkRef, ...]
    voids: tuple[tuple[int, int], ...]
    pages: np.ndarray                      # page ids (uint32, ascending) the replay touches
    raw_bytes: int                         # records to decompress and replay


@dataclass(frozen=True)
class RestorePlan:
    lsn: int                               # the restore point D (a COMMIT)
    commit_time: int
    target: str                            # as the user gave it
    window: RestoreWindow
    descriptor: Descriptor
    pgs: tuple[PgPlan, ...]

    @property
    def raw_bytes(self) -> int:
        return sum(plan.raw_bytes for plan in self.pgs)


def restore_window(catalog: Catalog) -> RestoreWindow:
    """The window of the archive as listed in ``catalog`` (refresh it first)."""
    pgs = catalog.pgs()
    if 0 not in pgs:
        raise OperationalError(f"archive {catalog.location} holds nothing of protection group "
                               f"0 (no commit was archived yet)")
    floor = 0
    ceiling = None
    for pg in pgs:
        bases = _bases(catalog, pg)
        if not bases:
            first = catalog.chunks[pg][0]
            raise CorruptionError(f"archive {catalog.location}: protection group {pg} has "
                                  f"chunks from lsn {first.start} ({first.name}) but no "
                                  f"snapshot at or below that lsn to start from")
        floor = max(floor, min(top for top, _lsn, _ref in bases))
        end = max(catalog.covered_end(pg),
                  max((ref.lsn for ref in catalog.snapshots.get(pg, ())), default=0))
        ceiling = end if ceiling is None else min(ceiling, end)
    commits = catalog.commits()
    inside = [(lsn, time) for lsn, time in commits if floor <= lsn <= (ceiling or 0)]
    if not inside:
        raise OutsideWindow(f"archive {catalog.location} holds no restorable commit yet "
                            f"(every protection group is archived from lsn {floor} up to lsn "
                            f"{ceiling}; {len(commits)} commit(s) archived)")
    return RestoreWindow(inside[0][0], inside[0][1], inside[-1][0], inside[-1][1],
                         int(ceiling or 0))


def _bases(catalog: Catalog, pg: int) -> list[tuple[int, int, SnapshotRef | None]]:
    """(serves targets from, replay from, snapshot) of each base of ``pg``."""
    bases: list[tuple[int, int, SnapshotRef | None]] = [
        (ref.max_page_lsn, ref.lsn, ref) for ref in catalog.snapshots.get(pg, ())]
    if any(ref.start == 0 for ref in catalog.chunks.get(pg, ())):
        bases.append((0, 0, None))
    return sorted(bases, key=lambda base: (base[1], base[0]))


def resolve_target(catalog: Catalog, window: RestoreWindow, *, to_lsn: int | None = None,
                   to_time: int | None = None) -> tuple[int, int, str]:
    """(restore point D, its commit time, description of the target)."""
    if (to_lsn is None) == (to_time is None):
        raise ProgrammingError("give exactly one target: an LSN or a time")
    commits = [(lsn, time) for lsn, time in catalog.commits() if lsn <= window.ceiling]
    damage = catalog.first_commit_damage()
    if to_lsn is not None:
        target = f"lsn {to_lsn}"
        if to_lsn < window.earliest_lsn or to_lsn > window.ceiling:
            raise OutsideWindow(f"cannot restore to {target}: {window.describe()} (every "
                                f"protection group is archived up to lsn {window.ceiling})")
        if damage is not None and to_lsn > damage[0]:
            # The commits inside the damaged chunk are unknown: never guess past them.
            raise damage[1]
        lsn, time = max((c for c in commits if c[0] <= to_lsn), key=lambda c: c[0])
        return lsn, time, target
    assert to_time is not None
    target = f"time {format_time(to_time)}"
    if to_time < window.earliest_time or to_time > window.latest_time:
        raise OutsideWindow(f"cannot restore to {target}: {window.describe()}")
    chosen = None
    following = None             # the first commit after the target time
    for lsn, time in commits:
        if time > to_time:
            following = lsn
            break
        chosen = (lsn, time)
    # A damaged chunk of PG 0 between the chosen commit and the next known one may hold
    # commits at or before the target time: never guess past it.
    if damage is not None and chosen is not None and \
            chosen[0] <= damage[0] < (following if following is not None else 1 << 64):
        raise damage[1]
    if chosen is None or chosen[0] < window.earliest_lsn:
        raise OutsideWindow(f"cannot restore to {target}: the commits before it are not "
                            f"restorable; {window.describe()}")
    return chosen[0], chosen[1], target


def plan_restore(catalog: Catalog, *, to_lsn: int | None = None,
                 to_time: int | None = None) -> RestorePlan:
    """Everything a restore replays, checked for holes before any page is built."""
    descriptor = catalog.require_descriptor()
    window = restore_window(catalog)
    lsn, time, target = resolve_target(catalog, window, to_lsn=to_lsn, to_time=to_time)
    plans = tuple(plan_pg(catalog, pg, lsn) for pg in catalog.pgs())
    return RestorePlan(lsn, time, target, window, descriptor, plans)


def plan_pg(catalog: Catalog, pg: int, upto: int) -> PgPlan:
    """The newest base of ``pg`` at or below ``upto`` and a contiguous chunk path to it."""
    usable = [base for base in _bases(catalog, pg) if base[0] <= upto]
    if not usable:
        raise OutsideWindow(f"cannot restore to lsn {upto}: protection group {pg} has no "
                            f"snapshot at or below it")
    _top, base_lsn, snapshot = max(usable, key=lambda base: (base[1], base[0]))
    chunks = catalog.chunks.get(pg, [])
    path: list[ChunkRef] = []
    reached = base_lsn
    while reached < upto:
        candidates = [ref for ref in chunks if ref.start <= reached < ref.end]
        if not candidates:
            before = path[-1].name if path else (snapshot.name if snapshot else
                                                 "the start of the log")
            after = [ref for ref in chunks if ref.start > reached]
            following = (f"the next chunk, {after[0].name}, starts at lsn {after[0].start}"
                         if after else "no chunk follows")
            raise CorruptionError(
                f"archive {catalog.location}: protection group {pg} is missing records "
                f"after lsn {reached} (after {before}; {following}): a chunk is missing or "
                f"was deleted, so lsn {upto} cannot be restored")
        best = max(candidates, key=lambda ref: ref.end)
        path.append(best)
        reached = best.end
    voids: set[tuple[int, int]] = set()
    pages = [catalog.snapshot_info(snapshot).pages] if snapshot is not None else []
    raw = 0
    for ref in path:
        info = catalog.chunk_info(ref)
        voids.update(info.index.voids)
        pages.append(info.index.pages)
        raw += info.header.raw_size
    ids = np.unique(np.concatenate(pages)).astype(np.uint32) if pages else \
        np.zeros(0, dtype=np.uint32)
    return PgPlan(pg, base_lsn, snapshot, tuple(path), tuple(VoidSet(voids).ranges), ids, raw)
