"""Running ``aurora-lite serve`` as a child process for tests: start on a free port (port 0,
read back from stdout), stop by PID (SIGTERM, then SIGKILL), every wait bounded."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurora_lite", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class ServeProcess:
    def __init__(self, directory, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aurora_lite", "serve", str(directory), "--listen",
             "127.0.0.1:0", "--no-fsync", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.port = 0
        self.stderr = ""

    def wait_listening(self, timeout: float = 180) -> int:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(deadline - time.monotonic(), 0.01)):
                    continue
                line = self.process.stdout.readline()
                if not line:
                    break
                if line.startswith("listening on "):
                    self.port = int(line.rsplit(":", 1)[1])
                    return self.port
        finally:
            selector.close()
        self.stop()
        raise AssertionError(f"aurora-lite serve did not start: {self.stderr}")

    def stop(self, timeout: float = 30) -> int:
        process = self.process
        if process.stdout.closed:
            return process.returncode
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout)
        self.stderr = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        return process.returncode


@contextlib.contextmanager
def serving():
    """start(directory, *extra) -> a listening ServeProcess; all are stopped at the end."""
    started: list[ServeProcess] = []

    def start(directory, *extra: str) -> ServeProcess:
        process = ServeProcess(directory, *extra)
        started.append(process)
        process.wait_listening()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def serve():
    with serving() as start:
        yield start


@pytest.fixture(scope="module")
def serve_module():
    """``serve`` for a module's tests that share one server process."""
    with serving() as start:
        yield start
