"""Checking an archive end to end without restoring it (``aurora-lite restore --check``).

Every chunk and snapshot is read whole and decoded (header, index and body CRC32C, the body's
decompressed size; every page image of a snapshot against its own CRC32C), and each
protection group's chunks are walked from its oldest base to its newest chunk for holes. The
result lists every problem found (each naming the object or the hole) and the restorable
window; an archive with problems still restores targets that need none of the damaged parts,
and refuses the others with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aurora_lite.archive._catalog import Catalog
from aurora_lite.archive._chunk import decode_chunk
from aurora_lite.archive._plan import RestoreWindow, restore_window
from aurora_lite.archive._snapshot import decode_snapshot, snapshot_pages
from aurora_lite.errors import Error


@dataclass
class CheckReport:
    chunks: int = 0
    snapshots: int = 0
    compressed_bytes: int = 0
    raw_bytes: int = 0
    problems: list[str] = field(default_factory=list)
    window: RestoreWindow | None = None
    coverage: dict[int, tuple[int, int]] = field(default_factory=dict)   # pg -> (from, to)

    @property
    def clean(self) -> bool:
        return not self.problems and self.window is not None


def check_archive(catalog: Catalog) -> CheckReport:
    report = CheckReport()
    try:
        catalog.require_descriptor()
    except Error as exc:
        report.problems.append(str(exc))
        return report
    catalog.refresh()
    for pg in catalog.pgs():
        for ref in catalog.snapshots.get(pg, ()):
            report.snapshots += 1
            report.compressed_bytes += ref.size
            try:
                name = f"{catalog.location}/{ref.name}"
                _header, table, body = decode_snapshot(catalog.store.get(ref.name), name)
                for _page in snapshot_pages(table, body, name):
                    pass
            except Error as exc:
                report.problems.append(str(exc))
        reached = None
        for ref in catalog.chunks.get(pg, ()):
            report.chunks += 1
            report.compressed_bytes += ref.size
            try:
                header, _index, _records = decode_chunk(catalog.store.get(ref.name),
                                                        f"{catalog.location}/{ref.name}")
                report.raw_bytes += header.raw_size
            except Error as exc:
                report.problems.append(str(exc))
            if reached is not None and ref.start > reached:
                # Targets after the next snapshot restore from it; the hole stays a hole.
                rebase = [s for s in catalog.snapshots.get(pg, ()) if s.lsn >= ref.start]
                report.problems.append(
                    f"protection group {pg}: no chunk holds lsn ({reached}, {ref.start}] "
                    f"(a hole before {ref.name}" + (
                        f"; restorable again from snapshot {rebase[0].name})" if rebase
                        else ")"))
            reached = ref.end if reached is None else max(reached, ref.end)
        first = min([r.start for r in catalog.chunks.get(pg, ())]
                    + [s.lsn for s in catalog.snapshots.get(pg, ())], default=0)
        report.coverage[pg] = (first, reached or 0)
    try:
        report.window = restore_window(catalog)
    except Error as exc:
        report.problems.append(str(exc))
    return report
