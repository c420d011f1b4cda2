"""The catalog of an archive: its listing, parsed, with the chunk indexes it needed so far.

A listing (``ArchiveStore.list``) names every chunk and snapshot with its protection group and
LSN range (``_names``), so the catalog needs no manifest object that archivers would have to
update together. What the names do not say - commit times, VOID ranges, the pages a chunk or
snapshot touches - sits in each object's header and index section, which the catalog reads
with a ranged read on first use and caches (objects never change once written: a name is a
pure function of its content's range).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aurora_lite.archive._chunk import CHUNK_HEADER, ChunkHeader, ChunkIndex
from aurora_lite.archive._names import (
    DESCRIPTOR, ChunkRef, Descriptor, SnapshotRef, parse_name, pg_prefix,
)
from aurora_lite.archive._snapshot import SNAPSHOT_HEADER, SnapshotHeader, snapshot_index
from aurora_lite.archive._stores import ArchiveObjectMissing, ArchiveStore
from aurora_lite.errors import CorruptionError, OperationalError

# One ranged read usually brings a chunk's header and its whole index.
_FIRST_READ = 8192


@dataclass(frozen=True)
class ChunkInfo:
    header: ChunkHeader
    index: ChunkIndex


@dataclass(frozen=True)
class SnapshotInfo:
    header: SnapshotHeader
    pages: np.ndarray          # uint32 page ids, ascending


class Catalog:
    """Chunks and snapshots by protection group, sorted by LSN."""

    def __init__(self, store: ArchiveStore) -> None:
        self.store = store
        self.chunks: dict[int, list[ChunkRef]] = {}
        self.snapshots: dict[int, list[SnapshotRef]] = {}
        self._chunk_info: dict[str, ChunkInfo] = {}
        self._snapshot_info: dict[str, SnapshotInfo] = {}
        self.commit_damage: list[tuple[int, CorruptionError]] = []

    @property
    def location(self) -> str:
        return self.store.location

    def refresh(self, pg: int | None = None) -> "Catalog":
        """Re-list the archive (one PG's objects, or everything)."""
        listing = self.store.list(pg_prefix(pg) if pg is not None else "")
        chunks: dict[int, list[ChunkRef]] = {}
        snapshots: dict[int, list[SnapshotRef]] = {}
        for name, size in listing:
            ref = parse_name(name, size)
            if isinstance(ref, ChunkRef):
                chunks.setdefault(ref.pg, []).append(ref)
            elif isinstance(ref, SnapshotRef):
                snapshots.setdefault(ref.pg, []).append(ref)
        if pg is None:
            self.chunks, self.snapshots = chunks, snapshots
        else:
            self.chunks[pg] = chunks.get(pg, [])
            self.snapshots[pg] = snapshots.get(pg, [])
        for table in (self.chunks, self.snapshots):
            for refs in table.values():
                refs.sort(key=_order)
        live = {ref.name for refs in self.chunks.values() for ref in refs}
        self._chunk_info = {k: v for k, v in self._chunk_info.items() if k in live}
        return self

    def pgs(self) -> list[int]:
        return sorted(pg for pg in set(self.chunks) | set(self.snapshots)
                      if self.chunks.get(pg) or self.snapshots.get(pg))

    def descriptor(self) -> Descriptor | None:
        try:
            data = self.store.get(DESCRIPTOR)
        except ArchiveObjectMissing:
            return None
        return Descriptor.decode(data, f"{self.location}/{DESCRIPTOR}")

    def require_descriptor(self) -> Descriptor:
        descriptor = self.descriptor()
        if descriptor is None:
            raise OperationalError(f"{self.location} is not an archive (no {DESCRIPTOR} "
                                   f"descriptor: nothing was ever archived there)")
        return descriptor

    # -- headers and indexes --------------------------------------------------------------------
    def chunk_info(self, ref: ChunkRef) -> ChunkInfo:
        """The chunk's header and index section, checked (CRC, size against the listing)."""
        info = self._chunk_info.get(ref.name)
        if info is not None:
            return info
        where = f"{self.location}/{ref.name}"
        data = self.store.get_range(ref.name, 0, _FIRST_READ)
        header = ChunkHeader.unpack(data, where)
        if ref.size and ref.size != header.total_size:
            raise CorruptionError(f"archive chunk {where}: {ref.size} bytes, the header says "
                                  f"{header.total_size} (truncated or extended)")
        if (header.pg_id, header.start_lsn, header.end_lsn) != (ref.pg, ref.start, ref.end):
            raise CorruptionError(f"archive chunk {where}: header says protection group "
                                  f"{header.pg_id} lsn ({header.start_lsn}, {header.end_lsn}]"
                                  f", not what its name says")
        end = CHUNK_HEADER.size + header.index_size
        if len(data) < end:
            data = data + self.store.get_range(ref.name, len(data), end - len(data))
        index = ChunkIndex.unpack(header, memoryview(data)[CHUNK_HEADER.size:end], where)
        info = ChunkInfo(header, index)
        self._chunk_info[ref.name] = info
        return info

    def snapshot_info(self, ref: SnapshotRef) -> SnapshotInfo:
        info = self._snapshot_info.get(ref.name)
        if info is not None:
            return info
        where = f"{self.location}/{ref.name}"
        data = self.store.get_range(ref.name, 0, _FIRST_READ)
        header = SnapshotHeader.unpack(data, where)
        if ref.size and ref.size != header.total_size:
            raise CorruptionError(f"archive snapshot {where}: {ref.size} bytes, the header "
                                  f"says {header.total_size} (truncated or extended)")
        if (header.pg_id, header.lsn, header.max_page_lsn) != (ref.pg, ref.lsn,
                                                                ref.max_page_lsn):
            raise CorruptionError(f"archive snapshot {where}: header says protection group "
                                  f"{header.pg_id} lsn {header.lsn} (max page lsn "
                                  f"{header.max_page_lsn}), not what its name says")
        end = SNAPSHOT_HEADER.size + 8 * header.page_count
        if len(data) < end:
            data = data + self.store.get_range(ref.name, len(data), end - len(data))
        table = snapshot_index(header, memoryview(data)[SNAPSHOT_HEADER.size:], where)
        info = SnapshotInfo(header, table["page"].astype(np.uint32))
        self._snapshot_info[ref.name] = info
        return info

    # -- derived views --------------------------------------------------------------------------
    def covered_end(self, pg: int) -> int:
        """The highest chunk end of ``pg`` (0 when it has no chunk)."""
        return max((ref.end for ref in self.chunks.get(pg, ())), default=0)

    def commits(self) -> list[tuple[int, int]]:
        """(lsn, commit_time_us) of every archived COMMIT (they all live in PG 0), in LSN
        order, without those a VOID takes back. A damaged chunk of PG 0 is skipped and
        remembered (``commit_damage``): commits in its range are unknown."""
        found: dict[int, int] = {}
        voids: set[tuple[int, int]] = set()
        damage: list[tuple[int, CorruptionError]] = []
        for ref in self.chunks.get(0, ()):
            try:
                info = self.chunk_info(ref)
            except CorruptionError as exc:
                damage.append((ref.start, exc))
                continue
            found.update(info.index.commits)
            voids.update(info.index.voids)
        self.commit_damage = sorted(damage, key=lambda item: item[0])
        taken_back = VoidSet(voids)
        return sorted((lsn, time) for lsn, time in found.items() if lsn not in taken_back)

    def first_commit_damage(self) -> tuple[int, CorruptionError] | None:
        """(start LSN, error) of the first damaged chunk of PG 0 seen by ``commits``: no
        commit above that LSN can be placed in time or LSN order with certainty."""
        return self.commit_damage[0] if self.commit_damage else None


class VoidSet:
    """VOID ranges ``(low, high)``: which LSNs they take back (exclusive at both ends)."""

    def __init__(self, ranges: "set[tuple[int, int]] | list[tuple[int, int]]") -> None:
        self.ranges = sorted(set(ranges))
        self._lows = np.array([low for low, _high in self.ranges], dtype=np.int64)
        # Among the ranges starting below an LSN, the one reaching furthest decides.
        self._reach = np.maximum.accumulate(np.array([high for _low, high in self.ranges],
                                                     dtype=np.int64)) \
            if self.ranges else self._lows

    def __contains__(self, lsn: int) -> bool:
        at = int(np.searchsorted(self._lows, lsn, side="left")) - 1
        return at >= 0 and int(self._reach[at]) > lsn


def _order(ref: ChunkRef | SnapshotRef) -> tuple[int, int]:
    if isinstance(ref, ChunkRef):
        return ref.start, ref.end
    return ref.lsn, ref.max_page_lsn
