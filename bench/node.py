"""One storage node's write path: CPU per WRITE_BATCH against a minimal trio server (the floor).

A client on blocking sockets drives node 1 of a six-node cluster (the other five idle) with
WRITE_BATCHes of a small autocommit transaction (an INIT_PAGE and an INSERT_CELL record, about
the size a single-row INSERT ships), either one outstanding at a time or 16 pipelined (sent
together, then the 16 acknowledgements read: what 16 committing threads look like to a node).
Measured from /proc: the node process's CPU time per batch (user + system, every thread:
receive, CRC check, append, fsync, acknowledgement), and the round trip.

The peer, in the same run and on the same disk: a minimal trio server (its own process) that
reads a frame's worth of bytes, appends them to a file, fsyncs and answers 16 bytes, written
the cheapest way trio allows (``wait_readable`` + non-blocking ``os.read``/``os.write``, the
fsync on the event loop, one fsync for everything read at once). It checks nothing, indexes
nothing and knows no epochs: the ratio says how much the node's bookkeeping costs over the
bare I/O on this machine.

    python bench/node.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness  # noqa: E402

from aurora_lite.cluster import ensure_cluster  # noqa: E402
from aurora_lite.membership import load_secret  # noqa: E402
from aurora_lite.page._layout import PAGE_SIZE, PageType  # noqa: E402
from aurora_lite.redo._mtr import MiniTransaction  # noqa: E402
from aurora_lite.segment._client import BlockingNodeClient  # noqa: E402
from aurora_lite.wire import Role, Section, WriteBatch, encode_frame  # noqa: E402

_MINIMAL_SERVER = r'''
import os, sys, trio
path, port_file = sys.argv[1], sys.argv[2]

async def handle(stream):
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    fd = stream.socket.fileno()
    partial = 0
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(fd)
            continue
        if not data:
            return
        os.write(log, data)
        os.fsync(log)
        # One 16-byte answer per whole 256-byte request read so far.
        whole, partial = divmod(partial + len(data), 256)
        if whole:
            os.write(fd, b"a" * 16 * whole)

async def main():
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    with open(port_file, "w") as out:
        out.write(str(listeners[0].socket.getsockname()[1]))
    await trio.serve_listeners(handle, listeners)

trio.run(main)
'''


class NodeTarget:
    name = "segment node"

    def __init__(self, directory: str) -> None:
        self.cluster = ensure_cluster(os.path.join(directory, "cluster"), timeout=180)
        node = self.cluster.config.nodes[0]
        self.pid = self.cluster.processes[node.node_id].pid
        secret = load_secret(os.path.join(self.cluster.directory, "cluster.json"))
        self.client = BlockingNodeClient(f"{node.host}:{node.port}", secret, role=Role.WRITER)
        self.allocator = _harness.SequentialAllocator()
        self.page = bytearray(PAGE_SIZE)
        for _ in range(50):                   # creates the segment (its own fsyncs)
            self.client.request(self.batch())

    def batch(self) -> WriteBatch:
        mtr = MiniTransaction(self.allocator)
        start = self.allocator.lsn
        mtr.init_page(self.page, 1, PageType.LEAF)
        mtr.insert_cell(self.page, 1, 0, b"x" * 60)
        return WriteBatch(1, (Section(0, start, self.allocator.lsn, bytes(mtr.finish())),))

    def prepare(self, count: int) -> list[bytes]:
        frames = []
        for _ in range(count):
            self.client._next_id += 1
            batch = self.batch()
            frames.append(encode_frame(batch.TYPE, batch.encode(), self.client._next_id))
        return frames

    def round(self, frames: list[bytes]) -> None:
        self.client._socket.sendall(b"".join(frames))
        for _ in frames:
            self.client._next_frame()

    def close(self) -> None:
        self.client.close()
        self.cluster.stop()
        self.cluster.close()


class MinimalTarget:
    name = "minimal trio server"

    def __init__(self, directory: str) -> None:
        port_file = os.path.join(directory, "port")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MINIMAL_SERVER, os.path.join(directory, "log"), port_file])
        deadline = time.monotonic() + 60
        while not os.path.exists(port_file) or not open(port_file).read():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("the minimal server did not start")
            time.sleep(0.05)
        self.pid = self.process.pid
        self.socket = socket.create_connection(("127.0.0.1", int(open(port_file).read())))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def prepare(self, count: int) -> list[bytes]:
        return [b"r" * 256] * count

    def round(self, frames: list[bytes]) -> None:
        self.socket.sendall(b"".join(frames))
        expected, got = 16 * len(frames), 0
        while got < expected:
            data = self.socket.recv(65536)
            if not data:
                raise RuntimeError("the minimal server closed the connection")
            got += len(data)

    def close(self) -> None:
        try:
            self.socket.close()
        except AttributeError:
            pass
        self.process.kill()
        self.process.wait(30)


def measure(target, batches: int, pipelined: int) -> tuple[float, float, float]:
    """(seconds, node CPU seconds, median round trip) for ``batches`` batches."""
    rounds = [target.prepare(pipelined) for _ in range(batches // pipelined)]
    trips = []
    cpu_before, start = _harness.process_cpu_seconds(target.pid), time.perf_counter()
    for frames in rounds:
        began = time.perf_counter()
        target.round(frames)
        trips.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    return elapsed, _harness.process_cpu_seconds(target.pid) - cpu_before, statistics.median(trips)


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=5)
    args = parser.parse_args()
    repeats = _harness.repeats_of(args)
    batches = 600 if args.quick else 3000
    workdir = tempfile.mkdtemp(prefix="bench-node-")
    targets = []
    rows: list[_harness.Row] = []
    try:
        targets = [NodeTarget(os.path.join(workdir, "node")),
                   MinimalTarget(workdir)]
        for pipelined in (1, 16):
            results: dict[str, list[tuple[float, float, float]]] = {t.name: [] for t in targets}
            for repeat in range(repeats):
                for target in (targets if repeat % 2 == 0 else targets[::-1]):
                    results[target.name].append(measure(target, batches, pipelined))
            for target in targets:
                runs = results[target.name]
                row = _harness.Row(f"{target.name} x{pipelined}",
                                   statistics.median(r[0] for r in runs), batches,
                                   times=[r[0] for r in runs])
                row.cpu_seconds = statistics.median(r[1] for r in runs)
                row.cpu_times = [r[1] for r in runs]
                row.extra["round_trip_ms"] = 1000 * statistics.median(r[2] for r in runs)
                row.extra["cpu_us_per_batch"] = 1e6 * row.cpu_seconds / batches
                rows.append(row)
    finally:
        for target in targets:
            target.close()
    print(f"\nWRITE_BATCH on one storage node, {batches} batches x {repeats} repeats, fsync on")
    header = (f"{'contender':<26} {'batches/s':>10} {'CPU us/batch':>13} {'round trip ms':>14}"
              f" {'CPU x minimal':>14}")
    print(header)
    print("-" * len(header))
    by_name = {row.name: row for row in rows}
    for row in rows:
        floor = by_name[f"minimal trio server x{row.name.rsplit('x', 1)[1]}"]
        ratio = row.extra["cpu_us_per_batch"] / max(floor.extra["cpu_us_per_batch"], 1e-9)
        row.extra["cpu_ratio_to_minimal"] = ratio
        print(f"{row.name:<26} {row.per_second:>10,.0f} {row.extra['cpu_us_per_batch']:>13,.0f}"
              f" {row.extra['round_trip_ms']:>14.2f} {ratio:>14.2f}")
    if args.json:
        _harness.write_json(args.json, "node", rows, "minimal trio server x1",
                            {"batches": batches, "repeats": repeats, "quick": args.quick})
    return 0


if __name__ == "__main__":
    sys.exit(main())
