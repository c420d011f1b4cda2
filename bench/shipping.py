"""Page shipping vs redo shipping: the same engine and the same write-only OLTP workload, twice.

(a) **redo shipping**, as built: the writer's ClusterVolume sends only redo records to six
``aurora-lite segment`` processes (4/6 quorum, fsync on, group commit);
(b) **page shipping**, the mirrored-MySQL baseline (aurora_lite.volume.PageShipVolume): the
same writer sends, per group-commit round, its log plus the whole 16 KB image of every page the
round dirtied to six segment processes that append them to a page file, fsync (one per round)
and acknowledge; 4/6 acks make a commit durable. The model and its generosities are in the
module docstring of aurora_lite/volume/_pageship.py and in docs/benchmarks.md.

Workload (SysBench oltp_write_only): a table ``sbtest(id, k, c, pad)`` with a secondary index
on ``k``; each transaction updates ``k`` (indexed) of one random row, ``c`` (not indexed) of
another, deletes a third and inserts it back, then commits. N client threads, each its own
DB-API connection (``aurora_lite.connect(DIR, storage=...)``). Both modes run in the same
invocation, alternating, so they see the same machine load.

Reported per mode: transactions/s, bytes sent by the writer per transaction, network messages
per transaction (writer -> nodes, and with the nodes' answers), fsyncs per transaction (all six
nodes), p50/p99 commit latency, CPU per transaction (writer, nodes), and the ratios, as a table
in the style of the Aurora paper's Table 1.

Network: loopback, i.e. bandwidth for free (the disk's fsync latency and the engine's CPU set
the pace). ``--nic-mbps M`` models the writer's network interface instead: every frame to the
six nodes goes through one shared interface of M Mbit/s (aurora_lite.volume's ``Pacer``), the
same for both modes. The Aurora paper's writer had 10 Gbit/s for ~15,000 transactions/s;
scaled to this engine's ~150, that is ~100 Mbit/s (docs/benchmarks.md).

    python bench/shipping.py [--quick] [--json PATH] [--plot PATH] [--clients N]
                             [--seconds S] [--rows N] [--repeats R] [--nic-mbps M]
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

import aurora_lite  # noqa: E402
from aurora_lite.volume._connections import Pacer  # noqa: E402

SCHEMA = ("CREATE TABLE sbtest (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, c TEXT NOT NULL, "
          "pad TEXT NOT NULL)")
INDEX = "CREATE INDEX k_1 ON sbtest (k)"
INSERT = "INSERT INTO sbtest (id, k, c, pad) VALUES (?, ?, ?, ?)"
INDEX_UPDATE = "UPDATE sbtest SET k = k + 1 WHERE id = ?"
NON_INDEX_UPDATE = "UPDATE sbtest SET c = ? WHERE id = ?"
DELETE = "DELETE FROM sbtest WHERE id = ?"

MODES = (("redo", "cluster", "redo shipping (Aurora)"),
         ("page", "pageship", "page shipping (mirrored)"))


def _c(rng: random.Random) -> str:
    # SysBench's c: 120 characters, groups of 11 digits joined by dashes.
    return "-".join(f"{rng.randrange(10 ** 11):011d}" for _ in range(10))[:119]


def _pad(rng: random.Random) -> str:
    return "-".join(f"{rng.randrange(10 ** 11):011d}" for _ in range(5))[:59]


class Mode:
    """One storage mode: its directory, its database (shared by every connection to DIR)."""

    def __init__(self, key: str, storage: str, label: str, directory: str, rows: int,
                 seed: int) -> None:
        self.key, self.storage, self.label = key, storage, label
        self.directory = os.path.join(directory, key)
        self.rows = rows
        self.keeper = aurora_lite.connect(self.directory, storage=storage, autocommit=True)
        rng = random.Random(seed)
        self.keeper.execute(SCHEMA)
        self.keeper.execute(INDEX)
        cursor = self.keeper.cursor()
        self.keeper.autocommit = False
        for start in range(1, rows + 1, 500):
            cursor.executemany(INSERT, [(i, rng.randrange(1, rows + 1), _c(rng), _pad(rng))
                                        for i in range(start, min(rows, start + 499) + 1)])
            self.keeper.commit()
        self.keeper.autocommit = True

    def connect(self):
        return aurora_lite.connect(self.directory, storage=self.storage)

    def links(self) -> list:
        volume = self.keeper._database.volume
        engine = getattr(volume, "_engine", None)
        return list((engine.links if engine is not None else volume._links).values())

    def model_nic(self, mbps: float) -> None:
        """Every link of this writer sends through one interface of ``mbps`` Mbit/s."""
        pacer = Pacer(mbps * 1e6 / 8)
        for link in self.links():
            link.pacer = pacer

    def volume_statistics(self) -> dict:
        return self.keeper.statistics()["volume"]

    def snapshot(self) -> dict:
        """Counters that runs are measured by (differences of two snapshots)."""
        stats = self.volume_statistics()
        nodes = stats.get("nodes", {})
        own = resource.getrusage(resource.RUSAGE_SELF)
        pids = [node.get("pid") for node in nodes.values() if node.get("pid")]
        return dict(
            bytes_sent=sum(node.get("bytes_sent", 0) for node in nodes.values()),
            messages_sent=sum(node.get("messages_sent", 0) for node in nodes.values()),
            messages_received=sum(node.get("messages_received", 0) for node in nodes.values()),
            fsyncs=sum(node.get("fsyncs", 0) for node in nodes.values()),
            page_bytes=stats.get("page_bytes_shipped", 0),
            redo_bytes=stats.get("redo_bytes_shipped", 0),
            group_commits=stats.get("group_commits", 0),
            build_seconds=stats.get("build_seconds", 0.0),
            writer_cpu=own.ru_utime + own.ru_stime,
            nodes_cpu=sum(_process_cpu(pid) for pid in pids),
            nodes_seen=len(pids))

    def close(self) -> None:
        self.keeper.close()


_process_cpu = _harness.process_cpu_seconds


def run_workload(mode: Mode, clients: int, seconds: float, seed: int) -> dict:
    """``clients`` threads running write-only transactions for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    txn_times: list[list[float]] = [[] for _ in range(clients)]
    failures: list[int] = [0] * clients
    errors: list[BaseException] = []
    start_line = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        connection = mode.connect()
        cursor = connection.cursor()
        rows = mode.rows
        try:
            start_line.wait(60)
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                try:
                    cursor.execute(INDEX_UPDATE, (rng.randrange(1, rows + 1),))
                    cursor.execute(NON_INDEX_UPDATE, (_c(rng), rng.randrange(1, rows + 1)))
                    victim = rng.randrange(1, rows + 1)
                    cursor.execute(DELETE, (victim,))
                    cursor.execute(INSERT, (victim, rng.randrange(1, rows + 1), _c(rng),
                                            _pad(rng)))
                    committing = time.perf_counter()
                    connection.commit()
                except aurora_lite.OperationalError:
                    # A lock wait that timed out, a serialization failure: SysBench retries.
                    failures[index] += 1
                    connection.rollback()
                    if failures[index] > 100:
                        raise
                    continue
                done = time.perf_counter()
                latencies[index].append(done - committing)
                txn_times[index].append(done - began)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,), name=f"client-{i}")
               for i in range(clients)]
    for thread in threads:
        thread.start()
    before = mode.snapshot()
    stop_at[0] = time.perf_counter() + seconds + 0.02
    start_line.wait(60)
    started = time.perf_counter()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - started
    after = mode.snapshot()
    if errors:
        raise RuntimeError(f"{mode.label}: {len(errors)} clients failed: {errors[0]!r}")
    commit_latencies = [value for mine in latencies for value in mine]
    return dict(commits=len(commit_latencies), elapsed=elapsed, failures=sum(failures),
                latencies=commit_latencies,
                txn_times=[value for mine in txn_times for value in mine],
                delta={key: after[key] - before[key] for key in before if key != "nodes_seen"},
                nodes_seen=min(before["nodes_seen"], after["nodes_seen"]))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def summarize(runs: list[dict]) -> dict:
    commits = sum(run["commits"] for run in runs)
    rates = [run["commits"] / run["elapsed"] for run in runs]
    latencies = [value for run in runs for value in run["latencies"]]
    txn_times = [value for run in runs for value in run["txn_times"]]
    total = {key: sum(run["delta"][key] for run in runs) for key in runs[0]["delta"]}
    per = max(commits, 1)
    return dict(
        transactions=commits,
        seconds=sum(run["elapsed"] for run in runs),
        tps=statistics.median(rates),
        tps_runs=rates,
        failures=sum(run["failures"] for run in runs),
        bytes_per_txn=total["bytes_sent"] / per,
        page_bytes_per_txn=total["page_bytes"] / per,
        log_bytes_per_txn=total["redo_bytes"] / per,
        messages_per_txn=total["messages_sent"] / per,
        messages_both_ways_per_txn=(total["messages_sent"] + total["messages_received"]) / per,
        fsyncs_per_txn=total["fsyncs"] / per,
        txns_per_group_commit=commits / max(total["group_commits"], 1),
        commit_p50_ms=percentile(latencies, 0.5) * 1000,
        commit_p99_ms=percentile(latencies, 0.99) * 1000,
        txn_p50_ms=percentile(txn_times, 0.5) * 1000,
        writer_cpu_ms_per_txn=total["writer_cpu"] / per * 1000,
        nodes_cpu_ms_per_txn=total["nodes_cpu"] / per * 1000,
        page_build_cpu_ms_per_txn=total["build_seconds"] / per * 1000,
    )


