"""SIGTERM to a command that started storage nodes stops them too, whenever it arrives.

``aurora-lite serve DIR`` starts six segment processes for DIR before it listens. A SIGTERM in
that window used to kill the command where it stood and leave the six nodes running (the
launcher stops the nodes it started at exit, and a process killed by the default SIGTERM
action runs no exit handlers). The test sends SIGTERM as soon as the first node's PID file
appears - the earliest moment there is something to leak - and then requires every node the
command started to be gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def _pids(directory: str) -> dict[str, int]:
    found = {}
    pid_dir = os.path.join(directory, "pids")
    try:
        names = os.listdir(pid_dir)
    except FileNotFoundError:
        return found
    for name in names:
        try:
            with open(os.path.join(pid_dir, name)) as handle:
                found[name] = int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return found


def _nodes_of(directory: str) -> dict[str, int]:
    """Segment processes of the cluster in ``directory``, found by their command lines (a node
    whose PID file was never written is found too)."""
    config = os.path.join(directory, "cluster.json").encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"segment" in argv and config in argv:
            found[f"pid {entry}"] = int(entry)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("command", [["serve", "--listen", "127.0.0.1:0", "--auth", "trust",
                                      "--no-fsync", "--quiet"],
                                     ["shell", "-c", "SELECT 1"]])
def test_sigterm_while_starting_stops_the_nodes_it_started(tmp_path, command):
    directory = str(tmp_path / "db")
    args = [sys.executable, "-m", "aurora_lite", command[0]]
    args += [directory] + command[1:]
    # The suite keeps SQL tests on local storage (tests/conftest.py); this one needs the nodes.
    env = {key: value for key, value in os.environ.items() if key != "AURORA_LITE_STORAGE"}
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    seen: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 120
        while not seen and process.poll() is None and time.monotonic() < deadline:
            seen = _pids(directory)
            time.sleep(0.01)
        assert seen, f"no node was started within the bound ({process.poll()=})"
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(60)
        # Every node the command started (their PID files may come after the first one, and
        # a node interrupted before writing its PID file is found by its command line).
        seen.update(_pids(directory))
        seen.update(_nodes_of(directory))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in seen.values()):
            time.sleep(0.1)
        left = {name: pid for name, pid in seen.items() if _alive(pid)}
        assert not left, f"nodes left running after SIGTERM: {left}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        for pid in {**_pids(directory), **_nodes_of(directory)}.values():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
