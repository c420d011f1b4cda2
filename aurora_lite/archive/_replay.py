"""Replaying a protection group's plan: its base pages plus its chunks, up to the restore point.

One PG at a time: an (n, 16384) array holds exactly the pages the plan touches (the page
tables of the snapshot and of the chunks list them, so nothing is decompressed to find out),
the snapshot's images are decompressed into their rows (each CRC-checked), and every chunk's
records go through the numba materializer (``aurora_lite.redo.materialize.apply_to_array``:
every record CRC-checked again, VOID ranges and the restore point honoured, records at or
below a page's LSN skipped, so overlapping chunks apply once). The reference applier can run
instead (``reference=True``): the benchmark's peer and the differential check.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from aurora_lite.archive._chunk import decode_chunk
from aurora_lite.archive._plan import PgPlan
from aurora_lite.archive._snapshot import decode_snapshot, snapshot_pages
from aurora_lite.archive._stores import ArchiveStore
from aurora_lite.errors import CorruptionError
from aurora_lite.page._layout import OFF_CHECKSUM, PAGE_SIZE

Progress = Callable[[int], None]     # called with the raw bytes just replayed


def replay_pg(store: ArchiveStore, plan: PgPlan, upto: int, *, reference: bool = False,
              progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(page ids, pages): the PG's pages as of ``upto``, checksum fields zero (as pages live
    in memory); rows of pages no record at or below ``upto`` touched stay all zero."""
    ids = np.asarray(plan.pages, dtype=np.int64)
    pages = np.zeros((ids.size, PAGE_SIZE), dtype=np.uint8)
    if plan.snapshot is not None:
        name = f"{store.location}/{plan.snapshot.name}"
        _header, table, body = decode_snapshot(store.get(plan.snapshot.name), name)
        rows = np.searchsorted(ids, table["page"].astype(np.int64))
        for row, (page_id, image) in zip(rows.tolist(), snapshot_pages(table, body, name)):
            if row >= ids.size or int(ids[row]) != page_id:
                raise CorruptionError(f"archive snapshot {name}: page {page_id} is not in its "
                                      f"page table")
            pages[row] = np.frombuffer(image, dtype=np.uint8)
            pages[row, OFF_CHECKSUM:OFF_CHECKSUM + 4] = 0
    for ref in plan.chunks:
        name = f"{store.location}/{ref.name}"
        _header, _index, records = decode_chunk(store.get(ref.name), name)
        if records:
            if reference:
                _apply_reference(pages, ids, records, plan.voids, upto, name)
            else:
                from aurora_lite.redo.materialize import apply_to_array
                apply_to_array(pages, ids, records, voids=plan.voids, upto_lsn=upto,
                               where=f"archive chunk {name}")
        if progress is not None:
            progress(len(records))
    return ids, pages


def _apply_reference(pages: np.ndarray, ids: np.ndarray, records: bytes,
                     voids: tuple[tuple[int, int], ...], upto: int, where: str) -> None:
    """The pure-Python applier over the same rows (Invariant 7: the same bytes)."""
    from aurora_lite.redo._apply import apply_buffer
    by_id = {int(page_id): bytearray(pages[row]) for row, page_id in enumerate(ids.tolist())}
    present = set(by_id)
    try:
        apply_buffer(by_id, records, voids=voids, upto_lsn=upto)
    except CorruptionError as exc:
        raise CorruptionError(f"archive chunk {where}: {exc}") from None
    for row, page_id in enumerate(ids.tolist()):
        pages[row] = np.frombuffer(by_id[page_id], dtype=np.uint8)
    extra = set(by_id) - present
    if extra:
        raise CorruptionError(f"archive chunk {where}: records for pages {sorted(extra)[:5]} "
                              f"that its page table does not list")
