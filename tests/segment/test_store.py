"""SegmentStore: append/SCL, lookups, get_page at read points, materialization + GC, truncation,
recovery (torn tail, damage, salvage and repair from a peer), control file, epochs."""

from __future__ import annotations

import os
import random

import pytest

from aurora_lite.errors import (
    CorruptionError, InternalError, OperationalError, StaleEpochError,
)
from aurora_lite.page import PAGE_SIZE, PageType, empty_page
from aurora_lite.redo import (
    FLAG_CPL, FLAG_TXN_END, RECORD_HEADER, MiniTransaction, append_record, record_offsets,
)
from aurora_lite.segment import SegmentStore
from aurora_lite.volume import LsnAllocator

from tests.segment._faults import Crash, FaultyDisk
from tests.volume._workload import LEAVES, Workload, reference_page, truncate_log

ALL = 1 << 32
PAGES = (0, *LEAVES)


def make_store(path, **options) -> SegmentStore:
    options.setdefault("fsync", False)
    store = SegmentStore(path, 0, 0, ALL, **options)
    store.open()
    return store


def history(rng: random.Random, transactions: int = 20) -> tuple[Workload, list[bytes]]:
    """A random history and its MTR buffers, generated without any store."""
    mtrs: list[bytes] = []
    load = Workload(LsnAllocator(pg_size=ALL), lambda buf, last, end: mtrs.append(buf), rng)
    load.random_history(transactions)
    return load, mtrs


def records(log: bytes) -> list[tuple[int, bytes]]:
    out = []
    for offset in record_offsets(log):
        length, lsn = RECORD_HEADER.unpack_from(log, offset)[1:3]
        out.append((lsn, bytes(log[offset:offset + length])))
    return out


def log_files(path) -> list[str]:
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.startswith("redo-"))


def check(store: SegmentStore, load: Workload, read_points) -> None:
    for read_point in read_points:
        for page_id in PAGES:
            assert store.get_page(page_id, read_point) == load.expected(page_id, read_point), \
                f"page {page_id} at read point {read_point}"


# -- append, SCL, lookups ---------------------------------------------------------------------

def test_append_in_order_and_lookups(tmp_path, rng):
    load, mtrs = history(rng)
    store = make_store(tmp_path)
    for buffer in mtrs:
        store.append(buffer)
    assert store.sync() == load.last_lsn
    assert store.scl == store.max_lsn == load.last_lsn
    log = bytes(load.log)
    cpls = [lsn for lsn, rec in records(log) if rec[29] & FLAG_CPL]
    ends = [lsn for lsn, rec in records(log) if rec[29] & FLAG_TXN_END]
    for probe in rng.sample(range(1, load.last_lsn + 1), 20):
        assert store.last_cpl(probe) == max([c for c in cpls if c <= probe], default=0)
        assert store.last_txn_end(probe) == max([e for e in ends if e <= probe], default=0)
    low, high = sorted(rng.sample(range(0, load.last_lsn + 1), 2))
    assert store.records_in_range(low, high) == b"".join(
        rec for lsn, rec in records(log) if low < lsn <= high)
    check(store, load, load.txn_ends[-4:])
    stats = store.statistics()
    assert stats["records"] == len(records(log)) and stats["log_syncs"] == 1
    with pytest.raises(OperationalError, match="SCL"):
        store.get_page(1, load.last_lsn + 1)
    store.close()


