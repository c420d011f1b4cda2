"""The node side of archiving without processes: the retention hook keeps the hot log until the
archive covers it (A3), log floors are raised and persisted before records go (A2), and the
pages restore builds from the archived chunks are byte for byte the reference applier's
(Invariant 7), with the kernel and with the reference replay."""

from __future__ import annotations

import functools
import json
import random

import pytest

from aurora_lite.archive import (
    DESCRIPTOR, Catalog, Descriptor, LocalArchive, plan_restore, replay_pg,
)
from aurora_lite.env import Disk
from aurora_lite.page import page_lsn
from aurora_lite.segment import SegmentStore
from aurora_lite.segment._archiver import (
    STATE_FILE, ArchiveProgress, archive_store_range, archive_store_snapshot,
)
from aurora_lite.redo import RECORD_HEADER, record_offsets
from aurora_lite.volume import LsnAllocator

from tests.volume._workload import Workload, reference_pages

PAGES = 1 << 20


def open_store(directory, progress: ArchiveProgress) -> SegmentStore:
    store = SegmentStore(directory, 0, 0, PAGES, fsync=False, max_file_size=4096,
                         retain=functools.partial(progress.retain, 0),
                         before_install=functools.partial(progress.before_install, 0))
    progress.adopt(0, store.open(), store.chain_base)
    return store


def _records_above(log, lsn):
    for offset in record_offsets(log):
        length, record_lsn = RECORD_HEADER.unpack_from(log, offset)[1:3]
        if record_lsn > lsn:
            yield offset, length


@pytest.fixture
def history(tmp_path):
    seed = random.randrange(1 << 30)
    print("seed", seed)
    progress = ArchiveProgress(str(tmp_path), Disk(fsync=False))
    progress.load()
    store = open_store(str(tmp_path / "pg-00000000"), progress)
    load = Workload(LsnAllocator(pg_size=PAGES), lambda data, _lsn, _end: store.append(data),
                    random.Random(seed))
    ends = load.random_history(40)
    store.sync()
    yield progress, store, load, ends
    store.close()


def test_the_log_stays_until_archived_and_floors_are_persisted(history, tmp_path):
    progress, store, load, ends = history
    files = store.log_files()
    assert len(files) >= 4
    store.materialize(ends[-1])
    # The archive was never listed: nothing may go (A3).
    assert [f.seq for f in store.log_files()] == [f.seq for f in files]
    assert progress.floor(0) == 0
    covered = ends[len(ends) // 2]
    progress.set_covered(0, covered)
    dropped = [f for f in files if f.max_lsn <= covered]
    assert dropped and store.collect() == len(dropped)
    assert all(f.max_lsn > covered for f in store.log_files())
    # The floor moved to the newest record that left, and is on disk (A2).
    floor = max(f.max_lsn for f in dropped)
    assert progress.floor(0) == floor <= covered
    with open(tmp_path / STATE_FILE) as handle:
        assert json.load(handle)["floors"] == {"0": floor}
    # Every record above what the archive covers is still readable for the next chunk.
    end, records = store.archive_range(covered, ends[-1], 1 << 30)
    expected = b"".join(bytes(load.log[o:o + n]) for o, n in _records_above(load.log, covered))
    assert (end, records) == (ends[-1], expected)
    # A reloaded node remembers; pages installed from a peer raise the floor first.
    again = ArchiveProgress(str(tmp_path), Disk(fsync=False))
    again.load()
    assert again.floor(0) == floor
    again.before_install(0, 10**6)
    assert again.floor(0) == 10**6


def test_a_segment_older_than_the_archiver_is_trusted_above_its_chain_base(tmp_path):
    progress = ArchiveProgress(str(tmp_path), Disk(fsync=False))
    progress.load()
    progress.adopt(3, False, 777)       # existed before: its log may be collected below 777
    progress.adopt(4, True, 0)          # created now: its whole log is here
    progress.adopt(3, False, 999)       # known since: unchanged
    assert (progress.floor(3), progress.floor(4)) == (777, 0)
    (tmp_path / STATE_FILE).write_text("{not json")
    damaged = ArchiveProgress(str(tmp_path), Disk(fsync=False))
    damaged.load()                      # unreadable: every segment is of unknown history
    damaged.adopt(3, False, 1234)
    assert damaged.floor(3) == 1234


def test_restored_pages_are_the_reference_pages(history, tmp_path):
    _progress, store, load, ends = history
    archive = LocalArchive(tmp_path / "archive", fsync=False)
    archive.put(DESCRIPTOR, Descriptor("0" * 32, PAGES).encode())
    middle = ends[len(ends) // 2]
    covered = archive_store_range(store, archive, 0, 0, middle, chunk_bytes=2048)
    store.materialize(middle)
    snapshot = archive_store_snapshot(store, archive, 0, now_us=1)
    assert snapshot == middle
    archive_store_range(store, archive, 0, covered, ends[-1], chunk_bytes=2048)
    catalog = Catalog(archive).refresh()
    assert len(catalog.chunks[0]) > 4
    # The workload's commit times are 1000 * txn id: targets are picked by LSN.
    rng = random.Random(len(ends))
    for target in sorted(rng.sample(ends[1:], 5)) + [ends[-1]]:
        commit_lsns = [lsn for lsn, _time in catalog.commits()]
        point = max(lsn for lsn in commit_lsns if lsn <= target)
        plan = plan_restore(catalog, to_lsn=target)
        assert plan.lsn == point
        expected = reference_pages(load.log, point)
        for reference in (False, True):
            ids, pages = replay_pg(archive, plan.pgs[0], plan.lsn, reference=reference)
            built = {int(i): bytes(pages[row]) for row, i in enumerate(ids.tolist())
                     if page_lsn(pages[row]) > 0}
            assert built == {p: bytes(image) for p, image in expected.items()
                             if page_lsn(image) > 0}, (target, reference)
