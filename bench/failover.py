"""Failover: from the writer's death (kill -9) to the first write the new writer accepts.

Each repeat starts a six-node cluster (fsync on unless ``--no-fsync``), a writer process
(``aurora-lite serve``, with its replication endpoint), a replica process
(``aurora-lite replica``) and a client that commits single-row INSERTs through the PostgreSQL
wire protocol as fast as it can, noting every acknowledged id. Then the writer is killed with
SIGKILL and, at once, ``aurora-lite failover DIR`` runs (a new process, as an operator would
run it):

* **promote**: ``--replica`` names the replica; its process runs writer recovery (fence,
  quorum read, truncate, the epoch's VOID) and serves writes on its own SQL address;
* **new process** (the peer, same run): no replica named; ``failover`` starts a new
  ``aurora-lite serve`` with the command the old writer recorded in DIR/writer.json.

The client retries (connect + INSERT every 10 ms) against the new writer's address from the
moment of the kill; the time of its first accepted INSERT ends the measurement. Failure
detection is not included (the failover command is run immediately); the start of the
``aurora-lite failover`` process (Python and its imports) is. Every acknowledged commit must be
present afterwards. Target: at most 5 s, for every run of both modes. ``--quick``: one repeat
of each mode (default 3).

    python bench/failover.py [--quick] [--json PATH] [--repeats N] [--no-fsync]
"""

from __future__ import annotations

import datetime
import json
import os
import queue
import shutil
import signal
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
from aurora_lite.errors import Error  # noqa: E402
from aurora_lite.replica import alive, read_writer  # noqa: E402

TARGET_S = 5.0


