"""ClusterVolume beyond the Volume contract, on six in-process storage nodes (fast):

* several protection groups: records split by PG, rollbacks that VOID in every PG, a PG
  created after recovery, a recovery with two nodes down (the VOID path, recovery.md step 5);
* back-pressure when the write quorum is lost (Q5);
* recovery that has to read records to find the durable point (a TXN_END above VCL).
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from aurora_lite.errors import OperationalError
from aurora_lite.page import PageType, empty_page
from aurora_lite.redo import MiniTransaction
from aurora_lite.segment import BlockingNodeClient
from aurora_lite.volume import ClusterVolume, LsnAllocator
from aurora_lite.wire import Role, Section, WriteBatch

from tests.volume._servers import ThreadedCluster
from tests.volume._workload import Workload, reference_pages, truncate_log

PG_SIZE = 4          # the workload's pages 0..8 fall into PGs 0, 1 and 2


class AnchoredWorkload(Workload):
    """Rollbacks VOID at every protection-group anchor of the volume, as Session does."""

    def rollback(self, savepoint: int | None = None) -> int:
        whole = savepoint is None
        start = self.txn_start if whole else savepoint

        def build(mtr) -> None:
            for anchor in self.allocator.protection_group_anchors():
                mtr.void(anchor, start)
        lsn = self.mtr(build, txn_end=whole)
        self.pages = reference_pages(self.log, lsn)
        return lsn


@pytest.fixture
def cluster(tmp_path):
    cluster = ThreadedCluster(tmp_path / "cluster", pg_size=PG_SIZE)
    try:
        yield cluster
    finally:
        cluster.close()


def open_volume(cluster, **options) -> ClusterVolume:
    options.setdefault("open_timeout", 20.0)
    volume = ClusterVolume(cluster.path, **options)
    volume.open()
    return volume


def workload(volume: ClusterVolume, rng, log=None) -> AnchoredWorkload:
    return AnchoredWorkload(volume, lambda buf, last, end: volume.submit(buf, last, txn_end=end),
                            rng, log)


def check(volume: ClusterVolume, load: Workload, read_points) -> None:
    for read_point in read_points:
        for page_id in range(9):
            assert volume.get_page(page_id, read_point) == load.expected(page_id, read_point), \
                f"page {page_id} at read point {read_point}"


def test_protection_groups_rollbacks_and_recovery_with_two_nodes_down(cluster, rng):
    volume = open_volume(cluster)
    try:
        load = workload(volume, rng)
        read_points = load.random_history(20)
        volume.wait_durable(load.last_lsn, timeout=10)
        assert volume.protection_group_anchors() == [0, 4, 8]
        stats = volume.statistics()
        assert sorted(stats["pgcl"]) == [0, 1, 2]
        check(volume, load, rng.sample(read_points, 4) + [read_points[-1]])
        load.change(4)                       # not committed: recovery drops it
        volume.wait_durable(load.last_lsn, timeout=10)
        durable_point = load.txn_ends[-1]
    finally:
        volume.close()
    cluster.stop(2)
    cluster.stop(5)
    volume = open_volume(cluster)
    try:
        state = volume.statistics()
        assert state["epoch"] == 2
        kept = truncate_log(load.log, durable_point)
        # Stragglers may hold records in (D, G): a VOID at G in every PG covers them.
        assert volume.vdl > durable_point + volume.options.window
        load = workload(volume, rng, kept)
        check(volume, load, [durable_point])
        read_points = load.random_history(6)
        # A page in a new PG (3): its first section starts at 0, its floor at the frontier.
        load.mtr(lambda mtr: mtr.init_page(load.page(13), 13, PageType.LEAF, tree_id=2))
        end = load.commit()
        volume.wait_durable(end, timeout=10)
        assert volume.protection_group_anchors() == [0, 4, 8, 12]
        check(volume, load, read_points[-2:] + [end])
        assert volume.get_page(13, end) == load.expected(13, end)
    finally:
        volume.close()


def test_lost_write_quorum_gives_back_pressure_then_recovers(cluster):
    volume = open_volume(cluster, window=64, backpressure_timeout=0.5)
    try:
        load = workload(volume, random.Random(7))
        volume.wait_durable(load.create(), timeout=10)
        for node in (1, 2, 3):
            cluster.stop(node)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="back-pressure"):
            for _ in range(200):
                load.change(1, records=3)
        assert time.monotonic() - started < 10
        with pytest.raises(OperationalError, match="durable"):
            volume.wait_durable(load.last_lsn, timeout=0.2)
        cluster.start(1)
        assert volume.wait_durable(load.last_lsn, timeout=20) >= load.last_lsn
        load.change(1)                       # room in the window again
    finally:
        volume.close()


def _crafted_history() -> tuple[bytes, bytes, int]:
    """PG 0 records at LSNs 1-4 and 6-10 (TXN_ENDs at 3 and 8), PG 1 records at LSN 5."""
    allocator = LsnAllocator(pg_size=PG_SIZE)
    pg0, pg1 = bytearray(), bytearray()
    page0, page1, page4 = empty_page(), empty_page(), empty_page()
    plan = [(0, False), (0, False), (0, True), (1, False), (4, False),
            (1, False), (0, False), (0, True), (1, False), (1, False)]
    for index, (page_id, txn_end) in enumerate(plan):
        mtr = MiniTransaction(allocator)
        if page_id == 0:
            if index == 0:
                mtr.init_page(page0, 0, PageType.META)
            else:
                mtr.commit_record(page0, index, index)
        elif page_id == 1:
            if not page1[7]:
                mtr.init_page(page1, 1, PageType.LEAF, tree_id=1)
            else:
                mtr.insert_cell(page1, 1, 0, bytes([index]) * 8)
        else:
            mtr.init_page(page4, 4, PageType.LEAF, tree_id=2)
        buffer = mtr.finish(txn_end=txn_end)
        (pg0 if page_id < PG_SIZE else pg1).extend(buffer)
    return bytes(pg0), bytes(pg1), 3


def test_recovery_reads_records_when_a_transaction_end_lies_above_vcl(cluster):
    """Nodes 1-3 hold PG 0 up to LSN 10 but PG 1 only up to 5: VCL is 5, yet each reports its
    last TXN_END of PG 0 (8) above it. Recovery reads PG 0's records in (0, 5] to find the
    durable point (3), not 8 (R2: D <= VDL <= VCL)."""
    pg0, pg1, expected = _crafted_history()
    batch = WriteBatch(1, (Section(0, 0, 10, pg0), Section(1, 0, 5, pg1)))
    for node in (4, 5, 6):
        cluster.stop(node)
    for node in (1, 2, 3):
        with BlockingNodeClient(cluster.config.node(node).address, cluster.secret,
                                role=Role.WRITER, timeout=10) as client:
            client.request(batch)
    # The three others come back while recovery waits for the VOID to reach a write quorum.
    restarter = threading.Timer(1.0, lambda: [cluster.start(n) for n in (4, 5, 6)])
    restarter.start()
    try:
        volume = ClusterVolume(cluster.path, open_timeout=30.0, recovery_grace=0.1)
        state = volume.open()
        try:
            assert state.durable_point == expected
            assert state.epoch == 2
            assert volume.get_page(0, state.durable_point)[7] == PageType.META
        finally:
            volume.close()
    finally:
        restarter.join(30)
