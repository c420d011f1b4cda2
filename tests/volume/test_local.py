"""LocalVolume specifics: files on disk (torn tail, damage), the directory lock, I/O failures,
back-pressure, garbage collection and the memory of a very large transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tracemalloc

import pytest

from aurora_lite.errors import CorruptionError, OperationalError
from aurora_lite.redo import FLAG_CPL, RECORD_HEADER, RecordType, append_record, record_offsets
from aurora_lite.volume import LocalVolume

from tests.segment._faults import FaultyDisk
from tests.volume._workload import LEAVES, Workload, truncate_log

PAGES = (0, *LEAVES)


def open_volume(path, **options) -> LocalVolume:
    options.setdefault("fsync", False)
    volume = LocalVolume(path, **options)
    volume.open()
    return volume


def workload(volume, rng, log=None) -> Workload:
    return Workload(volume, lambda buf, last, end: volume.submit(buf, last, txn_end=end), rng,
                    log)


def log_files(path) -> list[str]:
    directory = os.path.join(path, "pg-0")
    return sorted(os.path.join(directory, n) for n in os.listdir(directory)
                  if n.startswith("redo-"))


def test_torn_tail_of_a_commit_loses_only_that_transaction(tmp_path, rng):
    volume = open_volume(tmp_path)
    load = workload(volume, rng)
    load.random_history(5)
    kept_point = load.commit()
    load.change(3)
    last_commit = load.commit()
    volume.wait_durable(last_commit, timeout=10)
    volume.close()
    newest = log_files(tmp_path)[-1]
    with open(newest, "r+b") as handle:
        handle.truncate(os.path.getsize(newest) - 7)    # the commit record was torn
    volume = open_volume(tmp_path)
    state_vdl = volume.vdl
    assert state_vdl == kept_point
    assert volume.store.statistics()["torn_bytes_cut"] > 0
    kept = Workload(volume, lambda *a: None, rng, truncate_log(load.log, kept_point))
    for page_id in PAGES:
        assert volume.get_page(page_id, kept_point) == kept.expected(page_id, kept_point)
    volume.close()


def test_flipped_bit_in_the_middle_names_file_and_offset(tmp_path, rng):
    volume = open_volume(tmp_path)
    load = workload(volume, rng)
    load.random_history(10)
    volume.wait_durable(load.last_lsn, timeout=10)
    volume.close()
    path = log_files(tmp_path)[-1]
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    offsets = [o + 32 for o in record_offsets(data[32:])]
    victim = offsets[len(offsets) // 2]
    data[victim + 20] ^= 0x04
    with open(path, "wb") as handle:
        handle.write(data)
    with pytest.raises(CorruptionError) as caught:
        open_volume(tmp_path)
    message = str(caught.value)
    assert path in message and f"offset {victim}" in message
    # The lock was released by the failed open.
    with pytest.raises(CorruptionError):
        open_volume(tmp_path)


_OPEN_IN_CHILD = """
import sys
from aurora_lite.errors import OperationalError
from aurora_lite.volume import LocalVolume
volume = LocalVolume(sys.argv[1], fsync=False)
try:
    volume.open()
except OperationalError as exc:
    print("refused:", exc)
    sys.exit(3)
