"""How busy the machine was during a step, and how much of that was not the drill's own work.

The failover target (issue 6: at most 5 s from the writer's death to the first accepted write)
is a property of the system, not of a machine shared with other work. ``CpuWindow`` tells the
two apart: it reads the machine's busy CPU time (/proc/stat) and the CPU time of the drill's
own processes (the drill itself and the children it reaped, the storage nodes, the replicas)
at the start and the end of a window; what remains is other work's. Linux only: elsewhere
every figure is None and nothing is excused.
"""

from __future__ import annotations

import os
import resource
import time
from typing import Callable, Iterable

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy() -> float | None:
    """CPU seconds the machine spent busy since boot (all cores), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)      # idle + iowait
    guest = sum(fields[8:10]) if len(fields) > 9 else 0           # already in user/nice
    return (sum(fields) - idle - guest) / _TICK


def _process_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _own_cpu() -> float:
    """This process and every child it has reaped (the failover command, a killed writer)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuWindow:
    """Opened with the PIDs of the drill's live processes (read again at the end: a process
    started meanwhile counts from its start). Start it after reaping anything killed just
    before, so that a reaped child's whole life does not land in the window."""

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self._pids = pids
        self.started = time.monotonic()
        self._machine = _machine_busy()
        self._mine = {pid: _process_cpu(pid) for pid in set(pids())}
        self._own = _own_cpu()
        self.cpus = os.cpu_count() or 1

    def close(self) -> dict:
        """Figures of the window: seconds, machine cores busy, cores busy with other work."""
        seconds = max(time.monotonic() - self.started, 1e-6)
        machine = _machine_busy()
        if machine is None or self._machine is None:
            return {"seconds": seconds, "machine_cores": None, "other_cores": None}
        drill = _own_cpu() - self._own
        for pid in set(self._pids()):
            drill += _process_cpu(pid) - self._mine.get(pid, 0.0)
        busy = machine - self._machine
        return {"seconds": seconds, "machine_cores": busy / seconds,
                "other_cores": max(0.0, busy - drill) / seconds}


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
