"""Commits per second on the six-process storage cluster against sqlite3, and commit latency
with storage nodes down.

aurora_lite: the DB-API and SQL (autocommit single-row INSERTs) on a ClusterVolume, the quorum
client of six ``aurora-lite segment`` processes on loopback with fsync on (a commit is
acknowledged once 4 of 6 segments fsynced it). sqlite3: WAL, synchronous=FULL, one connection
per thread with a busy timeout. Both with the same threads, in the same run, alternating,
medians over repeats. Then the commit latency (p50/p99) of aurora_lite with 0, 1 and 2 storage
nodes killed (kill -9).

    python bench/commits.py [--quick] [--json PATH] [--repeats N] [--threads 1,16]
"""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

from aurora_lite.cluster import ensure_cluster  # noqa: E402
from aurora_lite.dbapi import Connection  # noqa: E402
from aurora_lite.txn import Database  # noqa: E402
from aurora_lite.volume import ClusterVolume  # noqa: E402

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"
INSERT = "INSERT INTO t VALUES (?, ?, ?)"


class Aurora:
    name = "aurora_lite (6 segments)"

    def __init__(self, directory: str) -> None:
        self.cluster = ensure_cluster(os.path.join(directory, "cluster"), timeout=180)
        self.database = Database.open(volume=ClusterVolume.from_directory(self.cluster.directory))
        setup = self.connect()
        setup.execute(SCHEMA)
        setup.close()

    def connect(self):
        return Connection(self.database, autocommit=True, owns_database=False)

    def cpu_seconds(self) -> tuple[float, float]:
        """(CPU seconds of this process, of the storage node processes) so far."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        nodes = 0.0
        for process in self.cluster.processes.values():
            if process.pid is not None:
                nodes += _harness.process_cpu_seconds(process.pid)
        return own.ru_utime + own.ru_stime, nodes

    def close(self) -> None:
        try:
            self.database.close()
        finally:
            self.cluster.stop()
            self.cluster.close()


class Sqlite:
    name = "sqlite3 (WAL, FULL)"

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "bench.db")
        connection = self.connect()
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SCHEMA)
        connection.close()

    def connect(self):
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=60,
                                     check_same_thread=False)
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def close(self) -> None:
        pass


def run_inserts(engine, ids, threads: int, seconds: float) -> tuple[int, float, list[float]]:
    """Threads inserting one row per autocommit transaction for ``seconds``: (commits,
    elapsed, per-commit latencies)."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start_line = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        connection = engine.connect()
        cursor = connection.cursor()
        mine = latencies[index]
        try:
            start_line.wait(60)
            while time.perf_counter() < stop_at[0]:
                row_id = next(ids)
                started = time.perf_counter()
                cursor.execute(INSERT, (row_id, row_id % 1000, f"row-{row_id:09d}"))
                mine.append(time.perf_counter() - started)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds + 0.05
    start_line.wait(60)
    started = time.perf_counter()
    for thread in workers:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{engine.name}: {len(errors)} commits failed: {errors[0]!r}")
    merged = [value for mine in latencies for value in mine]
    return len(merged), elapsed, merged