class Child:
    """An ``aurora-lite`` process; its stdout is read line by line, its stderr goes to
    ``log`` (quoted when it does not say what we wait for)."""

    def __init__(self, *args: str, log: str) -> None:
        self.log = log
        with open(log, "ab") as errors:
            self.process = subprocess.Popen([sys.executable, "-m", "aurora_lite", *args],
                                            stdout=subprocess.PIPE, stderr=errors,
                                            stdin=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in
                                         self.process.stdout], daemon=True).start()

    def wait_for(self, prefix: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line.split()[-1]
        try:
            with open(self.log, encoding="utf-8", errors="replace") as errors:
                tail = "".join(errors.readlines()[-10:])
        except OSError:
            tail = ""
        raise RuntimeError(f"no '{prefix}' from {self.process.args} within {timeout:g} s "
                           f"(exit status {self.process.poll()}); stderr ends with:\n{tail}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; bounded."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def connect(address: str):
    return aurora_lite.connect(f"postgresql://bench@{address}/db", autocommit=True)


def client(address: str, acknowledged: list[int], stop: threading.Event) -> None:
    connection = connect(address)
    number = 0
    try:
        while not stop.is_set():
            number += 1
            connection.execute("INSERT INTO acks VALUES (?)", (number,))
            acknowledged.append(number)
    except Error:
        pass


def first_write(address_of, deadline: float) -> float:
    """Retry connect + INSERT against the new writer until one is accepted; its time."""
    while time.monotonic() < deadline:
        address = address_of()
        if address:
            try:
                connection = connect(address)
                try:
                    connection.execute("INSERT INTO acks VALUES (0)")
                    return time.monotonic()
                finally:
                    connection.close()
            except Error:
                pass
        time.sleep(0.01)
    raise RuntimeError("the new writer accepted no write in time")


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM ``pid`` (a process this benchmark had started), SIGKILL after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)


def one_failover(mode: str, fsync: bool) -> dict:
    directory = tempfile.mkdtemp(prefix=f"bench-failover-{mode.replace(' ', '-')}-")
    logs = os.path.join(directory, "bench-logs")
    os.makedirs(logs)
    node_args = () if fsync else ("--no-fsync",)
    handle = ensure_cluster(directory, node_args=node_args, timeout=180)
    children: list[Child] = []
    failover = None
    old_epoch = None
    try:
        serve_args = ["serve", directory, "--listen", "127.0.0.1:0", "--auth", "trust",
                      "--quiet"] + ([] if fsync else ["--no-fsync"])
        writer = Child(*serve_args, log=os.path.join(logs, "writer.err"))
        children.append(writer)
        writer.wait_for("replication on ")
        writer_sql = writer.wait_for("listening on ")
        replica = Child("replica", "--config", os.path.join(directory, "cluster.json"),
                        "--listen", "127.0.0.1:0", "--auth", "trust", "--quiet",
                        log=os.path.join(logs, "replica.err"))
        children.append(replica)
        replica_sql = replica.wait_for("listening on ")
        setup = connect(writer_sql)
        setup.execute("CREATE TABLE acks (id INTEGER PRIMARY KEY)")
        setup.close()
        acknowledged: list[int] = []
        stop = threading.Event()
        thread = threading.Thread(target=client, args=(writer_sql, acknowledged, stop),
                                  daemon=True)
        thread.start()
        time.sleep(1.0)
        old_epoch = read_writer(directory)["epoch"]
        load = os.getloadavg()[0]
        writer.process.kill()                                   # kill -9
        died = time.monotonic()
        command = [sys.executable, "-m", "aurora_lite", "failover", directory, "--json"]
        if mode == "promote":
            command += ["--replica", replica_sql]
        failover = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True)

        def new_address() -> str | None:
            if mode == "promote":
                return replica_sql
            record = read_writer(directory)
            if record and (record.get("epoch") or 0) > old_epoch:
                return record.get("sql")
            return None

        # The promoted replica serves reads before the failover: only a write proves it.
        accepted = first_write(new_address, died + 60)
        output, errors = failover.communicate(timeout=60)
        if failover.returncode != 0:
            raise RuntimeError(f"failover failed: {errors}")
        info = json.loads(output)
        stop.set()
        thread.join(10)
        check = connect(new_address())
        present = {row[0] for row in check.execute("SELECT id FROM acks").fetchall()}
        check.close()
        lost = len(set(acknowledged) - present)
        return {"mode": mode, "first_write_s": round(accepted - died, 3),
                "failover_command_s": info.get("elapsed_s"),
                "recovery_s": info.get("seconds"), "epoch": info.get("epoch"),
                "acknowledged": len(acknowledged), "lost": lost,
                "load_1m_at_kill": round(load, 2)}
    finally:
        if failover is not None and failover.poll() is None:
            failover.kill()
            failover.wait(30)
        for child in children:
            child.stop()
        # A writer started by 'failover' (new process mode) runs in its own session: stop it
        # by the pid it recorded, only if it is the one started after the kill.
        record = read_writer(directory) if old_epoch is not None else None
        if record and (record.get("epoch") or 0) > old_epoch and record.get("pid") and \
                record["pid"] not in (child.process.pid for child in children):
            stop_pid(record["pid"])
        handle.stop()
        handle.close()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=3)
    parser.add_argument("--no-fsync", action="store_true")
    args = parser.parse_args()
    repeats = 1 if args.quick and args.repeats is None else _harness.repeats_of(args)
    runs = []
    for repeat in range(repeats):
        for mode in ("promote", "new process"):
            result = one_failover(mode, not args.no_fsync)
            runs.append(result)
            print(f"repeat {repeat + 1}: {json.dumps(result)}", flush=True)
    summary = {}
    for mode in ("promote", "new process"):
        mine = [run for run in runs if run["mode"] == mode]
        summary[mode] = {
            "first_write_s_median": round(statistics.median(r["first_write_s"] for r in mine), 3),
            "first_write_s_max": max(r["first_write_s"] for r in mine),
            "failover_command_s_median": round(statistics.median(
                r["failover_command_s"] or 0 for r in mine), 3),
            "lost": sum(r["lost"] for r in mine),
            "met": max(r["first_write_s"] for r in mine) <= TARGET_S and
            not any(r["lost"] for r in mine)}
    promote, peer = summary["promote"], summary["new process"]
    print(f"\nfailover, kill -9 -> first accepted write ({repeats} repeats, medians / max)")
    for mode, figures in summary.items():
        print(f"  {mode:<12} {figures['first_write_s_median']:6.3f} s / "
              f"{figures['first_write_s_max']:.3f} s   (failover command "
              f"{figures['failover_command_s_median']:.3f} s)   lost acknowledged commits: "
              f"{figures['lost']}")
    print(f"  new process / promote: "
          f"{peer['first_write_s_median'] / promote['first_write_s_median']:.2f}x")
    met = promote["met"] and peer["met"]
    print(f"  target (every run <= {TARGET_S:g} s, nothing acknowledged lost): promote "
          f"{'met' if promote['met'] else 'NOT met'}, new process "
          f"{'met' if peer['met'] else 'NOT met'}")
    print(f"  load average (1, 5, 15 min) at the end: "
          f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    if args.json:
        document = {
            "benchmark": "failover",
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "machine": _harness.machine(),
            "parameters": {"repeats": repeats, "fsync": not args.no_fsync},
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "runs": runs, "summary": summary, "target_s": TARGET_S, "met": met,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
