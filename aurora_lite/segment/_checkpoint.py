"""SCL checkpoints (``scl.log``): the durable record of an SCL that the records alone do not
explain.

A frontier range (docs/protocols/quorum.md) can lift SCL past the segment's last record, and
that SCL is acknowledged; after a restart the records alone would give a lower one, so the
segment writes the SCL it reached to this file. An entry is written only after the hot log
holding every record up to that SCL has been fsynced (then the entry is written and fsynced),
so an entry never claims records that a crash could still lose. On open the highest valid
entry is offered to the chain as evidence ``(chain_base, scl]``. A torn last entry is cut; a bad
entry with valid ones after it is CorruptionError naming the file and offset. The file is
compacted to one entry when the store materializes, and clipped by truncation.
"""

from __future__ import annotations

import os

from aurora_lite.env import Disk
from aurora_lite.errors import CorruptionError
from aurora_lite.segment._formats import (
    SCL_ENTRY, SCL_HEADER, SclHeader, pack_scl_entry, unpack_scl_entry,
)

SCL_FILE = "scl.log"


class SclCheckpoints:
    """Append-only SCL checkpoints of one segment (created on first use)."""

    def __init__(self, directory: str, pg_id: int, disk: Disk) -> None:
        self.path = os.path.join(directory, SCL_FILE)
        self.directory = directory
        self.pg_id = pg_id
        self.disk = disk
        self._fd = -1
        self._size = 0
        self.highest = 0

    def open(self) -> int:
        """Read the file (if any); return the highest SCL it records (0 if none)."""
        if not os.path.exists(self.path):
            return 0
        self._fd = os.open(self.path, os.O_RDWR)
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        try:
            SclHeader.unpack(data, self.path)
        except CorruptionError:
            if len(data) <= SCL_HEADER.size:
                # Torn while being created: no entry was ever written.
                self._discard()
                return 0
            raise
        offset = SCL_HEADER.size
        while offset < len(data):
            value = (unpack_scl_entry(data, offset) if offset + SCL_ENTRY.size <= len(data)
                     else None)
            if value is None:
                later = range(offset + SCL_ENTRY.size, len(data) - SCL_ENTRY.size + 1,
                              SCL_ENTRY.size)
                if any(unpack_scl_entry(data, at) is not None for at in later):
                    raise CorruptionError(f"{self.path} at offset {offset}: SCL entry CRC32C "
                                          f"mismatch (valid entries follow)")
                self.disk.truncate(self._fd, offset)     # torn tail
                self.disk.fsync(self._fd)
                break
            self.highest = max(self.highest, value)
            offset += SCL_ENTRY.size
        self._size = offset
        return self.highest

    def _discard(self) -> None:
        os.close(self._fd)
        self._fd = -1
        self.disk.remove(self.path)
        self.disk.fsync_dir(self.directory)

    def write(self, scl: int) -> None:
        """Append ``scl`` durably. The caller has fsynced the log records it covers."""
        if scl <= self.highest:
            return
        if self._fd < 0:
            self.disk.write_atomic(self.path, SclHeader(self.pg_id).pack())
            self._fd = os.open(self.path, os.O_RDWR)
            self._size = SCL_HEADER.size
        self.disk.pwrite(self._fd, pack_scl_entry(scl), self._size)
        self.disk.fsync(self._fd)
        self._size += SCL_ENTRY.size
        self.highest = scl

    def reset(self, scl: int) -> None:
        """Replace the file by one entry ``scl`` (none when 0), atomically (compaction after
        materialization, clipping after truncation)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.highest = 0
        if scl <= 0:
            if os.path.exists(self.path):
                self.disk.remove(self.path)
                self.disk.fsync_dir(self.directory)
            return
        self.disk.write_atomic(self.path, SclHeader(self.pg_id).pack() + pack_scl_entry(scl))
        self._fd = os.open(self.path, os.O_RDWR)
        self._size = SCL_HEADER.size + SCL_ENTRY.size
        self.highest = scl

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
