"""The cluster file and its secret: round trip, validation, permissions, and placement."""

from __future__ import annotations

import json
import os
import pathlib
import re

import pytest

from aurora_lite.errors import OperationalError, ProgrammingError
from aurora_lite.membership import (
    ClusterConfig, NodeInfo, create_cluster_file, holds, load, load_secret, parse_address,
    pg_of, positions_of, secret_path,
)

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "formats" / "cluster.md"


def addresses(count: int) -> list[str]:
    return [f"127.0.0.1:{7101 + i}" for i in range(count)]


def test_create_and_load_round_trip(tmp_path):
    config = create_cluster_file(tmp_path / "cluster.json", addresses(6), pg_size=16)
    assert load(tmp_path / "cluster.json") == config
    assert [n.node_id for n in config.nodes] == [1, 2, 3, 4, 5, 6]
    assert config.node(3).data == str(tmp_path / "node-3")
    assert (config.node(3).host, config.node(3).port) == ("127.0.0.1", 7103)
    assert re.fullmatch(r"[0-9a-f]{32}", config.cluster_id)
    assert len(load_secret(config.path)) == 32
    assert os.stat(secret_path(config.path)).st_mode & 0o777 == 0o600
    with pytest.raises(OperationalError, match="already exists"):
        create_cluster_file(tmp_path / "cluster.json", addresses(6))


def test_secret_is_refused_when_others_can_read_it(tmp_path):
    config = create_cluster_file(tmp_path / "cluster.json", addresses(6))
    os.chmod(config.secret_path, 0o644)
    with pytest.raises(OperationalError, match="mode 0644.*chmod 600"):
        load_secret(config.path)
    os.remove(config.secret_path)
    with pytest.raises(OperationalError, match="does not exist"):
        load_secret(config.path)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format=2), "format 2 is not supported"),
    (lambda d: d["nodes"].pop(), "at least 6 nodes"),
    (lambda d: d["nodes"][1].update(node_id=1), "distinct"),
    (lambda d: d["nodes"][1].update(address=d["nodes"][0]["address"]), "share an address"),
    (lambda d: d["nodes"][1].update(address="nowhere"), "HOST:PORT"),
    (lambda d: d.update(pg_size=0), "pg_size"),
    (lambda d: d.pop("cluster_id"), "missing or bad field"),
    (lambda d: d.update(cluster_id="xyz"), "cluster id"),
])
def test_bad_cluster_files_name_the_problem(tmp_path, change, message):
    config = create_cluster_file(tmp_path / "cluster.json", addresses(6))
    document = json.loads(pathlib.Path(config.path).read_text())
    change(document)
    pathlib.Path(config.path).write_text(json.dumps(document))
    with pytest.raises(OperationalError, match=message):
        load(config.path)


def test_missing_cluster_file(tmp_path):
    with pytest.raises(OperationalError, match="does not exist"):
        load(tmp_path / "nope.json")


def test_placement_six_nodes_hold_every_pg(tmp_path):
    config = create_cluster_file(tmp_path / "cluster.json", addresses(6), pg_size=4096)
    for pg in range(20):
        assert sorted(n.node_id for n in config.nodes_of(pg)) == [1, 2, 3, 4, 5, 6]
    assert config.pgs_of(4, 10) == list(range(10))
    assert config.pg_of(4095) == 0 and config.pg_of(4096) == 1
    assert config.page_range(3) == (3 * 4096, 4096)


@pytest.mark.parametrize("count", [7, 9, 12])
def test_placement_spreads_pgs(tmp_path, count):
    config = create_cluster_file(tmp_path / "cluster.json", addresses(count))
    pgs = count * 4
    load = {n.node_id: 0 for n in config.nodes}
    for pg in range(pgs):
        nodes = config.nodes_of(pg)
        assert len({n.node_id for n in nodes}) == 6
        # quorum.md: PG g on the nodes at positions (g + i) mod N, i = 0..5.
        assert [config.nodes.index(n) for n in nodes] == [(pg + i) % count for i in range(6)]
        for node in nodes:
            load[node.node_id] += 1
        assert len(config.peers_of(nodes[0].node_id, pg)) == 5
    # Every node holds the same number of PGs over N consecutive PGs.
    assert set(load.values()) == {pgs * 6 // count}
    for node in config.nodes:
        mine = config.pgs_of(node.node_id, pgs)
        assert mine == [pg for pg in range(pgs) if node in config.nodes_of(pg)]
        assert all(config.holds(node.node_id, pg) == (pg in mine) for pg in range(pgs))


def test_placement_functions():
    assert positions_of(7, 9) == (7, 8, 0, 1, 2, 3)
    assert holds(0, 7, 9) and not holds(6, 7, 9)
    assert pg_of(8191, 4096) == 1
    with pytest.raises(ProgrammingError):
        positions_of(0, 5)
    assert parse_address("[::1]:80") == ("::1", 80)
    with pytest.raises(ProgrammingError):
        parse_address("host:0")
    assert parse_address("host:0", any_port=True) == ("host", 0)


def _doc_block(title: str) -> str:
    text = DOC.read_text()
    start = text.index(title)
    block = text[text.index("```json\n", start) + 8:]
    return block[:block.index("```")]


def test_golden_cluster_file_matches_the_doc(tmp_path):
    """docs/formats/cluster.md's example is exactly what create_cluster_file writes."""
    golden = _doc_block("## Example")
    path = tmp_path / "cluster.json"
    config = ClusterConfig(
        str(path), "3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b", 1, 4096,
        tuple(NodeInfo(i, f"127.0.0.1:{7100 + i}", str(tmp_path / f"node-{i}"))
              for i in range(1, 7)))
    assert config.to_json() == golden
    path.write_text(golden)
    assert load(path) == config
