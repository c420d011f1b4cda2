"""The wire server against PostgreSQL 15, both through psycopg 3 on loopback, in the same run.

Workloads, each with 1 and 16 clients (threads, one psycopg connection each):

* point selects by primary key (``SELECT v FROM kv WHERE id = %s``, random ids);
* single-row autocommit inserts (``INSERT INTO ins VALUES (%s, %s)``, durable commits).

``aurora-lite serve`` runs as a child process (trust auth, fsync on); PostgreSQL is a fresh
cluster made with initdb in a temporary directory and started with pg_ctl on 127.0.0.1 (as the
``postgres`` or ``nobody`` user when this runs as root, since PostgreSQL refuses root). Reported:
medians over repeats, operations per second, and aurora_lite / PostgreSQL ratios (target for
point selects: at least 0.25). Repeats alternate between the two servers, so that load from
others on a shared machine falls on both.

    python bench/wire.py [--quick] [--json PATH] [--repeats N] [--no-postgres]
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the two servers ---------------------------------------------------------------------------
class AuroraServer:
    name = "aurora_lite"
    next_key = 0

    def __init__(self, directory: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aurora_lite", "serve", directory, "--listen",
             "127.0.0.1:0", "--auth", "trust", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        # The server prints its addresses ("replication on ...", then "listening on ...").
        line = self.process.stdout.readline()
        while line and not line.startswith("listening on "):
            line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"aurora-lite serve did not start: {self.process.stderr.read()}")
        self.port = int(line.rsplit(":", 1)[1])
        self.dsn = f"host=127.0.0.1 port={self.port} user=bench dbname=bench"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(30)


class PostgresServer:
    name = "postgresql"
    next_key = 0

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.data = os.path.join(directory, "data")
        self.port = free_port()
        self.prefix: list[str] = []
        self.user = pwd.getpwuid(os.getuid()).pw_name
        if os.getuid() == 0:
            for candidate in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(candidate)
                except KeyError:
                    continue
                os.chown(directory, entry.pw_uid, entry.pw_gid)
                self.prefix = ["runuser", "-u", candidate, "--"]
                self.user = candidate
                break
            else:
                raise RuntimeError("running as root and there is neither a 'postgres' nor a "
                                   "'nobody' user to run PostgreSQL as")
        self._run([f"{PG_BIN}/initdb", "-D", self.data, "--auth=trust", "-U", "bench",
                   "--no-sync", "-E", "UTF8", "--locale=C"])
        options = (f"-p {self.port} -k {directory} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=50 -c shared_buffers=64MB")
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", options, "-l",
                   os.path.join(directory, "log"), "-w", "-t", "60", "start"])
        self.dsn = f"host=127.0.0.1 port={self.port} user=bench dbname=postgres"

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(self.prefix + command, capture_output=True, text=True,
                                timeout=120)
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")

    def stop(self) -> None:
        subprocess.run(self.prefix + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w",
                                      "-t", "60", "stop"], capture_output=True, timeout=90)


# -- workloads ---------------------------------------------------------------------------------
def prepare_tables(dsn: str, rows: int) -> None:
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS kv")
        conn.execute("DROP TABLE IF EXISTS ins")
        conn.execute("CREATE TABLE kv (id integer PRIMARY KEY, v text)")
        conn.execute("CREATE TABLE ins (id integer PRIMARY KEY, v text)")
        for start in range(0, rows, 500):
            values = ", ".join(f"({i}, 'value-{i:08d}')"
                               for i in range(start, min(start + 500, rows)))
            conn.execute(f"INSERT INTO kv VALUES {values}")


def run_clients(dsn: str, clients: int, operations: int, work) -> float:
    """Wall seconds for ``clients`` threads doing ``operations`` calls of work(conn, i, n)
    each, after every client has connected."""
    import psycopg
    connections = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    failures: list[BaseException] = []

    def client(index: int) -> None:
        conn = connections[index]
        try:
            barrier.wait(60)
            for n in range(operations):
                work(conn, index, n)
        except BaseException as error:  # noqa: BLE001 - reported after the run
            failures.append(error)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(60)
    start = time.perf_counter()
    for thread in threads:
        thread.join(600)
    elapsed = time.perf_counter() - start
    for conn in connections:
        conn.close()
    if failures:
        raise failures[0]
    return elapsed


def point_select_run(server, rows: int, clients: int, operations: int, seed: int) -> float:
    generators = [random.Random(seed + i) for i in range(clients)]

    def work(conn, index, n):
        key = generators[index].randrange(rows)
        value = conn.execute("SELECT v FROM kv WHERE id = %s", (key,)).fetchone()
        assert value == (f"value-{key:08d}",), value

    return run_clients(server.dsn, clients, operations, work)


def insert_run(server, clients: int, operations: int) -> float:
    base = server.next_key
    server.next_key += clients * operations

    def work(conn, index, n):
        conn.execute("INSERT INTO ins VALUES (%s, %s)", (base + index * operations + n, "x"))

    return run_clients(server.dsn, clients, operations, work)


def measure(servers, workload: str, clients: int, operations: int, repeats: int,
            run) -> list[_harness.Row]:
    """Repeats interleaved across the servers (A B A B ...), so that a noisy neighbour on a
    shared machine weighs on both alike; the median of each server's times."""
    times: dict[str, list[float]] = {server.name: [] for server in servers}
    for repeat in range(repeats):
        for server in (servers if repeat % 2 == 0 else servers[::-1]):
            times[server.name].append(run(server, repeat))
    return [_harness.Row(f"{name} {workload} x{clients}", statistics.median(values),
                         clients * operations, times=values)
            for name, values in times.items()]


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=5)
    parser.add_argument("--no-postgres", action="store_true",
                        help="measure aurora_lite only (no ratios)")
    args = parser.parse_args()
    repeats = _harness.repeats_of(args, 5)
    seed = random.randrange(1 << 32)
    table_rows = 2000 if args.quick else 20000
    selects = {1: 300 if args.quick else 3000, 16: 40 if args.quick else 400}
    writes = {1: 60 if args.quick else 500, 16: 10 if args.quick else 60}
    print(f"wire benchmark: {table_rows} rows, seed {seed}, {repeats} repeats, "
          f"{os.cpu_count()} CPUs")

    workdir = tempfile.mkdtemp(prefix="bench-wire-")
    os.chmod(workdir, 0o755)  # PostgreSQL's user must reach its directory inside
    servers = []
    notes = []
    try:
        servers.append(AuroraServer(os.path.join(workdir, "aurora")))
        if not args.no_postgres:
            try:
                postgres_dir = os.path.join(workdir, "pg")
                os.makedirs(postgres_dir)
                servers.append(PostgresServer(postgres_dir))
                if servers[-1].user != pwd.getpwuid(os.getuid()).pw_name:
                    notes.append(f"PostgreSQL ran as user '{servers[-1].user}' (this process "
                                 "is root, which PostgreSQL refuses)")
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
                notes.append(f"PostgreSQL could not be started, no ratios: {error}")
        rows: list[_harness.Row] = []
        for server in servers:
            prepare_tables(server.dsn, table_rows)
            # Warm-up: plans cached, pages in the pool.
            run_clients(server.dsn, 1, 200, lambda conn, i, n: conn.execute(
                "SELECT v FROM kv WHERE id = %s", (n % table_rows,)).fetchone())
        for clients in (1, 16):
            rows += measure(servers, "select", clients, selects[clients], repeats,
                            lambda server, repeat: point_select_run(
                                server, table_rows, clients, selects[clients],
                                seed + 1000 * repeat))
        for clients in (1, 16):
            rows += measure(servers, "insert", clients, writes[clients], repeats,
                            lambda server, repeat: insert_run(server, clients,
                                                              writes[clients]))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    by_name = {row.name: row for row in rows}
    print()
    header = (f"{'workload':<14} {'clients':>7} {'aurora_lite op/s':>17} {'PostgreSQL op/s':>16}"
              f" {'ratio':>7} {'aurora med ms':>14}")
    print(header)
    print("-" * len(header))
    for workload in ("select", "insert"):
        for clients in (1, 16):
            aurora = by_name[f"aurora_lite {workload} x{clients}"]
            peer = by_name.get(f"postgresql {workload} x{clients}")
            ratio = aurora.per_second / peer.per_second if peer else None
            aurora.extra["ratio_vs_postgresql"] = ratio
            latency = aurora.seconds / (aurora.units / clients) * 1000
            aurora.extra["mean_latency_ms"] = latency
            print(f"{workload:<14} {clients:>7} {aurora.per_second:>17,.0f} "
                  f"{(f'{peer.per_second:,.0f}' if peer else '-'):>16} "
                  f"{(f'{ratio:.2f}' if ratio is not None else '-'):>7} {latency:>14.2f}")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        baseline = "postgresql select x1" if "postgresql select x1" in by_name else \
            "aurora_lite select x1"
        _harness.write_json(args.json, "wire", rows, baseline,
                            {"table_rows": table_rows, "selects": selects, "inserts": writes,
                             "repeats": repeats, "seed": seed, "notes": notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
