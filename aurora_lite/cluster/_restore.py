"""Point-in-time restore: a new volume built from an archive (``aurora-lite restore``).

The restored directory is a **local volume** (``DIR/pg-0/``, the layout
``connect(DIR, storage="local")`` creates, chosen automatically when ``connect(DIR)`` finds it):
one segment store whose page store holds every page of every protection group at the restore
point ``D``, its control file saying the pages hold every record at or below ``D`` (materialized
LSN, chain base, last CPL and last transaction end all ``D``) and an empty hot log. Opening it
runs the local volume's ordinary recovery, which finds the durable point ``D`` and nothing to
truncate, and allocation resumes at ``D + 1``. ``DIR/restore.json`` records where it came from.

Steps (docs/operations.md, "Point-in-time restore"):

1. plan (``aurora_lite.archive.plan_restore``): the window, the restore point, per PG the
   newest snapshot at or below it and a contiguous path of chunks - a target outside the window
   or a hole in a path stops here, before anything is written;
2. replay PG 0 first and read the meta page's page high-water mark: every PG the volume uses at
   ``D`` must be in the archive (a PG missing altogether is damage, never an empty PG);
3. replay each PG (``replay_pg``: the numba materializer) and write its pages into the new
   store (``install_pages``: the double-write journal, then the slots), then adopt them
   (``finish_install``) and scrub the store (every page read back against its CRC32C);
4. all of that happens in ``TARGET.restoring-*`` next to the target, renamed to the target only
   when complete, so a failed or interrupted restore never leaves a directory that opens.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, TextIO

import numpy as np

from aurora_lite.archive import (
    Catalog, RestorePlan, RestoreWindow, format_time, open_archive, plan_restore, replay_pg,
    restore_window,
)
from aurora_lite.errors import CorruptionError, OperationalError
from aurora_lite.page import OFF_META_NEXT_PAGE, page_lsn, read_u64, seal
from aurora_lite.segment import SegmentStore
from aurora_lite.volume import LOCAL_PAGE_COUNT as PAGE_COUNT
from aurora_lite.volume import LOCAL_SEGMENT_DIR as SEGMENT_DIR

RESTORE_INFO = "restore.json"
_INSTALL_BATCH = 256


@dataclass(frozen=True)
class RestoreResult:
    directory: str
    archive: str
    target: str
    lsn: int
    commit_time: int
    window: RestoreWindow
    pages: int
    raw_bytes: int
    seconds: float

    @property
    def mb_per_second(self) -> float:
        return self.raw_bytes / self.seconds / 1e6 if self.seconds else float("inf")


class Progress:
    """Restore progress on a terminal (a bar, rewritten in place) or as plain lines."""

    def __init__(self, stream: TextIO | None = None, *, bar: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def begin(self, plan: RestorePlan) -> None:
        self.total = max(1, plan.raw_bytes)
        self.started = time.monotonic()
        self._line(f"restoring to {plan.target}: restore point lsn {plan.lsn} (commit "
                   f"{format_time(plan.commit_time)}), {len(plan.pgs)} protection group(s), "
                   f"{sum(len(p.chunks) for p in plan.pgs)} chunk(s), "
                   f"{sum(1 for p in plan.pgs if p.snapshot)} snapshot(s), "
                   f"{plan.raw_bytes / 1e6:.1f} MB of redo")

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        if self.bar and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            share = min(1.0, self.done / self.total)
            filled = int(share * 30)
            rate = self.done / max(now - self.started, 1e-9) / 1e6
            self.stream.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%} "
                              f"{self.done / 1e6:8.1f} / {self.total / 1e6:.1f} MB "
                              f"{rate:7.1f} MB/s")
            self.stream.flush()

    def pg_done(self, pg: int, chunks: int, raw: int, pages: int) -> None:
        if not self.bar:
            self._line(f"  protection group {pg}: {chunks} chunk(s), {raw / 1e6:.1f} MB of "
                       f"redo replayed, {pages} page(s)")

    def end(self) -> None:
        if self.bar:
            self.stream.write("\n")
            self.stream.flush()

    def _line(self, text: str) -> None:
        if self.bar and self.done:
            self.stream.write("\n")
        self.stream.write(text + "\n")
        self.stream.flush()


def restore(location: str, directory: str | os.PathLike, *, to_lsn: int | None = None,
            to_time: int | None = None, latest: bool = False, fsync: bool = True,
            progress: Progress | None = None) -> RestoreResult:
    """Build a new local volume in ``directory`` holding exactly the state after the restore
    point of the target (an LSN, a time in microseconds since the epoch, or the latest)."""
    started = time.monotonic()
    target_dir = os.path.abspath(os.fspath(directory))
    if os.path.exists(target_dir) and (not os.path.isdir(target_dir) or os.listdir(target_dir)):
        raise OperationalError(f"restore target {target_dir} exists and is not empty: restore "
                               f"builds a new volume")
    store = open_archive(location, fsync=fsync)
    catalog = Catalog(store).refresh()
    if latest:
        catalog.require_descriptor()
        to_lsn = restore_window(catalog).ceiling
    plan = plan_restore(catalog, to_lsn=to_lsn, to_time=to_time)
    if progress is not None:
        progress.begin(plan)
    parent = os.path.dirname(target_dir)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=os.path.basename(target_dir) + ".restoring-", dir=parent)
    try:
        pages = _build(store, plan, work, fsync, progress)
        info = {"archive": store.location, "target": plan.target, "lsn": plan.lsn,
                "commit_time": format_time(plan.commit_time), "pages": pages,
                "restored_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds")}
        _write_file(os.path.join(work, RESTORE_INFO),
                    (json.dumps(info, indent=2) + "\n").encode(), fsync)
        if os.path.isdir(target_dir):
            os.rmdir(target_dir)              # empty (checked above)
        os.rename(work, target_dir)
        if fsync:
            _fsync_directory(parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if progress is not None:
            progress.end()
    return RestoreResult(target_dir, store.location, plan.target, plan.lsn, plan.commit_time,
                         plan.window, pages, plan.raw_bytes, time.monotonic() - started)


def _build(store, plan: RestorePlan, work: str, fsync: bool,
           progress: Progress | None) -> int:
    segment = SegmentStore(os.path.join(work, SEGMENT_DIR), 0, 0, PAGE_COUNT, fsync=fsync)
    segment.open()
    advance: Callable[[int], None] | None = progress.advance if progress else None
    written = 0
    try:
        ordered = sorted(plan.pgs, key=lambda p: p.pg)
        if not ordered or ordered[0].pg != 0:
            raise CorruptionError(f"archive {store.location} holds no chunk of protection "
                                  f"group 0")
        for pg_plan in ordered:
            ids, pages = replay_pg(store, pg_plan, plan.lsn, progress=advance)
            if pg_plan.pg == 0:
                _check_protection_groups(store.location, plan, ids, pages)
            count = _install(segment, ids, pages, plan.lsn)
            written += count
            if progress is not None:
                progress.pg_done(pg_plan.pg, len(pg_plan.chunks), pg_plan.raw_bytes, count)
            del ids, pages
        segment.finish_install(plan.lsn, plan.lsn, plan.lsn)
        report = segment.scrub()
        if not report.clean:
            raise CorruptionError(f"restored volume {work}: pages read back damaged: "
                                  f"{list(report.bad_pages)[:10]}")
    finally:
        segment.close()
    return written


def _check_protection_groups(location: str, plan: RestorePlan, ids: np.ndarray,
                             pages: np.ndarray) -> None:
    """Every PG the volume uses at the restore point must be in the archive: the meta page's
    page high-water mark says how many there are."""
    rows = np.flatnonzero(ids == 0)
    if not rows.size or page_lsn(pages[rows[0]]) == 0:
        raise CorruptionError(f"archive {location}: the meta page (page 0) is not in the "
                              f"archived log of protection group 0 up to lsn {plan.lsn}")
    next_page = read_u64(pages[rows[0]], OFF_META_NEXT_PAGE)
    pg_size = plan.descriptor.pg_size
    needed = math.ceil(next_page / pg_size)
    archived = {p.pg for p in plan.pgs}
    missing = [pg for pg in range(needed) if pg not in archived]
    if missing:
        raise CorruptionError(f"archive {location}: protection group(s) "
                              f"{', '.join(map(str, missing[:10]))} hold pages of the volume at "
                              f"lsn {plan.lsn} (pages below {next_page}) but have no archived "
                              f"chunk or snapshot (deleted, or not archived yet: a protection "
                              f"group created a moment ago)")


def _install(segment: SegmentStore, ids: np.ndarray, pages: np.ndarray, lsn: int) -> int:
    """Write the pages that exist at the restore point (page LSN above 0) into the store."""
    lsns = pages[:, 8:16].copy().view("<u8").reshape(-1) if len(ids) else np.zeros(0)
    rows = np.flatnonzero(lsns > 0)
    for start in range(0, rows.size, _INSTALL_BATCH):
        batch = [bytes(seal(bytearray(pages[row]))) for row in
                 rows[start:start + _INSTALL_BATCH].tolist()]
        segment.install_pages(batch, lsn)
    return int(rows.size)


def _write_file(path: str, data: bytes, fsync: bool) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())


def _fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

