"""Damaged log records at or below the chain base (already in the pages, kept in the log only
until the archive covers them) are cut out and never refetched: the node's archive log floor
must rise to the chain base, or its archiver would upload a chunk with a hole that restore
replays without noticing. Found by the failover drill (tools/failover_drill.py)."""

from __future__ import annotations

import os
import random

import trio

from aurora_lite.membership import ArchiveSettings, create_cluster_file
from aurora_lite.redo import RECORD_HEADER, RecordType, record_offsets
from aurora_lite.segment._node import SegmentNode, pg_directory
from aurora_lite.segment._scrub import Scrubber

from tests.segment._nodes import free_ports
from tests.segment.test_store import history


class _Gossip:
    def wake(self) -> None:
        pass


def _node(tmp_path) -> SegmentNode:
    config = create_cluster_file(os.path.join(tmp_path, "cluster.json"),
                                 [f"127.0.0.1:{port}" for port in free_ports(6)],
                                 pg_size=1 << 20,
                                 archive=ArchiveSettings(location=str(tmp_path / "archive")))
    node = SegmentNode(config, 1, str(tmp_path / "node-1"), fsync=False)
    node.open()
    return node


def _damage_below_chain_base(node: SegmentNode, rng: random.Random) -> tuple[int, int]:
    """Fill PG 0 with a history, materialize it all (the archive covers nothing: every log
    file is kept), flip a bit of a record below the chain base; (its lsn, the chain base)."""
    load, mtrs = history(rng, 30)
    store = node.store(0, create=True)
    for buffer in mtrs:
        store.append(buffer)
    store.sync()
    store.materialize(load.txn_ends[-1])
    directory = pg_directory(node.data_dir, 0)
    path = os.path.join(directory, sorted(n for n in os.listdir(directory)
                                          if n.startswith("redo-"))[0])
    data = open(path, "rb").read()
    offsets = [32 + o for o in record_offsets(data[32:], path, 32)
               if RECORD_HEADER.unpack_from(data, 32 + o)[5] != RecordType.VOID]
    offset = offsets[len(offsets) // 2]
    length, lsn = RECORD_HEADER.unpack_from(data, offset)[1:3]
    with open(path, "r+b") as handle:
        handle.seek(offset + length - 1)
        handle.write(bytes([data[offset + length - 1] ^ 0x04]))
    assert lsn <= store.chain_base
    return lsn, store.chain_base


def test_scrub_repair_below_the_chain_base_raises_the_archive_floor(tmp_path):
    node = _node(tmp_path)
    try:
        lsn, chain_base = _damage_below_chain_base(node, random.Random(7))
        assert node.archive_progress.floor(0) < lsn
        trio.run(Scrubber(node, pool=None, gossip=_Gossip()).scrub, 0)
        assert node.counters["log_repairs"] == 1
        store = node.store(0)
        # The record is gone from the log for good (nobody refetches below the chain base) ...
        _end, records = store.archive_range(0, store.scl, 1 << 30)
        assert lsn not in {RECORD_HEADER.unpack_from(records, o)[2]
                           for o in record_offsets(records)}
        # ... so the archiver may not cut a chunk from this log below the chain base.
        assert node.archive_progress.floor(0) >= chain_base
    finally:
        node.close()


def test_damage_cut_out_at_open_raises_the_archive_floor(tmp_path):
    node = _node(tmp_path)
    lsn, chain_base = _damage_below_chain_base(node, random.Random(8))
    node.close()
    node = SegmentNode(node.config, 1, node.data_dir, fsync=False)
    node.open()
    try:
        assert node.store(0).damaged_ranges()
        assert node.archive_progress.floor(0) >= chain_base > lsn
    finally:
        node.close()
