"""A fault-injecting Disk for crash tests: failing fsyncs, fsyncs held at a gate, and a
"crash" at the n-th write to a chosen file (the write stops half way, as a torn write would)."""

from __future__ import annotations

import errno
import os
import threading

from aurora_lite.env import Disk


class Crash(OSError):
    """The simulated crash: the store sees an I/O error and must not be trusted afterwards."""


class FaultyDisk(Disk):
    def __init__(self, *, fsync: bool = False) -> None:
        super().__init__(fsync=fsync)
        self.fail_fsyncs = False
        self.gate = threading.Event()
        self.gate.set()
        self.crash_in: str | None = None   # substring of the path whose writes count down
        self.countdown = 0
        self.writes_seen = 0

    def fsync(self, fd: int) -> None:
        if not self.gate.wait(30):
            raise OSError(errno.EIO, "fsync gate was never opened")
        if self.fail_fsyncs:
            raise OSError(errno.EIO, "injected fsync failure")
        super().fsync(fd)

    def pwrite(self, fd: int, data, offset: int) -> None:
        if self.crash_in is not None:
            path = os.readlink(f"/proc/self/fd/{fd}")
            if self.crash_in in path:
                self.writes_seen += 1
                if self.countdown == 0:
                    self.crash_in = None
                    half = bytes(data)[:max(1, len(data) // 2)]
                    os.pwrite(fd, half, offset)
                    raise Crash(errno.EIO, f"injected crash writing {path}")
                self.countdown -= 1
        super().pwrite(fd, data, offset)
