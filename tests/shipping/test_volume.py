"""PageShipVolume, the page-shipping baseline, against six storage nodes served in this process
(tests/volume/_servers.py): SQL through it is correct, every node's page file holds the
writer's pages byte for byte, the 4/6 quorum holds (two nodes down: commits go on; three: they
stall, never falsely acknowledged), and the volume reopens from its local copy."""

from __future__ import annotations

import os

import pytest

from aurora_lite.dbapi import Connection
from aurora_lite.errors import OperationalError
from aurora_lite.page import OFF_CHECKSUM, PAGE_SIZE, verify
from aurora_lite.txn import Database
from aurora_lite.volume import PageShipVolume

from tests.volume._servers import ThreadedCluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster(tmp_path):
    nodes = ThreadedCluster(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        nodes.close()


def open_database(cluster, tmp_path, close_timeout=30.0, **options):
    volume = PageShipVolume(cluster.path, os.fspath(tmp_path / "writer"), open_timeout=20,
                            close_timeout=close_timeout)
    return Database.open(volume=volume, **options), volume


def rows(connection, sql="SELECT id, k, c FROM t ORDER BY id"):
    cursor = connection.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def workload(connection, count=200):
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, c TEXT)")
    connection.execute("CREATE INDEX t_k ON t (k)")
    for i in range(count):
        connection.execute("INSERT INTO t VALUES (?, ?, ?)", (i, i % 13, f"row {i}" * 20))
    connection.execute("UPDATE t SET k = k + 100 WHERE id % 3 = 0")
    connection.execute("DELETE FROM t WHERE id % 5 = 0")
    connection.execute("INSERT INTO t VALUES (?, ?, ?)", (5, 7, "back"))
    return sorted(
        [(i, i % 13 + (100 if i % 3 == 0 else 0), f"row {i}" * 20)
         for i in range(count) if i % 5 != 0] + [(5, 7, "back")])


def test_pages_round_trip_to_every_node(cluster, tmp_path):
    database, volume = open_database(cluster, tmp_path)
    connection = Connection(database, autocommit=True, owns_database=False)
    try:
        expected = workload(connection)
        assert rows(connection) == expected
        assert rows(connection, "SELECT count(*) FROM t WHERE k >= 100") == \
            [(sum(1 for row in expected if row[1] >= 100),)]
        stats = volume.statistics()
        assert stats["page_images_shipped"] > 0
        assert stats["page_bytes_shipped"] == stats["page_images_shipped"] * PAGE_SIZE
        assert stats["fsyncs_total"] > 0 and not stats["failed"]
        pages = sorted(volume._images)
        assert len(pages) > 3
        for node_id in volume._links:
            for page_id in pages:
                shipped = volume.shipped_page(node_id, page_id)
                assert shipped.image is not None and shipped.end_lsn <= volume.vdl
                verify(shipped.image, f"page {page_id} from node {node_id}")  # sealed
                image = bytearray(shipped.image)
                image[OFF_CHECKSUM:OFF_CHECKSUM + 4] = bytes(4)
                assert image == volume.get_page(page_id, shipped.end_lsn), (node_id, page_id)
        assert volume.shipped_page(1, 1 << 30).image is None
    finally:
        connection.close()
        database.close()
    # Reopened from the writer's local copy: the same rows, a new epoch the nodes accept.
    database, volume = open_database(cluster, tmp_path)
    connection = Connection(database, autocommit=True, owns_database=False)
    try:
        assert volume.epoch == 2
        assert rows(connection) == expected
        connection.execute("INSERT INTO t VALUES (?, ?, ?)", (1000, 1, "after reopen"))
        assert rows(connection, "SELECT c FROM t WHERE id = 1000") == [("after reopen",)]
        page_id = sorted(volume._images)[0]
        assert volume.shipped_page(3, page_id).image is not None
    finally:
        connection.close()
        database.close()


def test_two_nodes_down_commits_go_on_three_down_they_stall(cluster, tmp_path):
    database, volume = open_database(cluster, tmp_path, commit_timeout=1.0, close_timeout=1.0)
    connection = Connection(database, autocommit=True, owns_database=False)
    try:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, c TEXT)")
        cluster.stop(5)
        cluster.stop(6)
        for i in range(20):
            connection.execute("INSERT INTO t VALUES (?, ?, ?)", (i, i, "x"))
        assert rows(connection, "SELECT count(*) FROM t") == [(20,)]
        cluster.stop(4)
        vdl = volume.vdl
        with pytest.raises(OperationalError):
            connection.execute("INSERT INTO t VALUES (?, ?, ?)", (99, 99, "never acked"))
        assert volume.vdl == vdl                   # nothing acknowledged without 4 of 6
    finally:
        connection.close()
        try:
            database.close()
        except OperationalError:
            pass
