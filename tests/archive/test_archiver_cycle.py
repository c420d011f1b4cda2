"""The archiver's decisions, driven step by step with a fake clock (no processes, no trio): the
rank-0 node archives, the next node takes over only after the coverage stalls for its rank's
delay, snapshots come every interval, retention deletes what the window no longer needs, the
hot log goes once archived, and a node whose log is collected starts an empty archive from a
snapshot (A1-A4 of segment/_archiver.py)."""

from __future__ import annotations

import functools
import os
import random

import pytest
import trio

from aurora_lite.archive import Catalog, open_archive, plan_restore, replay_pg, restore_window
from aurora_lite.env import Disk
from aurora_lite.membership import ArchiveSettings, create_cluster_file
from aurora_lite.page import page_lsn
from aurora_lite.redo import RecordType, iter_records
from aurora_lite.segment import SegmentStore
from aurora_lite.segment._archiver import ArchiveProgress, Archiver
from aurora_lite.volume import LsnAllocator

from tests.volume._workload import Workload, reference_pages

PAGES = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeNode:
    """What the archiver uses of a SegmentNode, over one real segment store of PG 0."""

    def __init__(self, config, node_id: int, directory: str) -> None:
        self.config = config
        self.node_id = node_id
        self.disk = Disk(fsync=False)
        self.archive_progress = ArchiveProgress(directory, self.disk)
        self.archive_progress.load()
        self.horizon = 0
        self.store = SegmentStore(
            os.path.join(directory, "pg-00000000"), 0, 0, PAGES, disk=self.disk,
            max_file_size=4096, retain=functools.partial(self.archive_progress.retain, 0),
            before_install=functools.partial(self.archive_progress.before_install, 0))
        self.archive_progress.adopt(0, self.store.open(), self.store.chain_base)

    def durable_scl(self, pg: int) -> int:
        return self.store.sync()

    def stores(self) -> dict:
        return {0: self.store}


@pytest.fixture
def setup(tmp_path):
    seed = random.randrange(1 << 30)
    print("seed", seed)
    settings = ArchiveSettings(str(tmp_path / "archive"), retention_seconds=30.0,
                               snapshot_interval=60.0, chunk_interval=1.0, chunk_bytes=1 << 16)
    config = create_cluster_file(tmp_path / "cluster.json",
                                 [f"127.0.0.1:{7000 + i}" for i in range(6)], pg_size=PAGES,
                                 archive=settings)
    nodes = [FakeNode(config, node_id, str(tmp_path / f"node-{node_id}"))
             for node_id in (1, 2, 3)]

    def submit(data: bytes, _lsn: int, _end: bool) -> None:
        for node in nodes:
            node.store.append(data)

    load = Workload(LsnAllocator(pg_size=PAGES), submit, random.Random(seed))
    clock = Clock()
    archivers = [Archiver(node, config.archive, clock=clock) for node in nodes]
    for archiver in archivers:
        archiver._check_descriptor()
    yield nodes, archivers, load, clock, settings
    for node in nodes:
        node.store.close()


def cycle(archiver: Archiver, horizon: int) -> None:
    archiver.node.horizon = horizon
    archiver._horizons.append(horizon)
    archiver._pg_cycle(0, archiver.node.store)


def test_one_node_archives_and_the_next_takes_over_after_a_stall(setup):
    nodes, (first, second, third), load, clock, settings = setup
    ends = load.random_history(40)
    store = open_archive(settings.location)
    assert [n.node_id for n in first.node.config.nodes_of(0)][:3] == [1, 2, 3]
    cycle(first, ends[10])
    cycle(second, ends[10])
    cycle(third, ends[10])
    catalog = Catalog(store).refresh()
    assert catalog.covered_end(0) == ends[10]
    assert first.counters["chunks"] >= 1 and second.counters["chunks"] == 0
    # Node 1 falls silent. Node 2 waits one takeover delay, node 3 two.
    clock.now += 0.6
    cycle(second, ends[20])
    cycle(third, ends[20])
    assert Catalog(store).refresh().covered_end(0) == ends[10]
    clock.now += second.takeover_delay
    cycle(second, ends[20])
    cycle(third, ends[20])
    assert Catalog(store).refresh().covered_end(0) == ends[20]
    assert second.counters["chunks"] >= 1 and third.counters["chunks"] == 0
    assert second.counters["takeover_cycles"] >= 1
    # Node 1 is back: it picks up from what the archive covers; the others stay quiet.
    clock.now += 1.5
    cycle(first, ends[30])
    clock.now += 0.6
    cycle(second, ends[30])
    cycle(third, ends[30])
    assert Catalog(store).refresh().covered_end(0) == ends[30]
    assert (second.counters["chunks"], third.counters["chunks"]) == (
        second.counters["chunks"], 0)
    assert restore_window(Catalog(store).refresh()).ceiling == ends[30]


