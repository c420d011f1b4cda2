"""Early lock release and group commit on six real storage processes.

A committing transaction issues its COMMIT record, gives up the write lock at once and only
then waits for durability (VDL >= its commit LSN) without holding anything, so the commits of
many threads share the segments' fsyncs. The storage nodes are slowed to a halt (SIGSTOP):
while thread A waits for its commit to become durable, seven more threads each take the write
lock, insert and issue their own COMMIT record - impossible if A held the lock until durable
(they would block until after the nodes resume, and fail after ``lock_timeout``). Once the
nodes resume (SIGCONT), one advance of VDL acknowledges all eight commits, and each node made
them durable with a round or two of fsyncs, not eight.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from aurora_lite.cluster import ensure_cluster
from aurora_lite.dbapi import Connection
from aurora_lite.volume import ClusterVolume

from tests.volume._sqlload import open_database, rows

pytestmark = pytest.mark.timeout(240)

NODE_ARGS = ("--gossip-interval", "0.2", "--gap-wait", "0.2", "--log-level", "warning")
THREADS = 8
LOCK_TIMEOUT = 2.0


class ObservedVolume(ClusterVolume):
    """A ClusterVolume that records durability waits (entered, returned) and every VDL it
    publishes, each with the time."""

    def __init__(self, *args, **options) -> None:
        super().__init__(*args, **options)
        self.observed_lock = threading.Lock()
        self.entered: dict[str, tuple[float, int]] = {}      # thread -> (time, lsn)
        self.returned: dict[str, tuple[float, int]] = {}     # thread -> (time, vdl)
        self.published: list[tuple[float, int]] = []         # (time, vdl)
        self.watch = False

    def wait_durable(self, lsn: int, timeout: float | None = None) -> int:
        name = threading.current_thread().name
        if self.watch:
            with self.observed_lock:
                self.entered[name] = (time.monotonic(), lsn)
        vdl = super().wait_durable(lsn, timeout)
        if self.watch:
            with self.observed_lock:
                self.returned[name] = (time.monotonic(), vdl)
        return vdl

    def publish_vdl(self, vdl: int, durable_txn_end: int) -> None:
        if self.watch:
            with self.observed_lock:
                self.published.append((time.monotonic(), vdl))
        super().publish_vdl(vdl, durable_txn_end)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # No archiving: its chunk files would add fsyncs to the ones the test counts.
    handle = ensure_cluster(str(tmp_path_factory.mktemp("cluster")), node_args=NODE_ARGS,
                            stop_at_exit=True, timeout=120, archive=None)
    try:
        yield handle
    finally:
        handle.stop()
        handle.close()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout:g} s"
        time.sleep(0.005)


def test_commit_releases_the_write_lock_before_waiting_for_durability(cluster):
    database = open_database(cluster.directory, volume_class=ObservedVolume,
                             lock_timeout=LOCK_TIMEOUT, commit_timeout=60.0,
                             horizon_interval=3600.0)      # no page writes to count as fsyncs
    volume: ObservedVolume = database.volume
    pids = [process.pid for process in cluster.processes.values()]
    stopped = False
    errors: list[BaseException] = []
    try:
        rows(database, "CREATE TABLE g (id INTEGER PRIMARY KEY, who TEXT)")
        for i in range(5):
            rows(database, "INSERT INTO g VALUES (?, 'warm-up')", (-1 - i,))
        before = volume.statistics()
        fsyncs_before = {n: node["fsyncs"] for n, node in before["nodes"].items()}

        def commit(row_id: int) -> None:
            connection = Connection(database, autocommit=True, owns_database=False)
            try:
                connection.execute("INSERT INTO g VALUES (?, ?)",
                                   (row_id, threading.current_thread().name))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        volume.watch = True
        for pid in pids:                     # every storage node stops answering
            os.kill(pid, signal.SIGSTOP)
        stopped = True
        first = threading.Thread(target=commit, args=(0,), name="A", daemon=True)
        first.start()
        _wait(lambda: "A" in volume.entered or errors, 10, "A did not issue its commit")
        assert not errors, errors
        rest = [threading.Thread(target=commit, args=(i,), name=f"B{i}", daemon=True)
                for i in range(1, THREADS)]
        for thread in rest:
            thread.start()
        # Each of them takes the write lock A had, inserts and issues its COMMIT record while
        # A still waits: they all wait for durability at once.
        _wait(lambda: len(volume.entered) == THREADS or errors, 3 * LOCK_TIMEOUT,
              f"only {sorted(volume.entered)} issued their commits while A waited")
        assert not errors, f"a commit failed while A waited for durability: {errors[:2]}"
        assert not volume.returned, f"acknowledged with every node stopped: {volume.returned}"
        # Nobody holds the write lock: a writer that comes now gets it at once.
        probe = object()
        began = time.monotonic()
        database.acquire_write_lock(probe)
        database.release_write_lock(probe)
        assert time.monotonic() - began < 0.5
        commit_lsns = sorted(lsn for _t, lsn in volume.entered.values())
        # Every commit record was shipped (the frontier passed them) before the nodes resume.
        _wait(lambda: volume.statistics()["frontier"] >= commit_lsns[-1], 5,
              "the commit records were not all sent")
        while_stopped = volume.statistics()
        resumed_at = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        stopped = False
        for thread in [first, *rest]:
            thread.join(30)
        assert not any(thread.is_alive() for thread in [first, *rest]), \
            "commits not acknowledged 30 s after the nodes resumed"
        assert not errors, errors[:2]
        after = volume.statistics()
    finally:
        if stopped:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        volume.watch = False
        database.close()

    entered_last = max(t for t, _lsn in volume.entered.values())
    # The timing bound a held lock cannot meet: all eight commit records were issued while
    # the nodes were stopped, i.e. before the first of them could possibly be durable.
    assert entered_last < resumed_at
    assert min(t for t, _vdl in volume.returned.values()) >= resumed_at    # never early
    # One VDL advance acknowledged them all: the first VDL published after the nodes resumed
    # that covers A's commit covers every other commit too.
    first_cover = next(vdl for t, vdl in volume.published
                       if t >= resumed_at and vdl >= volume.entered["A"][1])
    assert first_cover >= commit_lsns[-1], \
        f"A acknowledged at VDL {first_cover} before the others (commits at {commit_lsns})"
    flushes = while_stopped["flushes"] - before["flushes"]
    submits = while_stopped["submits"] - before["submits"]
    fsyncs = {n: after["nodes"][n]["fsyncs"] - fsyncs_before[n] for n in fsyncs_before}
    print(f"{THREADS} commits issued in {entered_last - volume.entered['A'][0]:.3f}"
          f" s while A waited; {submits} MTRs in {flushes} flushes; acknowledged "
          f"{max(t for t, _v in volume.returned.values()) - resumed_at:.3f} s after the "
          f"nodes resumed, by VDL {first_cover}; fsyncs per node {fsyncs}")
    assert submits >= THREADS                    # a COMMIT record each, at least
    assert flushes < THREADS, "every commit went out in a flush of its own"
    # Segment group commit: every node made the eight commits durable in far fewer fsyncs.
    assert all(count <= 3 for count in fsyncs.values()), fsyncs
    found = {row[0] for row in rows_after(cluster)}
    assert set(range(THREADS)) <= found


def rows_after(cluster) -> list[tuple]:
    database = open_database(cluster.directory)
    try:
        return rows(database, "SELECT id FROM g")
    finally:
        database.close()
