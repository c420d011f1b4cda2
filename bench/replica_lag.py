"""Replica lag: from a commit's acknowledgement on the writer to its visibility on a replica.

The writer runs in this process (the DB-API and SQL, autocommit single-row INSERTs from
several threads, paced to ``--rate`` commits per second) on six ``aurora-lite segment``
processes (fsync on unless ``--no-fsync``), and serves its redo stream; one
``aurora-lite replica`` process follows it. Timestamps, not polling: the writer records the
time each commit is acknowledged (its read point published, just before ``commit()``
returns); the replica records the time its read point passes each announced read point
(``SHOW replica_visibility``); the benchmark correlates the two by LSN: a commit is visible
once the replica's read point reaches it. Both clocks are this machine's ``time.time``.
(The client's own view adds its wait for the GIL after the acknowledgement, which with 16
threads in one process can reach tens of milliseconds and is left out.)

Reported per repeat and as medians: commits/s reached, replica lag p50/p99/max, and the peer
measured in the same run, the commit latency on the writer (p50/p99): how long a client waits
for its commit, against how much later a replica shows it. Targets: lag p50 <= 5 ms,
p99 <= 20 ms.

    python bench/replica_lag.py [--quick] [--json PATH] [--repeats N] [--rate 1000]
                                [--threads 32] [--seconds S] [--no-fsync]
"""

from __future__ import annotations

import bisect
import datetime
import json
import os
import queue
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

import aurora_lite  # noqa: E402
from aurora_lite.cluster import ensure_cluster  # noqa: E402
from aurora_lite.replica import start_publisher  # noqa: E402

TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


cpu_of = _harness.process_cpu_seconds