def ratios(redo: dict, page: dict) -> dict:
    def ratio(a: float, b: float) -> float:
        return a / b if b else float("inf")
    return dict(
        tps=ratio(redo["tps"], page["tps"]),
        bytes_per_txn=ratio(page["bytes_per_txn"], redo["bytes_per_txn"]),
        messages_per_txn=ratio(page["messages_per_txn"], redo["messages_per_txn"]),
        fsyncs_per_txn=ratio(page["fsyncs_per_txn"], redo["fsyncs_per_txn"]),
        commit_p50=ratio(page["commit_p50_ms"], redo["commit_p50_ms"]),
        commit_p99=ratio(page["commit_p99_ms"], redo["commit_p99_ms"]),
    )


def print_table(results: dict, ratio: dict, clients: int, seconds: float,
                nic_mbps: float | None) -> None:
    """Rows as in the Aurora paper's Table 1 (configuration, transactions, I/Os per
    transaction), with the rest of what was measured; the last row is the improvement."""
    network = f"{nic_mbps:g} Mbit/s writer interface" if nic_mbps else "loopback"
    print(f"\nSysBench-like write-only OLTP, {clients} clients, "
          f"{results['redo']['seconds']:.0f} s per mode, {network} (Aurora paper, Table 1 "
          f"style)")
    header = (f"{'Configuration':<27} {'Transactions':>12} {'txn/s':>8} {'KB/txn':>9} "
              f"{'msgs/txn':>9} {'fsyncs/txn':>11} {'commit p50':>11} {'p99 ms':>8}")
    print(header)
    print("-" * len(header))
    for key, _storage, label in reversed(MODES):
        row = results[key]
        print(f"{label:<27} {row['transactions']:>12,} {row['tps']:>8.1f} "
              f"{row['bytes_per_txn'] / 1024:>9.2f} {row['messages_per_txn']:>9.2f} "
              f"{row['fsyncs_per_txn']:>11.2f} {row['commit_p50_ms']:>11.2f} "
              f"{row['commit_p99_ms']:>8.2f}")
    print(f"{'improvement (redo vs page)':<27} "
          f"{results['redo']['transactions'] / max(results['page']['transactions'], 1):>11.1f}x"
          f" {ratio['tps']:>7.1f}x {ratio['bytes_per_txn']:>8.1f}x "
          f"{ratio['messages_per_txn']:>8.1f}x {ratio['fsyncs_per_txn']:>10.1f}x "
          f"{ratio['commit_p50']:>10.1f}x {ratio['commit_p99']:>7.1f}x")
    print("(improvement: redo's transactions and txn/s over page's; page's bytes, messages, "
          "fsyncs and latencies over redo's)")
    for key, _storage, label in MODES:
        row = results[key]
        print(f"{label}: writer CPU {row['writer_cpu_ms_per_txn']:.2f} ms/txn "
              f"(page images built: {row['page_build_cpu_ms_per_txn']:.2f}), six nodes "
              f"{row['nodes_cpu_ms_per_txn']:.2f} ms/txn; {row['txns_per_group_commit']:.1f} "
              f"txn per group commit; page images {row['page_bytes_per_txn'] / 1024:.1f} "
              f"KB/txn, log {row['log_bytes_per_txn'] / 1024:.2f} KB/txn")
    print(f"targets: >= 7.7x fewer bytes per transaction (aim 20x): "
          f"{ratio['bytes_per_txn']:.1f}x; >= 3x transactions/s: {ratio['tps']:.1f}x")


