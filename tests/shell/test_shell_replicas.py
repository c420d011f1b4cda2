"""``.cluster`` lists the read replicas, through real processes on a six-node cluster: an
``aurora-lite replica`` process following

* an embedded writer (this process: ``start_publisher`` records its endpoint in
  DIR/writer.json; the shell asks that endpoint for its STATUS over the wire), and
* a writer served by ``aurora-lite serve DIR`` (the shell over a postgresql:// URL runs
  ``SHOW cluster_status`` and ``SHOW replicas``; over the replica's URL it shows whom the
  replica follows).

Every process is stopped by PID; every wait is bounded."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

import aurora_lite
from aurora_lite.cluster import ensure_cluster
from aurora_lite.replica import read_writer, start_publisher
from aurora_lite.shell import run, target_for

from tests.replica.conftest import NODE_ARGS, ROOT, Child, kill_nodes, remote, wait_until

pytestmark = pytest.mark.timeout(300)
TIMEOUT = 90


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("replicas") / "cluster")
    handle = ensure_cluster(directory, node_args=NODE_ARGS)
    try:
        yield directory, handle
    finally:
        handle.close()
        kill_nodes(handle)


@pytest.fixture
def children():
    started: list[Child] = []

    def start(*args: str) -> Child:
        child = Child(*args)
        started.append(child)
        return child

    yield start
    for child in reversed(started):
        child.stop()


def start_replica(children, directory: str) -> tuple[Child, str]:
    """An ``aurora-lite replica`` process that finds the writer in DIR/writer.json."""
    replica = children("replica", "--config", os.path.join(directory, "cluster.json"),
                       "--listen", "127.0.0.1:0", "--auth", "trust", "--pool-pages", "16",
                       "--quiet")
    return replica, replica.wait_for("listening on ")


def embedded_cluster_view(directory: str) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(target_for(directory), [("command", ".cluster")], stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    assert err.getvalue() == ""
    return out.getvalue().splitlines()


def replica_table(lines: list[str], first: str) -> list[list[str]]:
    """The rows of the replica table that follows the line ``first``."""
    start = lines.index(first)
    assert [cell.strip() for cell in lines[start + 1].split("|")] == \
        ["address", "read point", "lag ms", "lag LSN"]
    rows = []
    for line in lines[start + 3:]:
        if line.startswith("("):
            assert line == f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
            break
        rows.append([cell.strip() for cell in line.split("|")])
    return rows


def shell(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurora_lite", "shell", url, *args],
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)


def test_embedded_shell_asks_the_writers_replication_endpoint(cluster, children, monkeypatch):
    directory, _handle = cluster
    monkeypatch.setenv("AURORA_LITE_STORAGE", "cluster")
    writer = aurora_lite.connect(directory, storage="cluster", fsync=False, autocommit=True)
    publisher = start_publisher(writer, directory=directory)
    try:
        endpoint = publisher.address
        assert read_writer(directory)["replication"] == endpoint
        # The endpoint runs, nobody follows it yet.
        lines = embedded_cluster_view(directory)
        assert lines[0].startswith(f"Storage: cluster in {directory} (cluster ")
        assert lines[-1] == ("Replicas: none connected (the writer's replication endpoint is "
                             f"{endpoint})")

        replica, replica_sql = start_replica(children, directory)
        writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        writer.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
        read_point = writer._database.read_point
        # The replica's FEEDBACK reaches the writer within a few tens of milliseconds.
        wait_until(lambda: [r["read_point"] for r in publisher.statistics()["replicas"]]
                   == [read_point], 30, "the replica's feedback at the writer's read point")
        lines = embedded_cluster_view(directory)
        first = f"Replicas: 1 replica following the writer's replication endpoint {endpoint}"
        [[address, shown_read_point, lag_ms, lag_lsn]] = replica_table(lines, first)
        [expected] = publisher.statistics()["replicas"]
        assert address == expected["address"]
        assert re.fullmatch(r"127\.0\.0\.1:\d+", address)
        assert int(shown_read_point) == read_point and int(lag_lsn) == 0
        assert float(lag_ms) >= 0
        with remote(replica_sql, autocommit=True) as on_replica:
            assert on_replica.execute("SELECT count(*) FROM t").fetchall() == [(50,)]

        # The replica stops: the writer forgets it.
        replica.stop()
        wait_until(lambda: not publisher.statistics()["replicas"], 30, "the replica to leave")
        assert embedded_cluster_view(directory)[-1].startswith("Replicas: none connected")
        # DIR/writer.json still names this (running) process, but its endpoint is gone.
        publisher.stop()
        assert embedded_cluster_view(directory)[-1].startswith(
            f"Replicas: the replication endpoint {endpoint} (DIR/writer.json, pid "
            f"{os.getpid()}) did not answer: ")
    finally:
        publisher.stop()
        writer.close()


def test_remote_shell_shows_the_server_its_nodes_and_its_replicas(cluster, children):
    directory, handle = cluster
    writer = children("serve", directory, "--listen", "127.0.0.1:0", "--auth", "trust",
                      "--no-fsync", "--quiet")
    endpoint = writer.wait_for("replication on ")
    writer_sql = writer.wait_for("listening on ")
    writer_url = f"postgresql://tester@{writer_sql}/db"
    connection = remote(writer_sql, autocommit=True)
    try:
        # No replica yet: SHOW replicas has no rows.
        cursor = connection.execute("SHOW replicas")
        assert [column[0] for column in cursor.description] == \
            ["address", "read_point", "lag_lsn", "lag_ms"]
        assert [column[1] for column in cursor.description] == \
            ["text", "integer", "integer", "double precision"]
        assert cursor.fetchall() == []
        status = json.loads(connection.execute("SHOW cluster_status").fetchall()[0][0])
        assert (status["role"], status["pid"], status["sql"], status["replication"]) == \
            ("writer", writer.pid, writer_sql, endpoint)
        assert status["storage"] == "cluster" and status["directory"] == directory
        assert [s["node"] for s in status["cluster"]["segments"]] == [1, 2, 3, 4, 5, 6]

        replica, replica_sql = start_replica(children, directory)
        connection.execute("CREATE TABLE r (id INTEGER PRIMARY KEY)")
        connection.executemany("INSERT INTO r VALUES (?)", [(i,) for i in range(20)])
        read_point = json.loads(connection.execute("SHOW cluster_status").fetchall()[0][0]
                                )["statistics"]["read_point"]
        rows = wait_until(lambda: [row for row in connection.execute("SHOW replicas")
                                   .fetchall() if row[1] == read_point], 30,
                          "SHOW replicas to show the replica at the writer's read point")
        [(address, replica_read_point, lag_lsn, lag_ms)] = rows
        # The replica names itself by the address it serves SQL on (even with port 0).
        assert address == replica_sql
        assert (replica_read_point, lag_lsn) == (read_point, 0) and lag_ms >= 0

        # .cluster over the writer's URL: the server, its six nodes, its replica.
        proc = shell(writer_url, "-c", ".cluster")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == (f"Connected to the server at {writer_url}: the writer (pid "
                            f"{writer.pid}, data directory {directory}).")
        assert lines[1].startswith(f"Storage: cluster in {directory} (cluster ")
        header = lines.index(next(line for line in lines if line.startswith(" node |")))
        nodes = [[cell.strip() for cell in line.split("|")] for line in
                 lines[header + 2:header + 8]]
        assert lines[header + 8] == "(6 rows)"
        for node, pid, address_shown, up, link, scl in nodes:
            process = handle.node_process(int(node))
            assert (int(pid), address_shown) == (process.pid, process.info.address)
            assert (up, link) == ("t", "connected")
            assert scl.startswith("0:") and int(scl[2:]) >= read_point
        vdl = int(re.search(r"^Writer: VDL (\d+), VCL \d+, epoch \d+, read point \d+$",
                            proc.stdout, re.M).group(1))
        assert vdl >= read_point
        first = f"Replicas: 1 replica following the writer's replication endpoint {endpoint}"
        [[shown_address, shown_read_point, _lag_ms, _lag_lsn]] = replica_table(lines, first)
        assert shown_address == address and int(shown_read_point) >= read_point

        # .cluster over the replica's URL: whom it follows, and its lag.
        replica_url = f"postgresql://tester@{replica_sql}/db"
        proc = shell(replica_url, "-c", ".cluster")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == (f"Connected to the server at {replica_url}: a read replica (pid "
                            f"{replica.pid}, data directory {directory}).")
        assert re.fullmatch(
            rf"Replica: following the writer's replication endpoint {re.escape(endpoint)} "
            rf"\(SQL on {re.escape(writer_sql)}\), epoch \d+, read point \d+ \(the writer's "
            rf"\d+\), lag [\d.]+ ms / \d+ LSNs, connected", lines[1]), lines[1]
        assert lines[2:] == ["Replicas: this server is a read replica; `.cluster` on the "
                             "writer lists the replicas"]
        with remote(replica_sql, autocommit=True) as on_replica:
            with pytest.raises(aurora_lite.Error) as raised:
                on_replica.execute("SHOW replicas")
            assert raised.value.sqlstate == "55000"
            assert on_replica.execute("SELECT 1").fetchall() == [(1,)]

        # Named (prepared) statements of the server-answered SHOWs: Parse, Describe, Execute.
        psycopg = pytest.importorskip("psycopg")
        pq = psycopg.pq
        for sql_address, name, sql, columns in (
                (writer_sql, b"r", b"SHOW replicas", [(b"address", 25), (b"read_point", 20),
                                                      (b"lag_lsn", 20), (b"lag_ms", 701)]),
                (writer_sql, b"s", b"SHOW cluster_status", [(b"cluster_status", 25)]),
                (replica_sql, b"l", b"SHOW replica_lag", None)):
            host, port = sql_address.rsplit(":", 1)
            with psycopg.connect(host=host, port=int(port), user="tester", dbname="db",
                                 autocommit=True, connect_timeout=10) as pg:
                assert pg.pgconn.prepare(name, sql).status == pq.ExecStatus.COMMAND_OK
                if columns is not None:
                    described = pg.pgconn.describe_prepared(name)
                    assert [(described.fname(i), described.ftype(i))
                            for i in range(described.nfields)] == columns
                result = pg.pgconn.exec_prepared(name, [])
                assert (result.status, result.ntuples) == (pq.ExecStatus.TUPLES_OK, 1)

        # The embedded shell cannot open the directory the server writes: it says where the
        # writer serves SQL instead.
        proc = shell(directory, "-c", ".cluster")
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert proc.stderr.splitlines()[-1] == (
            f"HINT:  the writer of this directory runs in process {writer.pid} and serves "
            f"SQL on {writer_sql} (DIR/writer.json): aurora-lite shell "
            f"postgresql://USER@{writer_sql}/DBNAME")
    finally:
        connection.close()
