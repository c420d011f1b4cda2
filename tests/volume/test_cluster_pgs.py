"""Node failures when the volume spans many protection groups, on real storage processes.

The fault tests of test_cluster_faults.py run with the default pg_size (4096 pages): their
tables fit in protection group 0. Here PGs are small, so a table of a few MB spans many, and
each commit of the concurrent workload (single-row INSERTs at random keys) lands in a random
one; one and then a second node are killed (kill -9) mid-workload. Two clusters:

* 6 nodes, pg_size 8: every node holds one segment of every PG;
* 9 nodes, pg_size 8: placement spreads the PGs - each on 6 of the 9 nodes (quorum.md), which
  the nodes' own STATUS must show - and the writer sends each node only its PGs' sections.

No commit may fail, every acknowledged row is present, and a new writer that recovers with the
two nodes still down (a read quorum of every PG, a VOID in every PG) finds them all.
"""

from __future__ import annotations

import random

import pytest

from aurora_lite.cluster import ensure_cluster
from aurora_lite.dbapi import Connection

from tests.volume._sqlload import InsertWorkload, insert_many, open_database, random_seed, rows

pytestmark = pytest.mark.timeout(420)

NODE_ARGS = ("--gossip-interval", "0.2", "--gap-wait", "0.2", "--log-level", "warning")
PRELOAD = 4000
PAD = "p" * 300


@pytest.fixture(scope="module", params=[(6, 8), (9, 8)], ids=["6nodes-pg8", "9nodes-pg8"])
def cluster(request, tmp_path_factory):
    nodes, pg_size = request.param
    handle = ensure_cluster(str(tmp_path_factory.mktemp(f"cluster{nodes}")), nodes=nodes,
                            pg_size=pg_size, node_args=NODE_ARGS, stop_at_exit=True,
                            timeout=120, archive=None)
    try:
        yield handle
    finally:
        handle.stop()
        handle.close()


def _pg_max_lsns(cluster) -> dict[int, int]:
    """pg -> the highest record LSN any answering node holds in it."""
    found: dict[int, int] = {}
    for process in cluster.processes.values():
        if not process.running:
            continue
        for pg, entry in ((process.status() or {}).get("pgs") or {}).items():
            found[int(pg)] = max(found.get(int(pg), 0), entry["max_lsn"])
    return found


def test_kills_during_inserts_across_protection_groups(cluster):
    seed = random_seed()
    rng = random.Random(seed)
    config = cluster.config
    victims = rng.sample(sorted(cluster.processes), 2)
    keys = rng.sample(range(1, 50 * PRELOAD), PRELOAD + 20000)
    preload, fresh = sorted(keys[:PRELOAD]), keys[PRELOAD:]
    database = open_database(cluster.directory)
    try:
        connection = Connection(database, autocommit=True, owns_database=False)
        connection.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
        insert_many(connection, "INSERT INTO p VALUES (?, ?)", [(k, PAD) for k in preload])
        connection.close()
        pg_count = len(database.volume.statistics()["pgcl"])
        print(f"{len(config.nodes)} nodes, pg_size {config.pg_size}: {pg_count} PGs after "
              f"the preload; victims {victims}")
        assert pg_count >= 5, f"the table spans only {pg_count} protection groups"
        # Placement as the nodes report it: each node holds exactly its PGs, each PG is on
        # six nodes (with 9 nodes, no node holds all of them).
        holders: dict[int, list[int]] = {pg: [] for pg in range(pg_count)}
        for node_id, process in sorted(cluster.processes.items()):
            held = sorted(int(pg) for pg in process.status()["pgs"])
            assert held == config.pgs_of(node_id, pg_count), (node_id, held)
            for pg in held:
                holders[pg].append(node_id)
        assert all(len(nodes) == 6 for nodes in holders.values()), holders
        if len(config.nodes) > 6:
            assert pg_count >= len(config.nodes)
            assert all(len(config.pgs_of(n, pg_count)) < pg_count for n in cluster.processes)

        load = InsertWorkload(database, "p", threads=4, ids=fresh,
                              row=lambda row_id: (row_id, f"{row_id:08d} {PAD[:150]}"))
        load.start()
        try:
            load.wait_for(30)
            before = _pg_max_lsns(cluster)
            cluster.node_process(victims[0]).kill()
            load.wait_for(60)
            cluster.node_process(victims[1]).kill()
            load.wait_for(90)
        finally:
            load.stop()
        assert not load.errors, f"commits failed with nodes {victims} down: {load.errors[:3]}"
        after = _pg_max_lsns(cluster)
        written = sorted(pg for pg in after if after[pg] > before.get(pg, 0))
        print(f"{load.count} commits; PGs written while nodes were killed: {written}")
        assert len(written) >= 3, f"the workload wrote only PGs {written} during the kills"
        found = {row[0] for row in rows(database, "SELECT id FROM p")}
        assert load.acknowledged <= found
        assert set(preload) <= found
    finally:
        database.close()
    # A new writer, both victims still down: recovery reads 3 of 6 of every PG.
    database = open_database(cluster.directory)
    try:
        found = {row[0] for row in rows(database, "SELECT id FROM p")}
        missing = (load.acknowledged | set(preload)) - found
        assert not missing, f"acknowledged rows lost: {sorted(missing)[:10]}"
        rows(database, "INSERT INTO p VALUES (0, 'after recovery')")
        assert rows(database, "SELECT v FROM p WHERE id = 0") == [("after recovery",)]
    finally:
        database.close()
