"""The optional ``archive`` section of the cluster file: where and how the log is archived.

docs/formats/cluster.md (the key table) and docs/formats/archive.md (what goes there)::

    "archive": {"location": "archive", "retention_seconds": 604800,
                "snapshot_interval": 3600, "chunk_interval": 5, "chunk_bytes": 16777216}

``location`` is a directory (relative to the cluster file's directory unless absolute) or an
``s3://bucket/prefix`` URL. A cluster file without the section archives nothing; a file
written before the section existed loads unchanged. Durations are given in seconds here and
accepted as ``7d``/``12h``/``30m``/``45s`` on the command line (``parse_duration``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from aurora_lite.errors import ProgrammingError

DEFAULT_RETENTION = 7 * 86400.0
DEFAULT_SNAPSHOT_INTERVAL = 3600.0
DEFAULT_CHUNK_INTERVAL = 5.0
DEFAULT_CHUNK_BYTES = 16 << 20
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """``"90"``, ``"45s"``, ``"30m"``, ``"12h"``, ``"7d"``, ``"2w"`` -> seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ProgrammingError(f"bad duration {text!r}: expected a number with an optional "
                               f"unit s, m, h, d or w (e.g. 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def is_url(location: str) -> bool:
    return "://" in location


@dataclass(frozen=True)
class ArchiveSettings:
    """Continuous archiving of a cluster: location, retention and cadence."""

    location: str                     # absolute directory once loaded, or an s3:// URL
    retention_seconds: float | None = DEFAULT_RETENTION     # None: keep everything
    snapshot_interval: float = DEFAULT_SNAPSHOT_INTERVAL    # seconds between page snapshots
    chunk_interval: float = DEFAULT_CHUNK_INTERVAL          # seconds between sealed chunks
    chunk_bytes: int = DEFAULT_CHUNK_BYTES                  # records per chunk, at most

    def resolved(self, base: str) -> "ArchiveSettings":
        """A copy whose directory location is absolute (relative ones are taken from
        ``base``), checked."""
        location = self.location
        if not is_url(location):
            location = os.path.normpath(os.path.join(base, location))
        settings = replace(self, location=location)
        settings.validate()
        return settings

    def to_document(self, base: str) -> dict:
        location = self.location
        if not is_url(location):
            relative = os.path.relpath(location, base)
            location = location if relative.startswith("..") else relative
        return {"location": location, "retention_seconds": self.retention_seconds,
                "snapshot_interval": self.snapshot_interval,
                "chunk_interval": self.chunk_interval, "chunk_bytes": self.chunk_bytes}

    @classmethod
    def from_document(cls, document: object, base: str) -> "ArchiveSettings":
        """The section as read from JSON; ``base`` resolves a relative directory."""
        if not isinstance(document, dict):
            raise ProgrammingError("the archive section must be a JSON object")
        unknown = set(document) - {"location", "retention_seconds", "snapshot_interval",
                                   "chunk_interval", "chunk_bytes"}
        if unknown:
            raise ProgrammingError(f"unknown archive setting(s): {', '.join(sorted(unknown))}")
        if "location" not in document:
            raise ProgrammingError("the archive section has no location")
        location = str(document["location"])
        if not is_url(location):
            location = os.path.normpath(os.path.join(base, location))
        retention = document.get("retention_seconds", DEFAULT_RETENTION)
        settings = cls(
            location=location,
            retention_seconds=None if retention is None else float(retention),
            snapshot_interval=float(document.get("snapshot_interval",
                                                 DEFAULT_SNAPSHOT_INTERVAL)),
            chunk_interval=float(document.get("chunk_interval", DEFAULT_CHUNK_INTERVAL)),
            chunk_bytes=int(document.get("chunk_bytes", DEFAULT_CHUNK_BYTES)))
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.location:
            raise ProgrammingError("the archive location is empty")
        if is_url(self.location) and not self.location.startswith("s3://"):
            raise ProgrammingError(f"archive location {self.location!r}: only directories "
                                   f"and s3:// URLs are supported")
        if self.retention_seconds is not None and self.retention_seconds <= 0:
            raise ProgrammingError("archive retention must be positive (or null: keep all)")
        if self.snapshot_interval <= 0 or self.chunk_interval <= 0:
            raise ProgrammingError("archive snapshot and chunk intervals must be positive")
        if self.chunk_bytes < 64 << 10:
            raise ProgrammingError("archive chunk_bytes must be at least 65536")