def plot(path: str, results: dict, ratio: dict, clients: int) -> None:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'aurora-lite[plot]' "
                         "(or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    metrics = (("tps", "transactions/s"), ("bytes_per_txn", "KB sent per txn"),
               ("messages_per_txn", "messages per txn"), ("fsyncs_per_txn", "fsyncs per txn"),
               ("commit_p50_ms", "commit p50 (ms)"), ("commit_p99_ms", "commit p99 (ms)"))
    figure, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics), 3.4))
    for axis, (key, title) in zip(axes, metrics):
        values = [results[mode][key] / (1024 if key == "bytes_per_txn" else 1)
                  for mode, _s, _l in MODES]
        axis.bar(["redo", "page"], values, color=["#2b6cb0", "#c05621"])
        axis.set_title(title, fontsize=9)
        axis.tick_params(labelsize=8)
    figure.suptitle(f"Page vs redo shipping, write-only OLTP, {clients} clients: "
                    f"{ratio['bytes_per_txn']:.1f}x fewer bytes/txn, {ratio['tps']:.1f}x txn/s",
                    fontsize=10)
    figure.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=3)
    parser.add_argument("--clients", type=int, default=None,
                        help="concurrent client threads (default 16, quick: 8)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per run of one mode (default 20, quick: 3)")
    parser.add_argument("--rows", type=int, default=None,
                        help="rows in sbtest (default 20000, quick: 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", metavar="PATH", help="also draw the figures as a PNG")
    parser.add_argument("--nic-mbps", type=float, default=None, metavar="M",
                        help="model the writer's network interface at M Mbit/s, shared by "
                             "its six links, in both modes (default: loopback, unpaced)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument("--dir", metavar="DIR", default=None,
                        help="work in DIR (its redo/ and page/ clusters; default: a temporary "
                             "directory, removed afterwards unless --keep)")
    args = parser.parse_args()
    repeats = _harness.repeats_of(args, 3)
    if args.quick and args.repeats is None:
        repeats = 2
    clients = args.clients or (8 if args.quick else 16)
    seconds = args.seconds or (3.0 if args.quick else 20.0)
    rows = args.rows or (2000 if args.quick else 20000)
    if args.plot:
        try:
            import matplotlib  # noqa: F401 - fail before measuring, not after
        except ImportError:
            parser.error("--plot needs matplotlib: pip install 'aurora-lite[plot]'")
    print(f"seed {args.seed}: {rows} rows, {clients} clients, {repeats} x {seconds:g} s per "
          f"mode, alternating; network: "
          f"{f'{args.nic_mbps:g} Mbit/s writer interface' if args.nic_mbps else 'loopback'}")
    directory = args.dir or tempfile.mkdtemp(prefix="bench-shipping-")
    os.makedirs(directory, exist_ok=True)
    print(f"clusters in {directory}/redo and {directory}/page")
    modes: dict[str, Mode] = {}
    runs: dict[str, list[dict]] = {key: [] for key, _s, _l in MODES}
    began = time.perf_counter()
    try:
        for key, storage, label in MODES:
            started = time.perf_counter()
            modes[key] = Mode(key, storage, label, directory, rows, args.seed)
            print(f"{label}: cluster up and {rows} rows loaded in "
                  f"{time.perf_counter() - started:.1f} s")
            if args.nic_mbps:
                modes[key].model_nic(args.nic_mbps)
        for key, _s, _l in MODES:                   # warm up: plans, pool, links
            run_workload(modes[key], clients, min(1.0, seconds), args.seed + 7)
        for repeat in range(repeats):
            for key, _s, label in (MODES if repeat % 2 == 0 else tuple(reversed(MODES))):
                run = run_workload(modes[key], clients, seconds, args.seed + repeat)
                runs[key].append(run)
                print(f"  {label}: {run['commits'] / run['elapsed']:,.1f} txn/s")
        for key, mode in modes.items():
            if runs[key][-1]["nodes_seen"] < 6:
                print(f"warning: {mode.label}: only {runs[key][-1]['nodes_seen']} nodes "
                      f"answered STATUS: fsyncs and node CPU are undercounted")
    finally:
        for mode in modes.values():
            try:
                mode.close()
            except Exception as exc:  # noqa: BLE001 - the others still close
                print(f"closing {mode.label}: {exc}")
        if not args.keep and not args.dir:
            shutil.rmtree(directory, ignore_errors=True)
    results = {key: summarize(runs[key]) for key in runs}
    ratio = ratios(results["redo"], results["page"])
    print_table(results, ratio, clients, seconds, args.nic_mbps)
    print(f"\ntotal time {time.perf_counter() - began:.1f} s")
    if args.plot:
        plot(args.plot, results, ratio, clients)
    if args.json:
        import json
        document = {
            "benchmark": "shipping",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": _harness.machine(),
            "parameters": dict(quick=args.quick, clients=clients, seconds=seconds, rows=rows,
                               repeats=repeats, seed=args.seed, write_quorum=4, nodes=6,
                               nic_mbps=args.nic_mbps),
            "results": results,
            "ratios": ratio,
        }
        directory = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(directory, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
