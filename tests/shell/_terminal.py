"""A program on a pseudo-terminal, driven like a user at a keyboard (a small pexpect).

The child gets the terminal as its controlling terminal (a new session, then TIOCSCTTY by a
tiny launcher that execs the program), so Ctrl-C typed as ``\\x03`` raises SIGINT in it just as
on a real terminal. ``text`` is everything the program wrote, with escape sequences and
carriage returns removed; ``expect`` waits (bounded) for a pattern in it.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

_LAUNCHER = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
             "os.execv(sys.argv[1], sys.argv[1:])")
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      rb"|\x1b[()][A-Za-z0-9]|\x1b[=>78NOM]|\r|\x07")

ENTER = "\r"
TAB = "\t"
UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"


class Terminal:
    def __init__(self, argv: list[str], *, cwd: str, env: dict[str, str], rows: int = 30,
                 columns: int = 120) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        try:
            self.process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *argv],
                                            stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                            env=env, start_new_session=True)
        finally:
            os.close(slave)
        self.master = master
        self.raw = b""
        self._eof = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def text(self) -> str:
        return _ESCAPES.sub(b"", self.raw).decode("utf-8", errors="replace")

    def _pump(self, timeout: float) -> None:
        if self._eof:
            time.sleep(min(timeout, 0.05))
            return
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the program exited and the terminal closed
            chunk = b""
        if not chunk:
            self._eof = True
        self.raw += chunk

    def expect(self, pattern: str, *, start: int = 0, timeout: float = 30.0) -> int:
        """Wait until ``pattern`` (a regular expression) occurs in ``text`` at or after
        ``start``; return where the match ends."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            match = compiled.search(self.text, start)
            if match:
                return match.end()
            if time.monotonic() > deadline or (self._eof and self.process.poll() is not None):
                raise AssertionError(f"{pattern!r} did not appear after position {start}; "
                                     f"the terminal shows:\n{self.text[start:][-3000:]}")
            self._pump(0.1)

    def quiet(self, seconds: float) -> None:
        """Keep reading for ``seconds`` (lets the program settle)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pump(deadline - time.monotonic())

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def type(self, keys: str, delay: float = 0.02) -> None:
        """Send one key at a time, as a person types (escape sequences stay whole)."""
        for key in re.findall(r"\x1b\[[A-D]|.", keys, re.S):
            self.send(key)
            self._pump(delay)

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        while not self._eof and time.monotonic() < deadline:
            self._pump(0.1)
        return self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        try:
            os.close(self.master)
        except OSError:
            pass
