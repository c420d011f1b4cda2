"""ClusterVolume against six real storage processes (aurora_lite.cluster): failures.

* kill -9 of one and then a second storage node during a concurrent insert workload: no commit
  fails and every acknowledged row is there, also after a writer recovery with both down;
* a third node down: commits fail with OperationalError after the (short) commit timeout and
  are never acknowledged, reads still answer, and writes resume when a node returns;
* kill -9 of the writer process mid-workload: the next writer finds every acknowledged commit
  and no partial transaction;
* a flipped bit in the middle of a node's hot log: the node cuts the damaged range out at
  restart and refetches it from its peers; the volume then needs that node for its write
  quorum, and every row reads back;
* a second writer fences the first: its next commit is refused and nothing it sends after the
  fence is acknowledged; every later call raises StaleEpochError;
* a node whose data directory is wiped (kill -9, rm -r, restart) while a SQL writer keeps
  committing rebuilds from its peers (page images, then the log above them: recovery.md R5)
  and catches up to their SCL; no commit fails meanwhile, and the rebuilt node then carries
  the write quorum with two others down.

One cluster serves the module; each test starts with every node running (nodes it killed are
restarted in ``finally``). Every wait is bounded; processes are stopped by PID.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from aurora_lite.cluster import ensure_cluster
from aurora_lite.dbapi import Connection
from aurora_lite.errors import OperationalError, StaleEpochError
from aurora_lite.txn import Database

from tests.volume._sqlload import (
    InsertWorkload, insert_many, open_database as _open_database, random_seed, rows,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_ARGS = ("--gossip-interval", "0.2", "--gap-wait", "0.2", "--log-level", "warning")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    handle = ensure_cluster(str(tmp_path_factory.mktemp("cluster")), node_args=NODE_ARGS,
                            stop_at_exit=True, timeout=120)
    try:
        yield handle
    finally:
        handle.stop()
        handle.close()


@pytest.fixture
def nodes(cluster):
    """Every node running at the start; the ones a test stopped are restarted after it."""
    _restart_stopped(cluster)
    yield cluster
    _restart_stopped(cluster)


def _restart_stopped(cluster) -> None:
    stopped = [p for p in cluster.processes.values() if not p.running]
    for process in stopped:
        process.start()
    for process in stopped:
        process.wait_ready(60)


@pytest.fixture
def seed():
    return random_seed()


def open_database(cluster, **options) -> Database:
    return _open_database(cluster.directory, **options)


def test_two_segment_kills_during_concurrent_inserts(nodes, seed):
    rng = random.Random(seed)
    victims = rng.sample(sorted(nodes.processes), 2)
    database = open_database(nodes)
    try:
        rows(database, "CREATE TABLE t2 (id INTEGER PRIMARY KEY, v INTEGER)")
        load = InsertWorkload(database, "t2", threads=4).start()
        try:
            load.wait_for(40)
            nodes.node_process(victims[0]).kill()
            load.wait_for(40)
            nodes.node_process(victims[1]).kill()
            load.wait_for(60)
        finally:
            load.stop()
        assert not load.errors, f"commits failed with nodes {victims} down: {load.errors[:3]}"
        found = {row[0] for row in rows(database, "SELECT id FROM t2")}
        assert load.acknowledged <= found
        stats = database.volume.statistics()
        print(f"{len(load.acknowledged)} commits with nodes {victims} killed; "
              f"quorum round trip p50 {stats.get('quorum_rtt_p50_ms')} ms")
    finally:
        database.close()
    # A new writer recovers with the same two nodes down (the VOID path: stragglers may
    # hold records the read quorum did not see) and still finds every acknowledged row.
    database = open_database(nodes)
    try:
        found = {row[0] for row in rows(database, "SELECT id FROM t2")}
        assert load.acknowledged <= found
        rows(database, "INSERT INTO t2 VALUES (-1, 0)")
    finally:
        database.close()


def test_third_failure_stalls_commits_reads_answer_writes_resume(nodes, seed):
    rng = random.Random(seed)
    victims = rng.sample(sorted(nodes.processes), 3)
    database = open_database(nodes, commit_timeout=1.0, pool_pages=64)
    try:
        connection = Connection(database, autocommit=True, owns_database=False)
        connection.execute("CREATE TABLE t3 (id INTEGER PRIMARY KEY, v INTEGER)")
        insert_many(connection, "INSERT INTO t3 VALUES (?, ?)", [(i, i) for i in range(500)])
        for victim in victims[:2]:
            nodes.node_process(victim).kill()
        connection.execute("INSERT INTO t3 VALUES (500, 500)")
        nodes.node_process(victims[2]).kill()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="durable"):
            connection.execute("INSERT INTO t3 VALUES (501, 501)")
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"the failing commit took {elapsed:.1f} s"
        # Reads still answer: from the three live segments (Q7), and through SQL.
        assert any(database.volume.get_page(0, database.read_point))
        assert rows(database, "SELECT count(*) FROM t3 WHERE id < 500") == [(500,)]
        assert database.read_point < database.volume.statistics()["frontier"]
        # A node returns: writes resume. The failed commit was never acknowledged; its
        # outcome was unknown and it becomes durable now along with the rest.
        nodes.node_process(victims[0]).start()
        nodes.node_process(victims[0]).wait_ready(60)
        volume = database.volume
        volume.wait_durable(volume.statistics()["frontier"], timeout=30)
        connection.execute("INSERT INTO t3 VALUES (502, 502)")
        found = {row[0] for row in rows(database, "SELECT id FROM t3")}
        assert set(range(503)) <= found
        connection.close()
    finally:
        database.close()


def test_writer_kill_9_keeps_acknowledged_commits_only(nodes, seed):
    rng = random.Random(seed)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.volume._writer_proc", nodes.directory], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged: set[int] = set()
    try:
        target = rng.randint(30, 120)
        deadline = time.monotonic() + 60
        ready = False
        while len(acknowledged) < target:
            assert time.monotonic() < deadline, "the writer process did not commit in time"
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"the writer process exited: {process.stderr.read()[-2000:]}")
            if line.startswith("READY"):
                ready = True
            elif line.startswith("ACK "):
                acknowledged.add(int(line.split()[1]))
        assert ready
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        process.stdout.close()
        process.stderr.close()
    print(f"killed the writer after {len(acknowledged)} acknowledged transactions")
    database = open_database(nodes)
    try:
        parts: dict[int, set[int]] = {}
        for _row_id, txn, part in rows(database, "SELECT id, txn, part FROM w"):
            parts.setdefault(txn, set()).add(part)
        missing = acknowledged - set(parts)
        assert not missing, f"acknowledged transactions lost: {sorted(missing)[:10]}"
        partial = {txn: got for txn, got in parts.items() if got != {0, 1, 2}}
        assert not partial, f"partial transactions visible: {partial}"
    finally:
        database.close()


def _flip_bit_in_log(data_dir: str, rng: random.Random) -> str:
    """Flip one bit in the middle of the newest hot log file of PG 0; return the file."""
    pg_dir = os.path.join(data_dir, "pg-00000000")
    path = os.path.join(pg_dir, max(name for name in os.listdir(pg_dir)
                                    if name.startswith("redo-") and name.endswith(".log")))
    size = os.path.getsize(path)
    assert size > 4096, f"{path} is too small ({size} bytes) to damage in the middle"
    offset = rng.randrange(size // 3, 2 * size // 3)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ (1 << rng.randrange(8))]))
    print(f"flipped a bit at offset {offset} of {path} ({size} bytes)")
    return path


def test_flipped_bit_in_segment_log_is_repaired_from_peers(nodes, seed):
    rng = random.Random(seed)
    damaged, *others = rng.sample(sorted(nodes.processes), 3)
    # No horizon: nothing is materialized, so the records stay in the hot log.
    database = open_database(nodes, horizon_interval=3600.0)
    try:
        connection = Connection(database, autocommit=True, owns_database=False)
        connection.execute("CREATE TABLE t4 (id INTEGER PRIMARY KEY, v TEXT)")
        for start in range(0, 600, 100):
            insert_many(connection, "INSERT INTO t4 VALUES (?, ?)",
                        [(i, f"value {i:05d}") for i in range(start, start + 100)])
        process = nodes.node_process(damaged)
        process.kill()
        log_size = os.path.getsize(process.log_path)
        _flip_bit_in_log(process.info.data, rng)
        process.start()
        process.wait_ready(60)
        with open(process.log_path, "rb") as handle:
            handle.seek(log_size)
            assert b"damaged" in handle.read(), "the node did not report the damage"
        # Two other nodes down: the write quorum needs the damaged node, which counts only
        # once its log is whole again (SCL advances only over contiguous records, Q1).
        for other in others:
            nodes.node_process(other).kill()
        connection.execute("INSERT INTO t4 VALUES (600, 'after the repair')")
        status = process.status()
        print({key: status.get(key) for key in ("damage_found", "log_repairs",
                                                 "gossip_fetches", "rebuilds")})
        stats = database.volume.statistics()
        assert stats["nodes"][damaged]["ready"]
        assert min(stats["nodes"][damaged]["scl"].values()) >= database.read_point
        connection.close()
    finally:
        database.close()
    # Every row reads back through a new writer (three nodes, one of them the repaired one).
    database = open_database(nodes)
    try:
        found = rows(database, "SELECT id, v FROM t4 ORDER BY id")
        assert [row[0] for row in found] == list(range(601))
        assert found[17] == (17, "value 00017")
    finally:
        database.close()


def test_second_writer_fences_the_first(nodes):
    first = open_database(nodes, commit_timeout=5.0)
    second = None
    try:
        connection = Connection(first, autocommit=True, owns_database=False)
        connection.execute("CREATE TABLE t5 (id INTEGER PRIMARY KEY, v INTEGER)")
        connection.execute("INSERT INTO t5 VALUES (1, 1)")
        old_epoch = first.epoch
        second = open_database(nodes)
        assert second.epoch > old_epoch
        with pytest.raises(OperationalError, match="fenced|epoch"):
            connection.execute("INSERT INTO t5 VALUES (2, 2)")
        with pytest.raises(StaleEpochError):
            connection.execute("INSERT INTO t5 VALUES (3, 3)")
        with pytest.raises(StaleEpochError):
            first.volume.get_page(0, first.read_point)
        assert rows(second, "SELECT id FROM t5") == [(1,)]
        connection.close()
    finally:
        first.close()
        if second is not None:
            second.close()
    # Nothing the fenced writer sent is acknowledged by a write quorum: a third writer sees
    # only what was committed before the fence.
    third = open_database(nodes)
    try:
        assert rows(third, "SELECT id FROM t5") == [(1,)]
    finally:
        third.close()


def test_a_stopped_node_stalls_neither_commits_nor_reads(nodes, seed):
    """SIGSTOP: the node keeps its connections open but answers nothing. Commits need only
    four of six; a read sent to it is hedged to another segment after a short delay."""
    rng = random.Random(seed)
    database = open_database(nodes, commit_timeout=10.0, hedge_delay=0.05, hedge_max=0.2)
    stopped: list[int] = []
    try:
        connection = Connection(database, autocommit=True, owns_database=False)
        connection.execute("CREATE TABLE t6 (id INTEGER PRIMARY KEY, v INTEGER)")
        insert_many(connection, "INSERT INTO t6 VALUES (?, ?)", [(i, i) for i in range(200)])
        writer_victim = nodes.node_process(rng.choice(sorted(nodes.processes)))
        stopped.append(writer_victim.pid)
        os.kill(stopped[-1], signal.SIGSTOP)
        started = time.monotonic()
        for i in range(200, 230):
            connection.execute("INSERT INTO t6 VALUES (?, ?)", (i, i))
        assert time.monotonic() - started < 10
        # Stop the segment the next read goes to first: known complete up to the read point,
        # fastest so far, first in placement order.
        volume = database.volume
        stats = volume.statistics()
        read_point = database.read_point
        order = [info.node_id for info in nodes.config.nodes_of(0)]
        complete = [n for n in order if stats["nodes"][n]["scl"].get(0, 0) >= read_point]
        reader_victim = nodes.node_process(min(
            complete, key=lambda n: (stats["nodes"][n]["read_latency_ms"], order.index(n))))
        stopped.append(reader_victim.pid)
        os.kill(stopped[-1], signal.SIGSTOP)
        slowest = 0.0
        for _ in range(12):
            began = time.monotonic()
            assert any(volume.get_page(0, read_point))
            slowest = max(slowest, time.monotonic() - began)
        hedges = volume.statistics()["page_read_hedges"]
        print(f"30 commits with node {writer_victim.node_id} stopped; 12 page reads with node "
              f"{reader_victim.node_id} stopped too: slowest {slowest * 1000:.0f} ms, "
              f"{hedges} hedged")
        assert slowest < 2.0
        assert hedges >= 1
        connection.close()
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        database.close()


def _scls(process) -> dict[int, int]:
    """pg -> SCL of a running node (from its STATUS); {} if it does not answer."""
    status = process.status(timeout=2.0)
    return {int(pg): entry["scl"] for pg, entry in (status or {}).get("pgs", {}).items()}


def _wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} (waited {timeout:g} s)"
        time.sleep(interval)


def test_wiped_node_rebuilds_while_sql_writer_commits(nodes, seed):
    rng = random.Random(seed)
    victim_id, *doomed = rng.sample(sorted(nodes.processes), 3)
    others = [node_id for node_id in sorted(nodes.processes) if node_id != victim_id]
    victim = nodes.node_process(victim_id)
    database = open_database(nodes, horizon_interval=0.2)
    try:
        connection = Connection(database, autocommit=True, owns_database=False)
        connection.execute("CREATE TABLE t7 (id INTEGER PRIMARY KEY, v INTEGER)")
        insert_many(connection, "INSERT INTO t7 VALUES (?, ?)",
                    [(i, i % 7) for i in range(-2000, 0)])
        connection.close()
        load = InsertWorkload(database, "t7", threads=4).start()
        try:
            load.wait_for(30)
            # The peers hold page images (materialized LSN > 0): a wiped segment is rebuilt
            # from those first, then from the log above them (R5).
            _wait_until(lambda: all(
                (nodes.node_process(n).status() or {}).get("pgs", {}).get("0", {}).get(
                    "materialized_lsn", 0) > 0 for n in others),
                30, "the peers did not materialize any pages")
            victim.kill()
            victim.wipe()
            assert not os.path.exists(victim.info.data)
            wiped_at = load.count
            victim.start()
            victim.wait_ready(60)
            began = time.monotonic()
            # While commits go on, the wiped node reaches the SCL the others had when it
            # came back.
            target = {pg: max(_scls(nodes.node_process(n)).get(pg, 0) for n in others)
                      for pg in _scls(nodes.node_process(others[0]))}
            assert target and min(target.values()) > 0
            _wait_until(lambda: all(_scls(victim).get(pg, 0) >= scl
                                    for pg, scl in target.items()),
                        60, f"wiped node {victim_id} did not reach SCL {target}")
            caught_up = time.monotonic() - began
            load.wait_for(30)
            during = load.count - wiped_at
        finally:
            load.stop()
        assert not load.errors, f"commits failed while node {victim_id} was rebuilt: " \
                                f"{load.errors[:3]}"
        # Quiet: the rebuilt node holds what the most advanced peer holds.
        def level() -> dict[int, int] | None:
            mine = _scls(victim)
            best = {pg: max(_scls(nodes.node_process(n)).get(pg, 0) for n in others)
                    for pg in target}
            return mine if mine and all(mine.get(pg, 0) >= scl
                                        for pg, scl in best.items()) else None
        final = _wait_until(level, 30, f"wiped node {victim_id} did not reach the others' SCL "
                                       f"after the workload")
        status = victim.status()
        print(f"node {victim_id} wiped after {wiped_at} commits; reached the others' SCL "
              f"{caught_up:.1f} s after restart with {during} commits meanwhile; final SCL "
              f"{final}; rebuilds {status['rebuilds']}, gossip fetches "
              f"{status['gossip_fetches']}")
        assert status["rebuilds"] >= 1, "the wiped node did not install its peers' pages"
        found = {row[0] for row in rows(database, "SELECT id FROM t7")}
        assert load.acknowledged <= found
        # With two other nodes down, the write quorum needs the rebuilt node: its SCL counts
        # only over a complete history (Q1).
        for node_id in doomed:
            nodes.node_process(node_id).kill()
        rows(database, "INSERT INTO t7 VALUES (1000000000, 0)")
        assert database.volume.statistics()["nodes"][victim_id]["ready"]
    finally:
        database.close()
    database = open_database(nodes)
    try:
        found = {row[0] for row in rows(database, "SELECT id FROM t7")}
        assert load.acknowledged | set(range(-2000, 0)) | {1000000000} <= found
    finally:
        database.close()