def test_snapshots_retention_and_collection(setup):
    nodes, (first, _second, _third), load, clock, settings = setup
    ends = load.random_history(40)
    store = open_archive(settings.location)
    files_before = len(first.node.store.log_files())
    first.node.store.materialize(ends[20])
    # The archive was never listed: nothing goes (A3).
    assert len(first.node.store.log_files()) == files_before
    assert first.progress.floor(0) == 0
    cycle(first, ends[10])                       # archives up to ends[10], then collects
    clock.now += settings.chunk_interval
    cycle(first, ends[20])
    assert len(first.node.store.log_files()) < files_before
    assert 0 < first.progress.floor(0) <= ends[20]
    # A snapshot once the interval has passed; retention then drops what precedes it. The
    # workload's commit times are 1000 * txn id microseconds: "now" is far past all of them.
    clock.now += settings.snapshot_interval
    cycle(first, ends[-1])
    catalog = Catalog(store).refresh()
    assert [s.lsn for s in catalog.snapshots[0]] == [ends[20]]
    # The chunk (0, ends[10]] went; (ends[10], ends[20]] stays: it ends at the snapshot.
    assert first.counters["deleted"] >= 1
    assert min(ref.end for ref in catalog.chunks[0]) == ends[20]
    window = restore_window(catalog)
    commits = [r.lsn for r in iter_records(load.log) if r.type == RecordType.COMMIT]
    assert window.earliest_lsn == min(c for c in commits if c >= ends[20])
    assert (window.latest_lsn, window.ceiling) == (commits[-1], ends[-1])
    plan = plan_restore(catalog, to_lsn=ends[-1])
    assert plan.lsn == commits[-1]
    ids, pages = replay_pg(store, plan.pgs[0], plan.lsn)
    expected = reference_pages(load.log, plan.lsn)
    assert {int(i): bytes(pages[r]) for r, i in enumerate(ids.tolist()) if page_lsn(pages[r])} \
        == {p: bytes(v) for p, v in expected.items() if page_lsn(v)}


def test_a_new_archive_of_a_collected_log_starts_from_a_snapshot(setup, tmp_path):
    nodes, (first, *_others), load, clock, settings = setup
    ends = load.random_history(30)
    cycle(first, ends[-1])
    first.node.store.materialize(ends[-1])
    clock.now += settings.chunk_interval
    cycle(first, ends[-1])
    floor = first.progress.floor(0)
    assert floor > 0
    # Archiving moves to an empty location: the log below the floor is gone (A2), so the new
    # archive starts from the pages (A4) and continues with chunks from there.
    moved = ArchiveSettings(str(tmp_path / "moved"), retention_seconds=None,
                            snapshot_interval=60.0, chunk_interval=1.0)
    archiver = Archiver(first.node, moved, clock=clock)
    archiver._check_descriptor()
    more = load.random_history(10)
    clock.now += 1
    cycle(archiver, more[-1])
    clock.now += 1
    cycle(archiver, more[-1])
    catalog = Catalog(open_archive(moved.location)).refresh()
    assert [s.lsn for s in catalog.snapshots[0]] == [ends[-1]]
    assert catalog.chunks[0][0].start == ends[-1]
    assert catalog.covered_end(0) == more[-1]
    window = restore_window(catalog)
    # The commit the snapshot sits on is in no chunk of this archive: the window starts at the
    # first commit the chunks hold.
    commits = [r.lsn for r in iter_records(load.log) if r.type == RecordType.COMMIT]
    assert window.earliest_lsn == min(c for c in commits if c > ends[-1])


def test_an_unusable_archive_is_reported_and_retried_not_fatal(setup, tmp_path):
    nodes, _archivers, load, clock, _settings = setup
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    broken = ArchiveSettings(str(blocker), retention_seconds=None, chunk_interval=0.1)
    archiver = Archiver(nodes[0], broken, clock=clock)
    load.random_history(5)

    async def run_briefly() -> None:
        with trio.move_on_after(0.5):
            await archiver.run()

    trio.run(run_briefly)
    assert archiver.counters["errors"] >= 2, "retried"
    assert "not-a-directory" in archiver.last_error
    assert archiver.statistics()["last_error"] == archiver.last_error
    # Nothing was collected meanwhile: the hot log waits for the archive (A3).
    assert nodes[0].archive_progress.covered(0) is None