def fsync_latency(directory: str, count: int = 100) -> float:
    """Median seconds of a 200-byte write + fsync here: sqlite3's commits cost one each, so
    the ratio depends on it (the machine's disk, and what else is using it)."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, b"x" * 200)
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        os.remove(path)
    return statistics.median(times)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def throughput(engines, ids, threads: int, seconds: float, repeats: int) -> list[_harness.Row]:
    rows = []
    runs: dict[str, list[tuple[int, float, list[float]]]] = {e.name: [] for e in engines}
    cpu: dict[str, list[float]] = {}
    for _ in range(repeats):
        for engine in engines:          # alternating: both see the same machine load
            probe = getattr(engine, "cpu_seconds", None)
            before = probe() if probe else None
            runs[engine.name].append(run_inserts(engine, ids, threads, seconds))
            if probe:
                after = probe()
                used = cpu.setdefault(engine.name, [0.0, 0.0, 0])
                used[0] += after[0] - before[0]
                used[1] += after[1] - before[1]
                used[2] += runs[engine.name][-1][0]
    for engine in engines:
        measured = runs[engine.name]
        rates = [count / elapsed for count, elapsed, _ in measured]
        median_rate = statistics.median(rates)
        latencies = [value for _c, _e, values in measured for value in values]
        rows.append(_harness.Row(
            f"{engine.name} x{threads}", 1.0 / median_rate, 1.0,
            times=[1.0 / rate for rate in rates],
            extra=dict(threads=threads, commits_per_second=median_rate,
                       rates=rates, p50_ms=percentile(latencies, 0.5) * 1000,
                       p99_ms=percentile(latencies, 0.99) * 1000)))
        if engine.name in cpu:
            writer, nodes, commits = cpu[engine.name]
            rows[-1].extra.update(writer_cpu_ms_per_commit=writer / commits * 1000,
                                  nodes_cpu_ms_per_commit=nodes / commits * 1000)
    return rows


def latency_with_nodes_down(aurora: Aurora, ids, threads: int, seconds: float,
                            repeats: int) -> list[_harness.Row]:
    rows = []
    killed: list[int] = []
    victims = sorted(aurora.cluster.processes)[-2:]
    try:
        for down in (0, 1, 2):
            while len(killed) < down:
                victim = victims[len(killed)]
                aurora.cluster.node_process(victim).kill()
                killed.append(victim)
            latencies: list[float] = []
            commits, elapsed = 0, 0.0
            for _ in range(repeats):
                count, took, values = run_inserts(aurora, ids, threads, seconds)
                commits += count
                elapsed += took
                latencies.extend(values)
            rate = commits / elapsed
            rows.append(_harness.Row(
                f"{down} of 6 down x{threads}", 1.0 / rate, 1.0,
                extra=dict(down=down, threads=threads, commits_per_second=rate,
                           p50_ms=percentile(latencies, 0.5) * 1000,
                           p99_ms=percentile(latencies, 0.99) * 1000)))
    finally:
        for victim in killed:
            process = aurora.cluster.node_process(victim)
            process.start()
            process.wait_ready(120)
    return rows


def print_latencies(title: str, rows: list[_harness.Row]) -> None:
    print(f"\n{title}")
    print(f"{'':<28} {'commits/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for row in rows:
        extra = row.extra
        print(f"{row.name:<28} {extra['commits_per_second']:>10,.0f} {extra['p50_ms']:>9.2f} "
              f"{extra['p99_ms']:>9.2f}")


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=3)
    parser.add_argument("--threads", default="1,16",
                        help="comma-separated client thread counts (default 1,16)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per measurement (default 5, quick: 2)")
    args = parser.parse_args()
    repeats = _harness.repeats_of(args)
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    thread_counts = [int(value) for value in args.threads.split(",")]
    directory = tempfile.mkdtemp(prefix="bench-commits-")
    ids = itertools.count(1)
    results: dict[str, list[_harness.Row]] = {}
    aurora = sqlite = None
    probes = [fsync_latency(directory)]
    try:
        aurora = Aurora(directory)
        sqlite = Sqlite(directory)
        run_inserts(aurora, ids, 4, 1.0)            # warm up: statement cache, pool, links
        run_inserts(sqlite, ids, 4, 1.0)
        for threads in thread_counts:
            rows = throughput([sqlite, aurora], ids, threads, seconds, repeats)
            results[f"threads_{threads}"] = rows
            print_latencies(f"Autocommit single-row INSERT, {threads} thread(s), "
                            f"{seconds:g} s x {repeats}", rows)
            ratio = rows[1].extra["commits_per_second"] / rows[0].extra["commits_per_second"]
            print(f"aurora_lite / sqlite3: {ratio:.2f}x; aurora_lite CPU per commit: writer "
                  f"process {rows[1].extra['writer_cpu_ms_per_commit']:.2f} ms, six storage "
                  f"nodes {rows[1].extra['nodes_cpu_ms_per_commit']:.2f} ms")
        probes.append(fsync_latency(directory))
        print(f"\nfsync of 200 bytes (median of 100, before / after): "
              f"{probes[0] * 1000:.2f} / {probes[1] * 1000:.2f} ms")
        latency_threads = max(thread_counts)
        rows = latency_with_nodes_down(aurora, ids, latency_threads, seconds,
                                       max(1, repeats - 1))
        results["nodes_down"] = rows
        print_latencies(f"aurora_lite commit latency with storage nodes killed "
                        f"({latency_threads} threads)", rows)
        ratio = rows[2].extra["p99_ms"] / rows[0].extra["p99_ms"]
        print(f"p99 with 2 down / p99 with none down: {ratio:.2f}x")
        stats = aurora.database.volume.statistics()
        print(f"\nvolume: {stats['flushes']} flushes for {stats['submits']} submits, quorum round "
              f"trip p50 {stats.get('quorum_rtt_p50_ms')} ms p99 {stats.get('quorum_rtt_p99_ms')} "
              f"ms, busiest node {stats['fsyncs']} fsyncs")
    finally:
        if aurora is not None:
            aurora.close()
        shutil.rmtree(directory, ignore_errors=True)
    if args.json:
        import json
        document = {
            "benchmark": "commits",
            "parameters": dict(quick=args.quick, repeats=repeats, seconds=seconds,
                               threads=thread_counts),
            "fsync_ms": [probe * 1000 for probe in probes],
            "machine": _harness.machine(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "results": {name: [dict(name=row.name, **row.extra) for row in rows]
                        for name, rows in results.items()},
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
