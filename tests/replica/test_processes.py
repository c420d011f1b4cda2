"""``aurora-lite serve`` (the writer, with its replication endpoint), ``aurora-lite replica``
and ``aurora-lite failover`` as processes on a six-node cluster: read-only SQL and lag over
the PostgreSQL wire protocol, catching up after the writer restarts, reads with segments
down, failover after kill -9 within the bound with every acknowledged commit kept, and the
old writer fenced. Every process is stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from aurora_lite.cluster import ensure_cluster
from aurora_lite.errors import Error
from aurora_lite.replica import alive, read_writer

from tests.replica.conftest import NODE_ARGS, ROOT, Child, kill_nodes, remote, wait_until

pytestmark = pytest.mark.timeout(240)
FAILOVER_BOUND = 5.0


@dataclass
class Deployment:
    directory: str
    handle: object
    writer: Child
    writer_sql: str
    replica: Child
    replica_sql: str
    control: str


@pytest.fixture
def deployment(tmp_path, children):
    directory = str(tmp_path / "cluster")
    handle = ensure_cluster(directory, node_args=NODE_ARGS)
    try:
        writer = children("serve", directory, "--listen", "127.0.0.1:0", "--auth", "trust",
                          "--no-fsync", "--quiet")
        writer.wait_for("replication on ")
        writer_sql = writer.wait_for("listening on ")
        replica = children("replica", "--config", os.path.join(directory, "cluster.json"),
                           "--listen", "127.0.0.1:0", "--auth", "trust", "--pool-pages", "16",
                           "--quiet")
        replica_sql = replica.wait_for("listening on ")
        control = replica.wait_for("control on ")
        yield Deployment(directory, handle, writer, writer_sql, replica, replica_sql, control)
    finally:
        record = read_writer(directory)
        # A writer `aurora-lite failover` started is not our child: stop it by its PID.
        if record and record.get("pid") and record["pid"] != os.getpid() and \
                alive(record["pid"]) and b"serve" in open(f"/proc/{record['pid']}/cmdline",
                                                         "rb").read():
            os.kill(record["pid"], signal.SIGKILL)
        handle.close()
        kill_nodes(handle)


def _wait_rows(address: str, sql: str, expected, timeout: float = 20):
    connection = remote(address, autocommit=True)
    try:
        return wait_until(lambda: connection.execute(sql).fetchall() == expected, timeout,
                          f"{sql} -> {expected} on {address}")
    finally:
        connection.close()


def test_read_only_sql_and_lag_over_the_wire(deployment):
    writer = remote(deployment.writer_sql, autocommit=True)
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    writer.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(300)])
    _wait_rows(deployment.replica_sql, "SELECT count(*), max(v) FROM t", [(300, "v99")])
    replica = remote(deployment.replica_sql, autocommit=True)
    assert replica.parameters["in_hot_standby"] == "on"
    assert replica.parameters["default_transaction_read_only"] == "on"
    for sql in ("INSERT INTO t VALUES (1000, 'x')", "UPDATE t SET v = 'y'", "DELETE FROM t",
                "CREATE TABLE u (a INTEGER)", "DROP TABLE t", "BEGIN READ WRITE"):
        with pytest.raises(Error) as raised:
            replica.execute(sql)
        assert raised.value.sqlstate == "25006", sql
    [(lag_ms, lag_lsn, read_point, writer_read_point)] = \
        replica.execute("SHOW replica_lag").fetchall()
    assert lag_ms >= 0 and lag_lsn >= 0 and 0 < read_point <= writer_read_point
    status = json.loads(replica.execute("SHOW replica_status").fetchall()[0][0])
    assert status["epoch"] >= 1 and status["connected"] and "lag_ms" in status
    recorded = read_writer(deployment.directory)
    assert recorded["sql"] == deployment.writer_sql and recorded["replication"]
    assert recorded["pid"] == deployment.writer.pid
    replica.close()
    writer.close()


def test_replica_catches_up_after_the_writer_restarts(deployment):
    writer = remote(deployment.writer_sql, autocommit=True)
    writer.execute("CREATE TABLE r (id INTEGER PRIMARY KEY)")
    writer.executemany("INSERT INTO r VALUES (?)", [(i,) for i in range(100)])
    writer.close()
    _wait_rows(deployment.replica_sql, "SELECT count(*) FROM r", [(100,)])
    old_epoch = read_writer(deployment.directory)["epoch"]
    deployment.writer.kill()                          # kill -9
    # A new writer process for DIR, from the command the old one recorded.
    result = subprocess.run([sys.executable, "-m", "aurora_lite", "failover",
                             deployment.directory, "--json"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["mode"] == "new writer process" and info["epoch"] > old_epoch
    writer = remote(info["sql"], autocommit=True)
    writer.executemany("INSERT INTO r VALUES (?)", [(i,) for i in range(100, 250)])
    writer.close()
    _wait_rows(deployment.replica_sql, "SELECT count(*), max(id) FROM r", [(250, 249)], 30)
    replica = remote(deployment.replica_sql, autocommit=True)
    status = json.loads(replica.execute("SHOW replica_status").fetchall()[0][0])
    assert status["epoch"] == info["epoch"] and status["fresh_starts"] >= 2
    replica.close()


def test_replica_keeps_answering_with_three_segments_down(deployment):
    writer = remote(deployment.writer_sql, autocommit=True)
    writer.execute("CREATE TABLE wide (id INTEGER PRIMARY KEY, body TEXT)")
    writer.executemany("INSERT INTO wide VALUES (?, ?)", [(i, "w" * 300) for i in range(2000)])
    writer.close()
    expected = [(2000, sum(range(2000)))]
    query = "SELECT count(*), sum(id) FROM wide"
    _wait_rows(deployment.replica_sql, query, expected)
    replica = remote(deployment.replica_sql, autocommit=True)
    # The replica caches 16 pages: every scan reads most of the table from storage again.
    for node_id in (1, 3, 5):
        deployment.handle.node_process(node_id).kill()
        assert replica.execute(query).fetchall() == expected
        assert replica.execute("SELECT body FROM wide WHERE id = 1234").fetchall() == \
            [("w" * 300,)]
    replica.close()


def _writes(address: str, acknowledged: list[int], stop: threading.Event) -> None:
    """Autocommit inserts until the connection fails; the ids the writer acknowledged."""
    connection = remote(address, autocommit=True)
    number = 0
    try:
        while not stop.is_set():
            number += 1
            connection.execute("INSERT INTO acks VALUES (?)", (number,))
            acknowledged.append(number)
    except Error:
        pass
    finally:
        try:
            connection.close()
        except Error:
            pass


def test_failover_after_kill_9_within_the_bound_keeps_every_acknowledged_commit(deployment):
    writer = remote(deployment.writer_sql, autocommit=True)
    writer.execute("CREATE TABLE acks (id INTEGER PRIMARY KEY)")
    writer.close()
    acknowledged: list[int] = []
    stop = threading.Event()
    client = threading.Thread(target=_writes, args=(deployment.writer_sql, acknowledged, stop),
                              daemon=True)
    client.start()
    wait_until(lambda: len(acknowledged) > 50, 30, "acknowledged commits")
    deployment.writer.kill()                                    # kill -9 the writer
    died = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "aurora_lite", "failover",
                             deployment.directory, "--replica", deployment.replica_sql,
                             "--json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    # The replica's SQL address is now the writer's.
    connection = remote(deployment.replica_sql, autocommit=True)
    connection.execute("INSERT INTO acks VALUES (0)")
    first_write = time.monotonic() - died
    stop.set()
    client.join(30)
    print(f"failover: first accepted write {first_write:.3f} s after kill -9 ({info})")
    assert first_write <= FAILOVER_BOUND
    assert info["mode"] == "promoted replica" and info["sql"] == deployment.replica_sql
    present = {row[0] for row in connection.execute("SELECT id FROM acks").fetchall()}
    missing = set(acknowledged) - present
    assert not missing, f"{len(missing)} acknowledged commits lost: {sorted(missing)[:10]}"
    recorded = read_writer(deployment.directory)
    assert recorded["pid"] == deployment.replica.pid and recorded["epoch"] == info["epoch"]
    assert connection.execute("SHOW replica_role").fetchall() == [("writer (promoted)",)]
    connection.close()


def test_old_writer_is_fenced_after_failover(deployment):
    old = remote(deployment.writer_sql, autocommit=True)
    old.execute("CREATE TABLE f (id INTEGER PRIMARY KEY)")
    old.execute("INSERT INTO f VALUES (1)")
    _wait_rows(deployment.replica_sql, "SELECT count(*) FROM f", [(1,)])
    deployment.writer.signal(signal.SIGSTOP)                    # hung, not dead
    try:
        result = subprocess.run([sys.executable, "-m", "aurora_lite", "failover",
                                 deployment.directory, "--replica", deployment.control,
                                 "--json"], capture_output=True, text=True, timeout=60,
                                cwd=ROOT)
        assert result.returncode == 0, result.stderr
    finally:
        deployment.writer.signal(signal.SIGCONT)
    new = remote(deployment.replica_sql, autocommit=True)
    new.execute("INSERT INTO f VALUES (2)")
    with pytest.raises(Error) as raised:
        old.execute("INSERT INTO f VALUES (3)")
    assert raised.value.sqlstate == "72000", raised.value
    assert "fenced" in str(raised.value)
    assert new.execute("SELECT id FROM f ORDER BY id").fetchall() == [(1,), (2,)]
    new.close()
