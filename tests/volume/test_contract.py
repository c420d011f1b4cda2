"""Contract tests of the Volume interface, run for every implementation in conftest.py.

They build mini-transactions with aurora_lite.redo.MiniTransaction using the volume's own
allocator and check the volume against the reference applier (tests/volume/_workload.py).
"""

from __future__ import annotations

import threading

import pytest

from aurora_lite.errors import OperationalError
from aurora_lite.volume import RecoveredState, Volume

from tests.volume._workload import LEAVES, Workload, truncate_log

PAGES = (0, *LEAVES)
STAT_KEYS = {"redo_records_shipped", "redo_bytes_shipped", "page_bytes_shipped", "fsyncs",
             "group_commits", "vdl", "materialized_lsn"}


def workload(volume: Volume, rng, log=None) -> Workload:
    return Workload(volume, lambda buf, last, end: volume.submit(buf, last, txn_end=end), rng,
                    log)


def check_pages(volume: Volume, load: Workload, read_points) -> None:
    for read_point in read_points:
        for page_id in PAGES:
            assert volume.get_page(page_id, read_point) == load.expected(page_id, read_point), \
                f"page {page_id} at read point {read_point}"


def test_open_creates_then_recovers(make_volume):
    volume = make_volume()
    state = volume.open()
    assert isinstance(state, RecoveredState)
    assert (state.created, state.durable_point, state.vdl, state.next_lsn) == (True, 0, 0, 1)
    first_epoch = state.epoch
    volume.close()
    again = make_volume()
    state = again.open()
    assert not state.created
    assert state.epoch > first_epoch
    assert again.protection_group_anchors()


def test_wait_durable_and_get_page_at_read_points(make_volume, rng):
    volume = make_volume()
    volume.open()
    load = workload(volume, rng)
    read_points = load.random_history(25)
    assert volume.wait_durable(load.last_lsn, timeout=10) >= load.last_lsn
    assert volume.vdl >= load.last_lsn
    check_pages(volume, load, [read_points[0], *rng.sample(read_points, 6), read_points[-1]])
    # The newest versions equal the writer's own pages.
    for page_id, page in load.pages.items():
        assert volume.get_page(page_id, load.last_lsn) == page


def test_restart_keeps_up_to_last_transaction_end_and_nothing_after(make_volume, rng):
    volume = make_volume()
    volume.open()
    load = workload(volume, rng)
    load.random_history(8)
    durable_point = load.commit()
    load.change(5)                      # an unfinished transaction, durable but not committed
    volume.wait_durable(load.last_lsn, timeout=10)
    volume.close()

    volume = make_volume()
    state = volume.open()
    assert state.durable_point == durable_point
    assert state.vdl == durable_point and volume.vdl == durable_point
    assert state.next_lsn == durable_point + 1
    kept = truncate_log(load.log, durable_point)
    load = workload(volume, rng, kept)
    check_pages(volume, load, [durable_point])
    # The writer continues from the durable point; the old tail never reappears.
    token = volume.mark()
    assert volume.allocate(0)[0] == state.next_lsn
    volume.reset(token)
    volume.close()
    volume = make_volume()
    volume.open()
    load = workload(volume, rng, kept)
    load.random_history(4)
    volume.wait_durable(load.last_lsn, timeout=10)
    check_pages(volume, load, load.txn_ends[-3:])


def test_rollback_records_are_skipped(make_volume, rng):
    volume = make_volume()
    volume.open()
    load = workload(volume, rng)
    load.create()
    committed = load.commit()
    load.change(10)
    load.rollback()
    savepoint = load.last_lsn
    load.change(3)
    load.rollback(savepoint)
    end = load.commit()
    volume.wait_durable(end, timeout=10)
    for page_id in PAGES:
        # Nothing of the rolled-back work is visible: the pages are as at the commit before.
        if page_id:
            assert volume.get_page(page_id, end) == load.expected(page_id, committed)
        assert volume.get_page(page_id, end) == load.expected(page_id, end)


def test_wait_durable_times_out(make_volume):
    volume = make_volume()
    volume.open()
    with pytest.raises(OperationalError, match="durable"):
        volume.wait_durable(10**9, timeout=0.05)


def test_reset_gives_lsns_back(make_volume):
    volume = make_volume()
    volume.open()
    token = volume.mark()
    first = volume.allocate(3)
    volume.allocate(4)
    volume.reset(token)
    assert volume.allocate(3) == first


def test_group_commit_from_several_threads(make_volume, rng):
    volume = make_volume(fsync=True)
    volume.open()
    load = workload(volume, rng)
    volume.wait_durable(load.create(), timeout=10)
    before = volume.statistics()
    lock = threading.Lock()            # the writer's write lock: one MTR is built at a time
    errors = []

    def writer(count: int) -> None:
        try:
            for _ in range(count):
                with lock:
                    last = load.change(1, records=2)
                volume.wait_durable(last, timeout=10)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(40,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    after = volume.statistics()
    submits = 240
    fsyncs = after["fsyncs"] - before["fsyncs"]
    commits = after["group_commits"] - before["group_commits"]
    print(f"{submits} submits -> {commits} group commits, {fsyncs} fsyncs")
    assert fsyncs < submits
    assert commits < submits


def test_materialization_keeps_pages(make_volume, rng):
    volume = make_volume(materialize_records=1)
    volume.open()
    load = workload(volume, rng)
    read_points = load.random_history(30)
    volume.wait_durable(load.last_lsn, timeout=10)
    horizon = read_points[len(read_points) // 2]
    before = {(p, r): volume.get_page(p, r) for p in PAGES for r in read_points
              if r >= horizon}
    volume.set_horizon(horizon)
    deadline = threading.Event()
    for _ in range(200):
        if volume.statistics()["materialized_lsn"] >= horizon:
            break
        deadline.wait(0.05)
    assert volume.statistics()["materialized_lsn"] == horizon
    for (page_id, read_point), page in before.items():
        assert volume.get_page(page_id, read_point) == page


def test_statistics(make_volume, rng):
    volume = make_volume()
    volume.open()
    load = workload(volume, rng)
    load.random_history(3)
    volume.wait_durable(load.last_lsn, timeout=10)
    stats = volume.statistics()
    assert STAT_KEYS <= set(stats)
    assert stats["page_bytes_shipped"] == 0          # Invariant 1
    assert stats["redo_bytes_shipped"] == len(load.log)
    assert stats["redo_records_shipped"] > 0
    assert stats["vdl"] == load.last_lsn


def test_get_page_from_inside_another_trio_loop(make_volume, rng):
    """The wire server runs cheap reads on its own trio event loop, and such a read may miss the
    buffer pool: the volume must serve get_page to a caller that is inside a trio run (a
    ClusterVolume's reads run on its own I/O loop; trio.from_thread.run alone refuses that)."""
    import trio

    volume = make_volume()
    volume.open()
    load = workload(volume, rng)
    load.random_history(5)
    volume.wait_durable(load.last_lsn, timeout=10)

    async def read_inside_a_loop() -> dict[int, bytes]:
        return {page_id: bytes(volume.get_page(page_id, load.last_lsn))
                for page_id in load.pages}

    pages = trio.run(read_inside_a_loop)
    assert pages == {page_id: bytes(page) for page_id, page in load.pages.items()}