def test_out_of_order_duplicates_and_gaps(tmp_path, rng):
    load, _ = history(rng)
    recs = records(bytes(load.log))
    shuffled = recs[:]
    rng.shuffle(shuffled)
    store = make_store(tmp_path)
    held: set[int] = set()
    for index in range(0, len(shuffled), 7):
        chunk = shuffled[index:index + 7]
        store.append(b"".join(rec for _, rec in chunk))
        held.update(lsn for lsn, _ in chunk)
        expected_scl = 0
        while expected_scl + 1 in held:
            expected_scl += 1
        assert store.scl == expected_scl
        if expected_scl < load.last_lsn:
            after, upto = store.gaps()[0]
            assert after == expected_scl and after < expected_scl + 1 <= upto
    assert store.scl == load.last_lsn and not store.gaps()
    count = store.statistics()["records"]
    store.append(b"".join(rec for _, rec in rng.sample(recs, 10)))
    assert store.statistics()["records"] == count
    assert store.statistics()["duplicates"] == 10
    check(store, load, load.txn_ends[-3:])
    store.close()
    store = make_store(tmp_path)        # the chain is rebuilt from the files
    assert store.scl == load.last_lsn
    check(store, load, load.txn_ends[-3:])
    store.close()


def test_pending_bound_refuses_but_never_blocks_gap_closing(tmp_path, rng):
    load, _ = history(rng, 5)
    recs = records(bytes(load.log))
    store = make_store(tmp_path, max_pending=4)
    store.append(b"".join(rec for _, rec in recs[2:]))      # 1 and 2 missing
    assert store.statistics()["refused"] == len(recs) - 2 - 4
    assert store.scl == 0
    store.append(recs[0][1] + recs[1][1])
    assert store.scl == recs[2 + 4 - 1][0]                 # the four kept records chained
    store.append(b"".join(rec for _, rec in recs))           # the sender retries
    assert store.scl == load.last_lsn
    store.close()


def test_chain_of_one_protection_group_among_several(tmp_path):
    allocator = LsnAllocator(pg_size=100)
    log = bytearray()
    for index in range(300):
        page = (index * 37) % 300
        lsn, prev = allocator.allocate(page)
        append_record(log, lsn, prev, page, 6, FLAG_CPL, b"\x40\x00" + bytes(8))
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    mine = [(lsn, rec) for lsn, rec in records(bytes(log))
            if 100 <= RECORD_HEADER.unpack_from(rec)[4] < 200]
    store.append(b"".join(rec for _, rec in reversed(mine)))
    assert store.scl == mine[-1][0]
    with pytest.raises(InternalError, match="outside"):
        store.append(records(bytes(log))[0][1] if RECORD_HEADER.unpack_from(
            records(bytes(log))[0][1])[4] < 100 else b"")
    store.close()


def test_append_checks_every_record(tmp_path, rng):
    load, mtrs = history(rng, 2)
    store = make_store(tmp_path)
    bad = bytearray(mtrs[0])
    bad[-1] ^= 0x10
    with pytest.raises(CorruptionError, match="CRC32C"):
        store.append(bad)
    assert store.statistics()["records"] == 0
    store.close()


def test_epoch_fencing(tmp_path, rng):
    _load, mtrs = history(rng, 1)
    store = make_store(tmp_path)
    store.set_epoch(3)
    with pytest.raises(StaleEpochError):
        store.append(mtrs[0], epoch=2)
    assert store.append(mtrs[0], epoch=3)
    store.close()
    store = make_store(tmp_path)
    assert store.epoch == 3
    with pytest.raises(StaleEpochError):
        store.set_epoch(2)
    store.close()


# -- materialization and GC --------------------------------------------------------------------

