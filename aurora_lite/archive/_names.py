"""Object names in an archive: the listing is the manifest.

Every object's name says what it holds, so restore and the archivers find chunks and
snapshots by protection group and LSN from a listing alone (docs/formats/archive.md)::

    ARCHIVE                                           descriptor (JSON): format, cluster, pg_size
    pg-<pg:08d>/chunk-<start:020d>-<end:020d>.alc     records of the PG with start < lsn <= end
    pg-<pg:08d>/snap-<lsn:020d>-<max_page_lsn:020d>.als
                                                      the PG's pages at lsn (no page above
                                                      max_page_lsn)

Zero-padded decimal LSNs sort in LSN order as text. A name is a pure function of the content's
range, so two archivers that upload the same range write the same object (harmless), and
overlapping ranges from two archivers are both valid (restore picks a path through them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aurora_lite.errors import OperationalError

DESCRIPTOR = "ARCHIVE"
DESCRIPTOR_FORMAT = 1
_CHUNK = re.compile(r"^pg-(\d{8})/chunk-(\d{20})-(\d{20})\.alc$")
_SNAPSHOT = re.compile(r"^pg-(\d{8})/snap-(\d{20})-(\d{20})\.als$")


def pg_prefix(pg: int) -> str:
    return f"pg-{pg:08d}/"


def chunk_name(pg: int, start: int, end: int) -> str:
    return f"{pg_prefix(pg)}chunk-{start:020d}-{end:020d}.alc"


def snapshot_name(pg: int, lsn: int, max_page_lsn: int) -> str:
    return f"{pg_prefix(pg)}snap-{lsn:020d}-{max_page_lsn:020d}.als"


@dataclass(frozen=True, order=True)
class ChunkRef:
    """A chunk object as the listing shows it."""

    pg: int
    start: int
    end: int
    name: str
    size: int = 0


@dataclass(frozen=True, order=True)
class SnapshotRef:
    """A snapshot object as the listing shows it."""

    pg: int
    lsn: int
    max_page_lsn: int
    name: str
    size: int = 0


def parse_name(name: str, size: int = 0) -> ChunkRef | SnapshotRef | None:
    """The object a name denotes, or None for names that are not chunks or snapshots."""
    match = _CHUNK.match(name)
    if match:
        pg, start, end = (int(group) for group in match.groups())
        return ChunkRef(pg, start, end, name, size) if start < end else None
    match = _SNAPSHOT.match(name)
    if match:
        pg, lsn, top = (int(group) for group in match.groups())
        return SnapshotRef(pg, lsn, top, name, size) if top >= lsn else None
    return None


@dataclass(frozen=True)
class Descriptor:
    """What the archive belongs to: written once by the first archiver, read by restore."""

    cluster_id: str
    pg_size: int

    def encode(self) -> bytes:
        return (json.dumps({"format": DESCRIPTOR_FORMAT, "cluster_id": self.cluster_id,
                            "pg_size": self.pg_size}, sort_keys=True) + "\n").encode()

    @classmethod
    def decode(cls, data: bytes, where: str) -> "Descriptor":
        try:
            document = json.loads(data.decode("utf-8"))
            if document.get("format") != DESCRIPTOR_FORMAT:
                raise ValueError(f"format {document.get('format')!r} is not supported")
            descriptor = cls(str(document["cluster_id"]), int(document["pg_size"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OperationalError(f"archive descriptor {where}: {exc}") from None
        if descriptor.pg_size < 1:
            raise OperationalError(f"archive descriptor {where}: bad pg_size "
                                   f"{descriptor.pg_size}")
        return descriptor