volume.close()
print("opened")
"""


def test_a_second_process_is_refused(tmp_path):
    volume = open_volume(tmp_path)
    child = subprocess.run([sys.executable, "-c", _OPEN_IN_CHILD, str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 3, child.stderr
    assert f"data directory {tmp_path} is in use by process {os.getpid()}" in child.stdout
    volume.close()
    child = subprocess.run([sys.executable, "-c", _OPEN_IN_CHILD, str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0 and "opened" in child.stdout, child.stderr


def test_fsync_failure_is_never_reported_durable(tmp_path, rng):
    disk = FaultyDisk()
    volume = open_volume(tmp_path, disk=disk)
    load = workload(volume, rng)
    durable = volume.wait_durable(load.create(), timeout=10)
    disk.fail_fsyncs = True
    lsn = load.change(1)
    with pytest.raises(OperationalError, match="injected fsync failure"):
        volume.wait_durable(lsn, timeout=10)
    assert volume.vdl == durable                           # Invariant 2
    with pytest.raises(OperationalError):
        volume.submit(b"", lsn, txn_end=False)
    with pytest.raises(OperationalError):
        volume.mark()
    assert volume.statistics()["failed"]
    volume.close()
    disk.fail_fsyncs = False
    volume = open_volume(tmp_path, disk=disk)
    assert volume.vdl == durable
    volume.close()


def test_back_pressure_blocks_mtr_start_not_allocation(tmp_path, rng):
    disk = FaultyDisk()
    volume = open_volume(tmp_path, disk=disk, window=20, backpressure_timeout=0.3)
    load = workload(volume, rng)
    volume.wait_durable(load.create(), timeout=10)
    disk.gate.clear()                                      # storage stops acknowledging
    with pytest.raises(OperationalError, match="back-pressure"):
        for _ in range(100):
            load.change(1, records=1)
    before = volume.allocator.next_lsn
    volume.allocate(1)                                     # inside an MTR: never blocks
    assert volume.allocator.next_lsn == before + 1
    disk.gate.set()
    waiter = threading.Thread(target=volume.mark)
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive()
    assert volume.statistics()["backpressure_waits"] >= 1
    volume.close()


def test_materialization_and_gc_shrink_the_log(tmp_path, rng):
    volume = open_volume(tmp_path, max_file_size=8192, materialize_records=10**9)
    load = workload(volume, rng)
    read_points = load.random_history(60)
    volume.wait_durable(load.last_lsn, timeout=10)
    before = volume.statistics()
    horizon = read_points[-5]
    pages = {(p, r): volume.get_page(p, r) for p in PAGES for r in read_points[-5:]}
    assert volume.materialize_now(horizon) == horizon
    after = volume.statistics()
    print(f"log {before['log_bytes']} -> {after['log_bytes']} bytes, "
          f"{before['log_files']} -> {after['log_files']} files")
    below = len(truncate_log(load.log, horizon))
    assert below > 4 * 8192
    # Every file wholly at or below the horizon goes; what stays is the file that straddles it
    # and newer ones. How many records a file holds depends on how the flusher grouped the
    # batches (timing), so the bound is per file, not a byte count.
    remaining = volume.store._hotlog.infos()
    assert all(info.max_lsn > horizon for info in remaining), remaining
    straddling = [info for info in remaining if info.min_lsn and info.min_lsn <= horizon]
    assert len(straddling) <= 1, remaining
    kept_below = straddling[0].size if straddling else 0
    assert after["log_bytes"] <= before["log_bytes"] - below + kept_below
    assert after["log_files"] < before["log_files"]
    assert after["materialized_lsn"] == horizon
    for (page_id, read_point), page in pages.items():
        assert volume.get_page(page_id, read_point) == page
    volume.close()
    volume = open_volume(tmp_path, max_file_size=8192)
    for (page_id, read_point), page in pages.items():
        assert volume.get_page(page_id, read_point) == page
    volume.close()


def test_horizon_never_passes_the_last_durable_transaction_end(tmp_path, rng):
    volume = open_volume(tmp_path, materialize_records=10**9)
    load = workload(volume, rng)
    committed = load.random_history(3)[-1]
    load.change(4)
    volume.wait_durable(load.last_lsn, timeout=10)
    volume.set_horizon(load.last_lsn)
    assert volume.materialize_now() == committed
    volume.close()
    volume = open_volume(tmp_path)
    assert volume.vdl == committed                         # the open transaction is gone
    volume.close()


def test_close_drains_the_queue(tmp_path, rng):
    volume = open_volume(tmp_path)
    load = workload(volume, rng)
    load.random_history(30)
    volume.close()                                         # no wait_durable before
    volume = open_volume(tmp_path)
    assert volume.vdl == load.txn_ends[-1]
    volume.close()


def test_a_200000_record_transaction_keeps_the_index_small(tmp_path):
    volume = open_volume(tmp_path)
    load = Workload(volume, lambda buf, last, end: volume.submit(buf, last, txn_end=end),
                    __import__("random").Random(1))
    volume.wait_durable(load.create(), timeout=10)
    records, per_mtr = 200_000, 500
    payload = b"\x40\x00" + bytes(8)                     # WRITE_BYTES of 8 bytes at offset 64
    mtrs = []
    for _ in range(records // per_mtr):
        volume.mark()
        buffer = bytearray()
        for index in range(per_mtr):
            page = 1 + index % 2000
            lsn, prev = volume.allocate(page)
            append_record(buffer, lsn, prev, page, RecordType.WRITE_BYTES,
                          FLAG_CPL if index == per_mtr - 1 else 0, payload)
        mtrs.append((bytes(buffer), lsn))
    # Traced: what storage keeps for the transaction once it is durable (tracing the record
    # building as well would only make the test slow).
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for buffer, last in mtrs:
            volume.submit(buffer, last, txn_end=False)
        volume.wait_durable(last, timeout=60)
        held = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    del mtrs
    stats = volume.statistics()
    print(f"{records} records: {held / 1e6:.1f} MB held, index {stats['index_bytes'] / 1e6:.1f}"
          f" MB ({stats['index_bytes'] / records:.1f} bytes/record)")
    # A Python object per record would take well over 100 bytes each.
    assert held < 48 * records
    assert stats["index_bytes"] < 40 * records
    assert len(volume.get_page(7, last)) == 16384
    volume.close()