class ReplicaProcess:
    def __init__(self, cluster_file: str, writer: str) -> None:
        # stderr to a file, not a pipe nobody drains (a full pipe would stall the replica).
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aurora_lite", "replica", "--config", cluster_file,
             "--writer", writer, "--listen", "127.0.0.1:0", "--auth", "trust", "--quiet"],
            stdout=subprocess.PIPE, stderr=self.errors, stdin=subprocess.DEVNULL, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout],
                         daemon=True).start()
        deadline = time.monotonic() + 120
        self.address = None
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith("listening on "):
                self.address = line.split()[-1]
                break
        if self.address is None:
            self.stop()
            self.errors.seek(0)
            raise RuntimeError(f"the replica did not start: "
                               f"{self.errors.read().decode('utf-8', 'replace')[-2000:]}")

    def connect(self):
        return aurora_lite.connect(f"postgresql://bench@{self.address}/db", autocommit=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.errors.close()


def run_once(connection_factory, database, replica: ReplicaProcess, table: str, rate: float,
             threads: int, seconds: float) -> dict:
    """One paced run; returns its figures."""
    setup = connection_factory()
    setup.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
    setup.close()
    acks: list[tuple[int, int]] = []            # (commit LSN, acknowledged at, us)
    original = database.publish

    def publish(lsn, catalog):
        # Instrumentation: the moment the writer acknowledges each commit (it makes the
        # commit visible and announces it; commit() returns right after). Taken before the
        # call, as a thread that just published may wait for the GIL before it could note
        # the time (the replica can only show what was published).
        acked = time.time_ns() // 1000
        original(lsn, catalog)
        acks.append((lsn, acked))

    latencies: list[float] = []
    lock = threading.Lock()
    schedule = {"next": 0}
    total = int(rate * seconds)
    start = time.monotonic() + 0.2

    def work() -> None:
        connection = connection_factory()
        cursor = connection.cursor()
        mine = []
        while True:
            with lock:
                number = schedule["next"]
                schedule["next"] += 1
            if number >= total:
                break
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            cursor.execute(f"INSERT INTO {table} VALUES (?, ?, ?)", (number, number, "x" * 40))
            mine.append(time.perf_counter() - began)
        connection.close()
        with lock:
            latencies.extend(mine)

    writer_cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    replica_cpu = cpu_of(replica.process.pid)
    database.publish = publish
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        began = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - began
    finally:
        del database.publish
    writer_cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - writer_cpu
    last = max(lsn for lsn, _at in acks)
    client = replica.connect()
    deadline = time.monotonic() + 30
    while client.execute("SHOW replica_lag").fetchall()[0][2] < last:
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not catch up within 30 s")
        time.sleep(0.01)
    replica_cpu = cpu_of(replica.process.pid) - replica_cpu
    visibility = client.execute("SHOW replica_visibility").fetchall()
    client.close()
    points = [row[0] for row in visibility]
    # A commit is acknowledged (visible on the writer) as soon as the writer publishes it or
    # any later commit: a thread that waits for the GIL before its own publish call finds a
    # later commit already published, and so may the replica.
    acks.sort()
    earliest = []
    soonest = None
    for lsn, acked in reversed(acks):
        soonest = acked if soonest is None else min(soonest, acked)
        earliest.append((lsn, soonest))
    lags = []
    for lsn, acked in earliest:
        index = bisect.bisect_left(points, lsn)
        if index < len(points):
            lags.append((visibility[index][2] - acked) / 1000)
    lags_ms = sorted(lags)
    # The part of the lag after the writer announced the read point: its replication
    # thread, the network, the replica process.
    stream_ms = [(visible - published) / 1000 for _rp, published, visible in visibility
                 if published and visible >= published]
    return {
        "commits": len(acks), "seconds": round(elapsed, 3),
        "commits_per_s": round(len(acks) / elapsed, 1),
        "lag_p50_ms": round(percentile(lags_ms, 0.5), 3),
        "lag_p99_ms": round(percentile(lags_ms, 0.99), 3),
        "lag_max_ms": round(lags_ms[-1], 3), "lag_min_ms": round(lags_ms[0], 3),
        "commit_p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "commit_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "stream_p50_ms": round(percentile(stream_ms, 0.5), 3),
        "stream_p99_ms": round(percentile(stream_ms, 0.99), 3),
        "matched": len(lags),
        "writer_cpu_ms_per_commit": round(writer_cpu / len(acks) * 1000, 3),
        "replica_cpu_ms_per_commit": round(replica_cpu / len(acks) * 1000, 3),
    }


def main() -> None:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=3)
    parser.add_argument("--rate", type=float, default=1000.0, help="commits per second")
    parser.add_argument("--threads", type=int, default=32,
                        help="client threads (one commit in flight each; default 32)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--no-fsync", action="store_true")
    args = parser.parse_args()
    repeats = _harness.repeats_of(args)
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    directory = tempfile.mkdtemp(prefix="bench-replica-lag-")
    handle = ensure_cluster(os.path.join(directory, "cluster"), timeout=180,
                            node_args=("--no-fsync",) if args.no_fsync else ())
    connection = aurora_lite.connect(handle.directory, storage="cluster",
                                     fsync=not args.no_fsync)
    database = connection._database
    publisher = start_publisher(connection, directory=handle.directory)
    replica = ReplicaProcess(os.path.join(handle.directory, "cluster.json"), publisher.address)

    def connection_factory():
        return aurora_lite.dbapi.Connection(database, autocommit=True, owns_database=False)

    runs = []
    try:
        for repeat in range(repeats):
            result = run_once(connection_factory, database, replica, f"t{repeat}", args.rate,
                              args.threads, seconds)
            runs.append(result)
            print(f"run {repeat + 1}: {json.dumps(result)}", flush=True)
    finally:
        replica.stop()
        publisher.stop()
        connection.close()
        handle.stop()
        handle.close()
        shutil.rmtree(directory, ignore_errors=True)
    load = [round(value, 2) for value in os.getloadavg()]
    summary = {key: statistics.median(run[key] for run in runs)
               for key in runs[0] if isinstance(runs[0][key], (int, float))}
    print(f"\nreplica lag at {args.rate:g} commits/s target, {args.threads} threads, "
          f"{seconds:g} s x {repeats} (medians)")
    print(f"  commits/s reached        {summary['commits_per_s']:10.1f}")
    print(f"  replica lag p50 / p99    {summary['lag_p50_ms']:8.3f} / {summary['lag_p99_ms']:.3f}"
          f" ms   (targets {TARGET_P50_MS:g} / {TARGET_P99_MS:g} ms)")
    print(f"  of which announcement -> visible p50 / p99 {summary['stream_p50_ms']:.3f} / "
          f"{summary['stream_p99_ms']:.3f} ms")
    print(f"  commit latency p50 / p99 {summary['commit_p50_ms']:8.3f} / "
          f"{summary['commit_p99_ms']:.3f} ms   (the writer's own, same run)")
    print(f"  lag p50 / commit p50     {summary['lag_p50_ms'] / summary['commit_p50_ms']:8.2f}x")
    print(f"  CPU per commit: writer process {summary['writer_cpu_ms_per_commit']:.3f} ms, "
          f"replica process {summary['replica_cpu_ms_per_commit']:.3f} ms")
    met = summary["lag_p50_ms"] <= TARGET_P50_MS and summary["lag_p99_ms"] <= TARGET_P99_MS
    print(f"  targets {'met' if met else 'NOT met'}")
    print(f"  load average (1, 5, 15 min) at the end: {' '.join(map(str, load))}")
    if args.json:
        document = {
            "benchmark": "replica_lag",
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "machine": _harness.machine(),
            "parameters": {"rate": args.rate, "threads": args.threads, "seconds": seconds,
                           "repeats": repeats, "fsync": not args.no_fsync},
            "load_average": load, "runs": runs, "medians": summary,
            "targets": {"lag_p50_ms": TARGET_P50_MS, "lag_p99_ms": TARGET_P99_MS, "met": met},
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
