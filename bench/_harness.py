"""Shared helpers for every benchmark in bench/ (DESIGN.md section 7).

Each benchmark measures itself and the peer it is compared with in the same run, takes the
median of several repeats (these machines are noisy), prints a table with ratios against the
peer, and can write the figures as JSON with the machine and the time. Command line:
``--quick`` (seconds, for smoke runs), ``--json PATH``, ``--repeats N``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable


def parser(description: str, *, repeats: int = 5) -> argparse.ArgumentParser:
    """An ArgumentParser with the options every benchmark accepts."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true",
                        help="a small workload that runs in seconds")
    result.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    result.add_argument("--repeats", type=int, default=None,
                        help=f"timed repeats per measurement (default {repeats}, "
                             f"quick: {min(3, repeats)})")
    result.set_defaults(default_repeats=repeats)
    return result


def repeats_of(args: argparse.Namespace, default: int | None = None) -> int:
    """--repeats if given, else the parser's default (at most 3 with --quick)."""
    if args.repeats is not None:
        return max(1, args.repeats)
    default = default if default is not None else getattr(args, "default_repeats", 5)
    return min(3, default) if args.quick else default


def timed_runs(run: Callable[..., Any], repeats: int,
               setup: Callable[[], Any] | None = None) -> tuple[list[float], list[float]]:
    """Wall and CPU times (``time.process_time``) of ``repeats`` runs of ``run``.

    ``setup()`` runs untimed before each run and, if it returns something, that is passed to
    ``run``. CPU time leaves out the time the process waited for a core, which on a shared
    machine is most of the noise.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        state = setup() if setup is not None else None
        start, start_cpu = time.perf_counter(), time.process_time()
        if state is None:
            run()
        else:
            run(state)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return wall, cpu


def median_time(run: Callable[..., Any], repeats: int,
                setup: Callable[[], Any] | None = None) -> tuple[float, list[float]]:
    """Median wall time of ``run`` over ``repeats`` runs (see timed_runs) and every time."""
    wall, _cpu = timed_runs(run, repeats, setup)
    return statistics.median(wall), wall


def interleaved_times(contenders: list[tuple[str, Callable[..., Any],
                                             Callable[[], Any] | None, int]],
                      rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """Time several contenders in turns: each round runs every contender ``per_round`` times.

    ``contenders`` holds (name, run, setup, per_round), ``run``/``setup`` as in timed_runs;
    the result maps each name to its (wall, cpu) times. On a shared machine the load changes
    by the second; taking turns spreads it over all contenders alike, so their ratio stays
    honest even when absolute times wander.
    """
    times: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name, _run, _setup, _n in contenders}
    for _ in range(rounds):
        for name, run, setup, per_round in contenders:
            wall, cpu = timed_runs(run, per_round, setup)
            times[name][0].extend(wall)
            times[name][1].extend(cpu)
    return times


@dataclass
class Row:
    """One measured contender: ``units`` of work (records, rows...) in ``seconds``."""

    name: str
    seconds: float
    units: float
    nbytes: float = 0.0
    times: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float | None = None        # median CPU time, when measured
    cpu_times: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.units / self.seconds if self.seconds else float("inf")

    @property
    def mb_per_second(self) -> float:
        return self.nbytes / self.seconds / 1e6 if self.seconds else float("inf")

    @property
    def cpu_per_second(self) -> float | None:
        if self.cpu_seconds is None:
            return None
        return self.units / self.cpu_seconds if self.cpu_seconds else float("inf")


def print_table(title: str, rows: list[Row], baseline: str, unit: str = "records") -> None:
    """Print the rows with throughput and the speed-up over the ``baseline`` row."""
    base = next(row for row in rows if row.name == baseline)
    with_cpu = all(row.cpu_seconds for row in rows)
    print(f"\n{title}")
    header = (f"{'contender':<28} {'median s':>10} {unit + '/s':>14} {'MB/s':>9} "
              f"{'x ' + baseline:>16}")
    if with_cpu:
        header += f" {'cpu s':>9} {unit + '/cpu s':>16} {'x (cpu)':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        line = (f"{row.name:<28} {row.seconds:>10.4f} {row.per_second:>14,.0f} "
                f"{row.mb_per_second:>9.1f} {base.seconds / row.seconds:>16.1f}")
        if with_cpu:
            line += (f" {row.cpu_seconds:>9.4f} {row.cpu_per_second:>16,.0f} "
                     f"{base.cpu_seconds / row.cpu_seconds:>8.1f}")
        print(line)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, every thread (from /proc); 0.0 when
    the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SequentialAllocator:
    """LSNs for one protection group as the writer hands them out: consecutive, each record
    naming the one before it (``MiniTransaction``'s allocator interface)."""

    def __init__(self) -> None:
        self.lsn = 0

    def allocate(self, page_id: int) -> tuple[int, int]:
        self.lsn += 1
        return self.lsn, self.lsn - 1


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for module in ("numpy", "numba"):
        loaded = sys.modules.get(module)
        if loaded is not None:
            info[module] = getattr(loaded, "__version__", "?")
    return info


def write_json(path: str, benchmark: str, rows: list[Row], baseline: str,
               parameters: dict[str, Any]) -> None:
    """Write the results, ratios against ``baseline``, the machine and a UTC timestamp."""
    base = next(row for row in rows if row.name == baseline)
    document = {
        "benchmark": benchmark,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": parameters,
        "baseline": baseline,
        "results": [
            dict(asdict(row), per_second=row.per_second, mb_per_second=row.mb_per_second,
                 ratio=base.seconds / row.seconds, cpu_per_second=row.cpu_per_second,
                 cpu_ratio=(base.cpu_seconds / row.cpu_seconds
                            if base.cpu_seconds and row.cpu_seconds else None))
            for row in rows
        ],
    }
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
    print(f"\nwrote {path}")
