"""The disk seam: every write and fsync that durability depends on goes through ``Disk``.

Tests subclass ``Disk`` to inject failures (an ``OSError`` from the n-th fsync, a write that
stops half way, as a crash would leave it) and read the counters. With ``fsync=False`` the
calls are counted but not made: fast tests that do not crash the machine need no fsync.
"""

from __future__ import annotations

import os
import threading


class Disk:
    """Positional writes, fsync and atomic small-file replacement, with counters."""

    def __init__(self, *, fsync: bool = True) -> None:
        self.fsync_enabled = fsync
        self._lock = threading.Lock()
        self.fsyncs = 0          # fsync calls requested (made or, with fsync=False, skipped)
        self.bytes_written = 0

    def pwrite(self, fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset`` (os.pwrite may write less than asked)."""
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            if written <= 0:
                raise OSError(f"pwrite wrote {written} bytes")
            offset += written
            view = view[written:]
        with self._lock:
            self.bytes_written += len(data)

    def truncate(self, fd: int, length: int) -> None:
        os.ftruncate(fd, length)

    def fsync(self, fd: int) -> None:
        with self._lock:
            self.fsyncs += 1
        if self.fsync_enabled:
            os.fsync(fd)

    def fsync_dir(self, path: str | os.PathLike) -> None:
        """Make creations, renames and removals of entries in ``path`` durable."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self.fsync(fd)
        finally:
            os.close(fd)

    def write_atomic(self, path: str | os.PathLike, data: bytes) -> None:
        """Replace ``path`` with ``data`` so that a crash leaves the old or the new file whole:
        write a temporary name, fsync it, rename it over ``path``, fsync the directory."""
        path = os.fspath(path)
        temporary = path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.pwrite(fd, data, 0)
            self.fsync(fd)
        finally:
            os.close(fd)
        self.replace(temporary, path)
        self.fsync_dir(os.path.dirname(path) or ".")

    def replace(self, source: str, target: str) -> None:
        os.replace(source, target)

    def remove(self, path: str | os.PathLike) -> None:
        os.remove(path)
