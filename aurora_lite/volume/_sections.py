"""Cutting submitted MTR buffers into per-PG sections with frontier ranges (quorum.md Q1, Q3).

Every flush sends every protection group of the volume one section ``(start, end]``: all of its
records with ``start < lsn <= end``, possibly none, so an idle PG's segments keep their SCL up
with the volume (Q3). Because every flush covers every PG, the flushes share one volume-wide
frontier: ``end`` is the last LSN submitted, ``start`` the previous flush's ``end``, except

* a PG the writer creates in this epoch, whose first section starts at 0 (it had no records
  before; a new segment has SCL 0 and could never fill a gap below the old frontier), and
* right after recovery, when every known PG starts at the durable point D (recovery.md step 5).

LSNs are dense (``reset`` gives abandoned LSNs back before anything is submitted) and buffers
are submitted in LSN order, so the last LSN of the last buffer bounds every record taken.
"""

from __future__ import annotations

import struct
from typing import Sequence

from aurora_lite.errors import InternalError
from aurora_lite.wire import Section

_LENGTH_AT = 4
_PAGE_AT = 24
_U32 = struct.Struct("<I")
_MIN_RECORD = 32


def split_by_pg(buffer: bytes, pg_size: int, out: dict[int, list[bytes]]) -> None:
    """Append the records of ``buffer`` to ``out[pg]``, consecutive records of one PG as one
    slice. The records are not checked here: segments check every CRC (Invariant 5)."""
    offset, end = 0, len(buffer)
    run_start, run_pg = 0, -1
    unpack = _U32.unpack_from
    while offset < end:
        if offset + _MIN_RECORD > end:
            raise InternalError(f"submitted buffer ends inside a record header at {offset}")
        length = unpack(buffer, offset + _LENGTH_AT)[0]
        if length < _MIN_RECORD or offset + length > end:
            raise InternalError(f"submitted buffer has a bad record length {length} at "
                                f"offset {offset}")
        pg = unpack(buffer, offset + _PAGE_AT)[0] // pg_size
        if pg != run_pg:
            if run_pg >= 0:
                out.setdefault(run_pg, []).append(buffer[run_start:offset])
            run_start, run_pg = offset, pg
        offset += length
    if run_pg >= 0:
        out.setdefault(run_pg, []).append(buffer[run_start:end] if run_start else buffer)


class SectionBuilder:
    """The frontier of every PG of the volume and the sections of the next flush."""

    def __init__(self, pg_size: int, frontier: int = 0, pgs: Sequence[int] = ()) -> None:
        self.pg_size = pg_size
        self.frontier = frontier            # the last LSN any flush covered
        self._start = {pg: frontier for pg in pgs}
        self.single_pg_hint = False         # set by the volume: every page so far is in PG 0

    @property
    def pgs(self) -> list[int]:
        return sorted(self._start)

    def build(self, buffers: Sequence[bytes], end: int) -> tuple[list[Section], list[int]]:
        """Sections covering (frontier, end] for every PG, and the PGs new in this flush."""
        if end < self.frontier:
            raise InternalError(f"flush end {end} below the frontier {self.frontier}")
        parts: dict[int, list[bytes]] = {}
        if self.single_pg_hint:
            if buffers:
                parts[0] = list(buffers)
        else:
            for buffer in buffers:
                split_by_pg(buffer, self.pg_size, parts)
        new = [pg for pg in parts if pg not in self._start]
        for pg in new:
            self._start[pg] = 0
        sections = []
        for pg in sorted(self._start):
            chunks = parts.get(pg)
            records = b"" if not chunks else chunks[0] if len(chunks) == 1 else b"".join(chunks)
            sections.append(Section(pg, self._start[pg], end, bytes(records)))
            self._start[pg] = end
        self.frontier = end
        return sections, sorted(new)

    def heartbeat(self) -> list[Section]:
        """Empty sections at the frontier: no new evidence, but every segment answers with its
        SCL (how the writer learns that a segment caught up by gossip)."""
        return [Section(pg, self.frontier, self.frontier, b"") for pg in sorted(self._start)]