def test_materialize_gc_and_reopen_keep_pages(tmp_path, rng):
    load, mtrs = history(rng, 40)
    store = make_store(tmp_path, max_file_size=4096, journal_pages=3)
    for buffer in mtrs:
        store.append(buffer)
    store.sync()
    horizon = load.txn_ends[len(load.txn_ends) // 2]
    later = [r for r in load.txn_ends if r >= horizon]
    files_before = len(store.log_files())
    assert store.materialize(horizon) == horizon
    stats = store.statistics()
    assert stats["materialized_lsn"] == horizon and stats["pages_written"] > 0
    assert stats["log_files"] < files_before and stats["gc_files"] > 0
    check(store, load, later)
    store.close()
    store = make_store(tmp_path, max_file_size=4096)
    assert store.materialized_lsn == horizon and store.scl == load.last_lsn
    check(store, load, later)
    assert store.last_txn_end(load.last_lsn) == load.txn_ends[-1]
    assert store.materialize(load.last_lsn) == load.last_lsn
    check(store, load, [load.last_lsn])
    assert store.last_cpl(load.last_lsn) == load.last_lsn
    assert store.log_files() == []              # every record is in the page store
    assert store.scl == load.last_lsn and store.records_in_range(0, 10**9) == b""
    store.close()
    store = make_store(tmp_path, max_file_size=4096)
    assert store.scl == load.last_lsn
    check(store, load, [load.last_lsn])
    store.close()


def test_read_point_older_than_materialized_page_is_refused(tmp_path, rng):
    load, mtrs = history(rng, 10)
    store = make_store(tmp_path)
    for buffer in mtrs:
        store.append(buffer)
    store.materialize(load.last_lsn)
    with pytest.raises(OperationalError, match="above read point"):
        store.get_page(0, load.txn_ends[0])
    store.close()


def test_retention_hook_keeps_log_files(tmp_path, rng):
    load, mtrs = history(rng, 20)
    kept = []
    store = make_store(tmp_path, max_file_size=2048, retain=lambda info: kept.append(info) or
                       True)
    for buffer in mtrs:
        store.append(buffer)
    files = len(store.log_files())
    store.materialize(load.txn_ends[-1])
    assert len(store.log_files()) == files and kept
    assert store.records_in_range(0, load.last_lsn) == bytes(load.log)
    store.retain = None
    store.close()
    store = make_store(tmp_path, max_file_size=2048)
    store.materialize(load.txn_ends[-1])         # nothing new to apply; GC still runs later
    store.close()


def test_materialize_stops_below_a_later_void(tmp_path):
    allocator = LsnAllocator(pg_size=ALL)
    meta, leaf = empty_page(), empty_page()
    buffers = []
    for build, end in ((lambda m: (m.init_page(meta, 0, PageType.META),
                                   m.init_page(leaf, 1, PageType.LEAF)), True),
                       (lambda m: m.insert_cell(leaf, 1, 0, b"gone"), False),
                       (lambda m: m.void(0, 2), True)):
        mtr = MiniTransaction(allocator)
        build(mtr)
        buffers.append(bytes(mtr.finish(txn_end=end)))
    store = make_store(tmp_path)
    store.append(b"".join(buffers))
    # Horizon 3 (inside the range VOID 4 takes back) is lowered to the void's start, 2.
    assert store.materialize(3) == 2
    assert store.get_page(1, 4) == reference_page(b"".join(buffers), 1, 4)
    store.close()


@pytest.mark.parametrize("target", ["pages.dat", "pages.dwj", "CONTROL"])
def test_crash_at_every_write_of_a_materialization(tmp_path, rng, target):
    load, mtrs = history(rng, 25)
    log = b"".join(mtrs)
    horizon = load.txn_ends[-2]
    crash_at = 0
    while True:
        path = tmp_path / f"{target}-{crash_at}"
        disk = FaultyDisk()
        store = make_store(path, disk=disk, journal_pages=2)
        store.append(log)
        store.sync()
        disk.crash_in, disk.countdown = target, crash_at
        try:
            store.materialize(horizon)
            crashed = False
        except OperationalError as exc:
            assert isinstance(exc.__cause__, Crash)
            crashed = True
        store.close()                           # the process is gone; nothing more is synced
        store = make_store(path)
        check(store, load, [horizon, load.last_lsn])
        assert store.materialize(horizon) == horizon
        check(store, load, [horizon, load.last_lsn])
        store.close()
        if not crashed:
            break
        crash_at += 1
    assert crash_at > 0


# -- truncation --------------------------------------------------------------------------------

def test_truncate_above_in_order_and_reuse_lsns(tmp_path, rng):
    load, mtrs = history(rng, 20)
    store = make_store(tmp_path, max_file_size=2048)
    for buffer in mtrs:
        store.append(buffer)
    point = load.txn_ends[len(load.txn_ends) // 2]
    store.materialize(load.txn_ends[2])
    with pytest.raises(InternalError):
        store.truncate_above(load.txn_ends[1])
    store.truncate_above(point)
    assert store.scl == store.max_lsn == point
    kept = truncate_log(load.log, point)
    assert store.records_in_range(load.txn_ends[2], 10**9) == b"".join(
        rec for lsn, rec in records(kept) if lsn > load.txn_ends[2])
    # LSNs above the point are handed out again by the writer after recovery.
    again = Workload(LsnAllocator(point + 1, pg_size=ALL, last_lsns={0: point}),
                     lambda buf, last, end: store.append(buf), rng, kept)
    again.random_history(3)
    store.close()
    store = make_store(tmp_path, max_file_size=2048)
    assert store.scl == again.last_lsn
    check(store, again, again.txn_ends[-2:])
    store.close()


def test_truncate_above_rewrites_an_out_of_order_file(tmp_path, rng):
    load, _ = history(rng, 10)
    recs = records(bytes(load.log))
    shuffled = recs[:]
    rng.shuffle(shuffled)
    store = make_store(tmp_path)
    store.append(b"".join(rec for _, rec in shuffled))
    point = load.txn_ends[len(load.txn_ends) // 2]
    store.truncate_above(point)
    assert store.scl == point and store.max_lsn == point
    store.close()
    store = make_store(tmp_path)
    assert store.max_lsn == point
    load_kept = Workload(LsnAllocator(pg_size=ALL), lambda *a: None, rng,
                         truncate_log(load.log, point))
    check(store, load_kept, [point])
    store.close()


# -- recovery of the files ----------------------------------------------------------------------

def test_torn_tail_is_cut(tmp_path, rng):
    load, mtrs = history(rng, 6)
    store = make_store(tmp_path)
    store.append(b"".join(mtrs[:-1]))
    store.close()
    newest = log_files(tmp_path)[-1]
    size = os.path.getsize(newest)
    with open(newest, "ab") as handle:
        handle.write(mtrs[-1][:len(mtrs[-1]) - 5])      # the last write was torn
        handle.write(b"\xa5" * 100)
    last_length = len(records(mtrs[-1])[-1][1])
    store = make_store(tmp_path)
    # Whole records of the torn write stay; the partial one and the garbage after it go.
    assert os.path.getsize(newest) == size + len(mtrs[-1]) - last_length
    assert store.statistics()["torn_bytes_cut"] == last_length - 5 + 100
    assert store.max_lsn == store.scl == load.last_lsn - 1
    store.append(mtrs[-1])
    assert store.scl == load.last_lsn
    store.close()


def test_torn_creation_of_a_new_log_file_is_removed(tmp_path, rng):
    _load, mtrs = history(rng, 2)
    store = make_store(tmp_path)
    store.append(b"".join(mtrs))
    store.close()
    torn = os.path.join(tmp_path, "redo-00000099.log")
    with open(torn, "wb") as handle:
        handle.write(b"ALOG\x01")
    store = make_store(tmp_path)
    assert not os.path.exists(torn)
    store.close()


def flip_middle_bit(path: str, rng: random.Random) -> int:
    """Flip one bit inside a record that has valid records after it; return its offset."""
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    offsets = record_offsets(data[32:], path, 32)
    victim = offsets[rng.randrange(1, len(offsets) - 2)] + 32
    length = RECORD_HEADER.unpack_from(data, victim)[1]
    data[victim + rng.randrange(8, length)] ^= 1 << rng.randrange(8)
    with open(path, "r+b") as handle:
        handle.write(data)
    return victim


def test_damage_in_the_middle_names_file_and_offset(tmp_path, rng):
    _load, mtrs = history(rng, 10)
    store = make_store(tmp_path)
    store.append(b"".join(mtrs))
    store.close()
    path = log_files(tmp_path)[-1]
    victim = flip_middle_bit(path, rng)
    with pytest.raises(CorruptionError) as caught:
        make_store(tmp_path)
    assert path in str(caught.value) and f"offset {victim}" in str(caught.value)


def test_damage_at_the_end_of_an_older_file_is_not_a_torn_tail(tmp_path, rng):
    _load, mtrs = history(rng, 20)
    store = make_store(tmp_path, max_file_size=2048)
    store.append(b"".join(mtrs[:len(mtrs) // 2]))
    store.append(b"".join(mtrs[len(mtrs) // 2:]))
    store.close()
    older = log_files(tmp_path)[0]
    with open(older, "r+b") as handle:
        handle.seek(-3, os.SEEK_END)
        handle.write(b"\xff\xff\xff")
    with pytest.raises(CorruptionError, match="redo-00000001.log at offset"):
        make_store(tmp_path, max_file_size=2048)


def test_salvage_then_repair_from_a_peer(tmp_path, rng):
    load, mtrs = history(rng, 15)
    peer = make_store(tmp_path / "peer")
    store = make_store(tmp_path / "damaged")
    for target in (peer, store):
        target.append(b"".join(mtrs))
    store.close()
    flip_middle_bit(log_files(tmp_path / "damaged")[-1], rng)
    store = SegmentStore(tmp_path / "damaged", 0, 0, ALL, fsync=False)
    store.open(salvage=True)
    (damaged,) = store.damaged_ranges()
    assert damaged.path.endswith(".log") and damaged.length > 0
    assert store.scl < load.last_lsn
    (after, upto) = store.gaps()[0]
    store.append(peer.records_in_range(after, upto))
    assert store.scl == load.last_lsn and not store.gaps()
    check(store, load, load.txn_ends[-2:])
    store.close()
    store = make_store(tmp_path / "damaged")      # repaired: opens without salvage
    check(store, load, load.txn_ends[-2:])
    store.close()
    peer.close()


def test_control_file(tmp_path, rng):
    store = make_store(tmp_path)
    store.set_epoch(7)
    store.close()
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
    with pytest.raises(OperationalError, match="protection group 0"):
        SegmentStore(tmp_path, 5, 0, ALL, fsync=False).open()
    control = os.path.join(tmp_path, "CONTROL")
    with open(control, "r+b") as handle:
        handle.seek(40)
        handle.write(b"\x01")
    with pytest.raises(CorruptionError, match="CONTROL at offset 76"):
        make_store(tmp_path)


def test_page_store_damage_is_reported(tmp_path, rng):
    load, mtrs = history(rng, 5)
    store = make_store(tmp_path)
    store.append(b"".join(mtrs))
    store.materialize(load.last_lsn)
    store.close()
    with open(os.path.join(tmp_path, "pages.dat"), "r+b") as handle:
        handle.seek(2 * PAGE_SIZE + 100)           # page 1
        handle.write(b"\xff")
    store = make_store(tmp_path)
    with pytest.raises(CorruptionError, match=f"pages.dat at offset {2 * PAGE_SIZE}"):
        store.get_page(1, load.last_lsn)
    store.close()


def test_fsync_failure_fails_the_store(tmp_path, rng):
    _load, mtrs = history(rng, 2)
    disk = FaultyDisk()
    store = make_store(tmp_path, disk=disk)
    store.append(mtrs[0])
    disk.fail_fsyncs = True
    with pytest.raises(OperationalError, match="I/O error"):
        store.sync()
    with pytest.raises(OperationalError, match="failed earlier"):
        store.append(mtrs[1])
    store.close()


# -- frontier ranges (docs/protocols/quorum.md) ----------------------------------------------

def pg_batches(rng: random.Random, count: int = 400, pg_size: int = 100):
    """Records of three PGs from one allocator; returns (PG 1's records, frontier cut points)."""
    allocator = LsnAllocator(pg_size=pg_size)
    mine = []
    for _ in range(count):
        page = rng.randrange(3 * pg_size)
        lsn, prev = allocator.allocate(page)
        record = bytearray()
        append_record(record, lsn, prev, page, 6, FLAG_CPL, b"\x40\x00" + bytes(8))
        if pg_size <= page < 2 * pg_size:
            mine.append((lsn, bytes(record)))
    return mine, allocator.next_lsn - 1


def test_frontiers_lift_scl_past_missing_lsns_and_survive_restart(tmp_path, rng):
    mine, last = pg_batches(rng)
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    cuts = sorted(rng.sample(range(1, last), 12)) + [last]
    batches, start = [], 0
    for end in cuts:
        batches.append(((start, end), b"".join(r for lsn, r in mine if start < lsn <= end)))
        start = end
    # Arrives last: everything after it waits. It must hold a record of the PG - an empty
    # range is proven empty by the next record's prev_lsn and leaves no gap.
    late = batches.pop(next(i for i in range(3, len(batches)) if batches[i][1]))
    for frontier, data in batches:
        store.append(data, frontier=frontier)
    assert store.scl == late[0][0]
    (after, upto), = store.gaps()
    assert after == late[0][0] and after < upto <= late[0][1]
    assert store.sync() == late[0][0]
    store.append(late[1], frontier=late[0])
    assert store.scl == last and not store.gaps()
    assert store.sync() == last
    assert store.statistics()["scl_checkpoint"] == last
    store.close()
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    assert store.scl == last                   # more than the last record alone would give
    point = cuts[5]
    store.truncate_above(point)
    assert store.scl == point and store.max_lsn <= point
    store.close()
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    assert store.scl == point
    # An empty batch moves SCL; so does a record whose prev_lsn lies below SCL.
    store.append(b"", frontier=(point, point + 1000))
    assert store.scl == point + 1000
    record = bytearray()
    append_record(record, point + 2000, point + 5, 150, 6, FLAG_CPL, b"\x40\x00" + bytes(8))
    store.append(record)
    assert store.scl == point + 2000
    store.close()


def test_scl_checkpoint_is_written_after_the_log_is_durable(tmp_path, rng):
    mine, last = pg_batches(rng, 50)
    disk = FaultyDisk()
    store = SegmentStore(tmp_path, 1, 100, 100, disk=disk)
    store.open()
    store.append(b"".join(r for _, r in mine), frontier=(0, last))
    checkpoint = os.path.join(tmp_path, "scl.log")
    assert not os.path.exists(checkpoint)      # nothing claimed before the records are fsynced
    disk.fail_fsyncs = True
    with pytest.raises(OperationalError):
        store.sync()
    assert not os.path.exists(checkpoint)
    store.close()
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    assert store.scl == mine[-1][0]            # the records alone
    store.close()


def test_scl_checkpoint_only_when_the_records_do_not_explain_scl(tmp_path, rng):
    """A batch whose frontier ends on its own last record needs no SCL checkpoint (the records
    rebuild SCL after a restart); one whose frontier reaches past its records does, and SCL
    survives a restart either way."""
    mine, last = pg_batches(rng)
    # The last record of PG 1 that follows another LSN than its predecessor's + 1.
    cut = max(i for i in range(1, len(mine)) if mine[i][0] - 1 > mine[i - 1][0])
    mine = mine[:cut + 1]
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    start = 0
    for lsn, record in mine[:-1]:
        store.append(record, frontier=(start, lsn))     # ends on its record: explained
        start = lsn
        assert store.sync() == lsn
    assert store.statistics()["scl_checkpoint"] == 0
    beyond = mine[-1][0] - 1                              # no record of this PG up to here
    store.append(b"", frontier=(start, beyond))
    assert store.sync() == beyond
    assert store.statistics()["scl_checkpoint"] == beyond
    store.append(mine[-1][1], frontier=(beyond, last))
    assert store.sync() == last
    store.close()
    store = SegmentStore(tmp_path, 1, 100, 100, fsync=False)
    store.open()
    assert store.scl == last
    store.close()
