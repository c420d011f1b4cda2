"""Point-in-time restore from an archive of a local volume's log (in-process, fast): restore
points by LSN and by time against an oracle of every commit, the restorable window, damaged
and missing chunks, overlapping chunks, retention, the command line, and S3 (moto).

The archive is written with the storage node's own chunking and snapshot functions
(segment/_archiver.py) over the local volume's segment store, cut at read points (as a node
cuts at horizons), with one snapshot in the middle."""

from __future__ import annotations

import io
import json
import os
import pty
import random
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

import aurora_lite
from aurora_lite.archive import (
    DESCRIPTOR, Catalog, ChunkRef, Descriptor, LocalArchive, SnapshotRef, check_archive,
    chunk_name, decode_chunk, encode_chunk, expired, format_time, open_archive, plan_restore,
    restore_window, retention_cut,
)
from aurora_lite.cluster._restore import RESTORE_INFO, Progress, restore
from aurora_lite.errors import CorruptionError, OperationalError
from aurora_lite.segment._archiver import archive_store_range, archive_store_snapshot

from tests.archive._workload import Workload, check

SEED = int(os.environ.get("ARCHIVE_TEST_SEED", random.randrange(1 << 30)))
PG_ALL = 1 << 32          # a local volume is one protection group holding every page


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """(workload, archive directory, [chunk ends], snapshot lsn)."""
    print(f"workload seed {SEED} (ARCHIVE_TEST_SEED={SEED} replays it)")
    base = tmp_path_factory.mktemp("local-history")
    connection = aurora_lite.connect(str(base / "db"), storage="local", fsync=False)
    archive = LocalArchive(base / "archive", fsync=False)
    archive.put(DESCRIPTOR, Descriptor("0" * 32, PG_ALL).encode())
    workload = Workload(connection, SEED)
    workload.setup()
    database = workload.database
    volume = database.volume
    segment = volume.store
    ends = []
    covered = 0
    snapshot_lsn = None
    for round_number in range(5):
        workload.run(8)
        limit = database.read_point           # a durable transaction end, as a horizon (A1)
        covered = archive_store_range(segment, archive, 0, covered, limit, chunk_bytes=4096)
        ends.append(covered)
        if round_number == 1:
            snapshot_lsn = volume.materialize_now(limit)
            assert archive_store_snapshot(segment, archive, 0) == snapshot_lsn
    connection.close()
    return workload, str(base / "archive"), ends, snapshot_lsn


def restore_and_check(history, tmp_path, commit_expected, **target):
    workload, archive, _ends, _snap = history
    directory = tmp_path / f"restored-{len(os.listdir(tmp_path))}"
    result = restore(archive, directory, fsync=False, **target)
    assert result.lsn == commit_expected.lsn
    assert result.commit_time == commit_expected.time_us
    connection = aurora_lite.connect(str(directory))
    try:
        check(connection, commit_expected)
        # The restored volume is a working volume: it takes new writes on top.
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE after_restore (id INTEGER PRIMARY KEY)")
        cursor.execute("INSERT INTO after_restore VALUES (1)")
        connection.commit()
    finally:
        connection.close()
    info = json.loads((directory / RESTORE_INFO).read_text())
    assert info["lsn"] == commit_expected.lsn
    return result


def test_the_archive_has_several_chunks_and_a_snapshot(history):
    workload, archive, ends, snapshot_lsn = history
    catalog = Catalog(open_archive(archive)).refresh()
    assert len(catalog.chunks[0]) >= 8, "chunk_bytes should have cut several chunks"
    assert [s.lsn for s in catalog.snapshots[0]] == [snapshot_lsn]
    assert workload.rollbacks and workload.violations, "the seed should exercise VOIDs"
    report = check_archive(catalog)
    assert report.clean, report.problems
    window = report.window
    assert (window.earliest_lsn, window.latest_lsn) == (workload.commits[0].lsn,
                                                        workload.commits[-1].lsn)
    assert window.latest_time == workload.commits[-1].time_us


def test_restore_by_lsn_at_and_between_commits(history, tmp_path):
    workload = history[0]
    rng = random.Random(SEED + 1)
    commits = workload.commits
    picks = [commits[0], commits[-1], rng.choice(commits[1:-1])]
    for commit in picks:
        restore_and_check(history, tmp_path, commit, to_lsn=commit.lsn)
    # Between two commits: the LSN of a record after commit i that is not a commit (the next
    # transaction's records, a rolled-back transaction's, a VOID's): the state of commit i.
    for _ in range(3):
        index = rng.randrange(len(commits) - 1)
        low, high = commits[index].lsn, commits[index + 1].lsn
        assert high - low > 1
        restore_and_check(history, tmp_path, commits[index],
                          to_lsn=rng.randrange(low + 1, high))


def test_restore_by_time_at_and_between_commits(history, tmp_path):
    workload = history[0]
    rng = random.Random(SEED + 2)
    commits = workload.commits
    exact = rng.choice(commits[1:])
    restore_and_check(history, tmp_path, exact, to_time=exact.time_us)
    index = rng.randrange(len(commits) - 1)
    low, high = commits[index].time_us, commits[index + 1].time_us
    if high - low > 1:
        restore_and_check(history, tmp_path, commits[index], to_time=(low + high) // 2)
    restore_and_check(history, tmp_path, commits[index], to_time=high - 1)


def test_progress_bar_on_a_terminal(history, tmp_path):
    workload, archive, _ends, _snap = history
    stream = io.StringIO()
    restore(archive, tmp_path / "with-bar", to_lsn=workload.commits[-1].lsn, fsync=False,
            progress=Progress(stream, bar=True))
    text = stream.getvalue()
    assert text.startswith(f"restoring to lsn {workload.commits[-1].lsn}: restore point lsn")
    assert "\r  [" in text and "100.0%" in text and " MB/s" in text


def test_restore_around_the_snapshot(history, tmp_path):
    workload, _archive, _ends, snapshot_lsn = history
    before = workload.expected_at(snapshot_lsn - 1)
    at = workload.expected_at(snapshot_lsn)
    after = workload.commits[at.index + 1]
    plan = plan_restore(Catalog(open_archive(history[1])).refresh(), to_lsn=after.lsn)
    assert plan.pgs[0].snapshot is not None, "a target after the snapshot starts from it"
    for commit in (before, at, after):
        restore_and_check(history, tmp_path, commit, to_lsn=commit.lsn)


def test_targets_outside_the_window_are_refused_with_the_window(history, tmp_path):
    workload, archive, _ends, _snap = history
    first, last = workload.commits[0], workload.commits[-1]
    window_text = (f"restorable window: from lsn {first.lsn} ({format_time(first.time_us)}) "
                   f"to lsn {last.lsn} ({format_time(last.time_us)})")
    cases = [dict(to_lsn=first.lsn - 1), dict(to_time=first.time_us - 1),
             dict(to_time=last.time_us + 1_000_000), dict(to_lsn=last.lsn + 10_000)]
    for target in cases:
        with pytest.raises(OperationalError, match="cannot restore to") as caught:
            restore(archive, tmp_path / "refused", fsync=False, **target)
        assert window_text in str(caught.value)
        assert not os.path.exists(tmp_path / "refused")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "file").write_text("x")
    with pytest.raises(OperationalError, match="exists and is not empty"):
        restore(archive, occupied, to_lsn=last.lsn, fsync=False)


def _copy(history, tmp_path) -> tuple[str, Catalog]:
    copy = str(tmp_path / "archive-copy")
    shutil.copytree(history[1], copy)
    return copy, Catalog(open_archive(copy)).refresh()


def _middle_chunk(catalog: Catalog) -> ChunkRef:
    """A chunk after the snapshot, with chunks on both sides: restoring the last commit
    needs it."""
    snapshot = catalog.snapshots[0][-1].lsn
    chunks = catalog.chunks[0]
    later = [ref for ref in chunks[1:-1] if ref.start >= snapshot]
    assert len(later) >= 2, "the workload should leave several chunks after the snapshot"
    return later[len(later) // 2]


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "extended"])
def test_a_damaged_chunk_stops_the_restore_naming_it(history, tmp_path, damage):
    workload = history[0]
    archive, catalog = _copy(history, tmp_path)
    victim = _middle_chunk(catalog)
    path = os.path.join(archive, *victim.name.split("/"))
    data = bytearray(open(path, "rb").read())
    if damage == "flipped byte":
        data[len(data) - 7] ^= 0x20         # inside the compressed body
    elif damage == "truncated":
        del data[-100:]
    else:
        data += b"\0" * 3
    with open(path, "wb") as handle:
        handle.write(data)
    with pytest.raises(CorruptionError, match=victim.name.replace(".", r"\.")):
        restore(archive, tmp_path / "bad", to_lsn=workload.commits[-1].lsn, fsync=False)
    assert not os.path.exists(tmp_path / "bad")
    # By time too: a commit inside the damaged chunk may be the one asked for.
    inside = [c for c in workload.commits if victim.start < c.lsn <= victim.end]
    print(f"{len(inside)} commit(s) inside the damaged chunk")
    if inside:
        with pytest.raises(CorruptionError, match=victim.name.replace(".", r"\.")):
            restore(archive, tmp_path / "bad", to_time=inside[0].time_us, fsync=False)
    assert not [n for n in os.listdir(tmp_path) if ".restoring-" in n], "work left behind"
    report = check_archive(Catalog(open_archive(archive)))
    assert not report.clean and any(victim.name in p for p in report.problems)
    # Targets that need nothing of the damaged chunk still restore.
    early = workload.expected_at(victim.start)
    if early.lsn <= victim.start and early.index > 0:
        restore_and_check((workload, archive, None, None), tmp_path, early, to_lsn=early.lsn)


def test_a_damaged_snapshot_stops_the_restore_naming_it(history, tmp_path):
    workload = history[0]
    archive, catalog = _copy(history, tmp_path)
    snapshot = catalog.snapshots[0][-1]
    path = os.path.join(archive, *snapshot.name.split("/"))
    data = bytearray(open(path, "rb").read())
    data[-10] ^= 0x01
    with open(path, "wb") as handle:
        handle.write(data)
    with pytest.raises(CorruptionError, match=snapshot.name.replace(".", r"\.") +
                       ": body CRC32C mismatch"):
        restore(archive, tmp_path / "bad", to_lsn=workload.commits[-1].lsn, fsync=False)
    assert not os.path.exists(tmp_path / "bad")


def test_a_missing_chunk_is_a_hole_named_by_its_neighbours(history, tmp_path):
    workload = history[0]
    archive, catalog = _copy(history, tmp_path)
    chunks = catalog.chunks[0]
    victim = _middle_chunk(catalog)
    before = chunks[chunks.index(victim) - 1]
    after = chunks[chunks.index(victim) + 1]
    os.remove(os.path.join(archive, *victim.name.split("/")))
    assert workload.commits[-1].lsn > victim.end
    with pytest.raises(CorruptionError) as caught:
        restore(archive, tmp_path / "bad", to_lsn=workload.commits[-1].lsn, fsync=False)
    message = str(caught.value)
    assert f"missing records after lsn {victim.start}" in message
    assert before.name in message and after.name in message
    assert not os.path.exists(tmp_path / "bad")
    report = check_archive(Catalog(open_archive(archive)))
    assert any(f"({victim.start}, {victim.end}]" in p for p in report.problems), report.problems


def test_overlapping_chunks_from_two_archivers(history, tmp_path):
    """A second archiver cut the same log differently: both sets of chunks are valid and the
    restore walks through them (duplicate records apply once)."""
    workload = history[0]
    archive, catalog = _copy(history, tmp_path)
    store = open_archive(archive)
    chunks = catalog.chunks[0]
    # Merge three consecutive chunks into one, and remove the first of them.
    first, last = chunks[1], chunks[3]
    records = b"".join(decode_chunk(store.get(ref.name), ref.name)[2]
                       for ref in chunks[1:4])
    store.put(chunk_name(0, first.start, last.end), encode_chunk(0, first.start, last.end,
                                                                  records))
    store.delete(first.name)
    commit = workload.commits[-1]
    restore_and_check((workload, archive, None, None), tmp_path, commit, to_lsn=commit.lsn)


def test_retention_cut_and_what_expires():
    chunks = [ChunkRef(0, a, b, f"c{a}") for a, b in [(0, 10), (10, 20), (20, 30), (30, 40)]]
    snapshots = [SnapshotRef(0, 12, 12, "s12"), SnapshotRef(0, 25, 26, "s25")]
    commits = [(5, 100), (15, 200), (27, 300), (35, 400)]
    assert retention_cut(commits, now_us=350 + 1_000_000, retention_seconds=1.0) == 27
    assert retention_cut(commits, now_us=50 + 1_000_000, retention_seconds=1.0) == 0
    # Cut 27: the newest snapshot usable at 27 is s25 (its pages reach 26): it stays, with
    # every chunk ending above 25; older snapshots and chunks go.
    assert expired(chunks, snapshots, 27) == ["s12", "c0", "c10"]
    # Cut 25: s25's pages reach 26 > 25, so s12 is the base: only what precedes it goes.
    assert expired(chunks, snapshots, 25) == ["c0"]         # c10 reaches past lsn 12
    # No snapshot at or below the cut: nothing can go.
    assert expired(chunks, snapshots, 11) == []
    assert expired(chunks, snapshots, 0) == []


def test_retention_applied_moves_the_window(history, tmp_path):
    workload, _archive, _ends, snapshot_lsn = history
    archive, catalog = _copy(history, tmp_path)
    store = open_archive(archive)
    cut_commit = workload.expected_at(snapshot_lsn + 1)
    names = expired(catalog.chunks[0], catalog.snapshots[0], cut_commit.lsn)
    assert names, "the chunks before the snapshot should expire"
    for name in names:
        store.delete(name)
    window = restore_window(Catalog(store).refresh())
    assert window.earliest_lsn == min(c.lsn for c in workload.commits if c.lsn >= snapshot_lsn)
    with pytest.raises(OperationalError, match="restorable window"):
        restore(archive, tmp_path / "too-old", to_lsn=workload.commits[1].lsn, fsync=False)
    commit = workload.expected_at(window.earliest_lsn)
    restore_and_check((workload, archive, None, None), tmp_path, commit, to_lsn=commit.lsn)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurora_lite", "restore", *args],
                          capture_output=True, text=True, timeout=120)


def test_command_line(history, tmp_path):
    workload, archive, _ends, _snap = history
    commit = workload.commits[len(workload.commits) // 2]
    window = cli("--archive", archive, "--window", "--json")
    assert window.returncode == 0, window.stderr
    assert json.loads(window.stdout)["latest_lsn"] == workload.commits[-1].lsn
    checked = cli("--archive", archive, "--check")
    assert checked.returncode == 0 and "archive is clean" in checked.stdout, checked.stdout
    target = tmp_path / "cli-restored"
    result = cli("--archive", archive, "--to-time", format_time(commit.time_us), "--no-fsync",
                 str(target))
    assert result.returncode == 0, result.stderr
    assert f"the state after the commit at lsn {commit.lsn}" in result.stdout
    assert "protection group 0:" in result.stderr        # plain progress (not a terminal)
    connection = aurora_lite.connect(str(target))
    try:
        check(connection, commit)
    finally:
        connection.close()
    refused = cli("--archive", archive, "--to-lsn", "1", str(tmp_path / "never"))
    assert refused.returncode == 1
    assert "aurora-lite restore: cannot restore to lsn 1: restorable window" in refused.stderr
    missing = cli("--archive", str(tmp_path / "nothing-here"), "--latest", str(tmp_path / "x"))
    assert missing.returncode == 1 and "is not an archive" in missing.stderr


def _on_a_terminal(args: list[str], timeout: float = 120.0) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a pseudo-terminal, as a person would
    in a shell; (exit status, everything it wrote). Stopped by PID if it overruns."""
    master, slave = pty.openpty()
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                               start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{args} did not finish within {timeout:g} s: " \
                                  f"{b''.join(chunks)[-2000:]!r}"
            ready, _, _ = select.select([master], [], [], min(remaining, 1.0))
            if not ready:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:          # EIO: every process let go of the terminal
                break
            if not data:
                break
            chunks.append(data)
        process.wait(30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(30)
        os.close(master)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_restore_command_draws_a_progress_bar_on_a_terminal_only(history, tmp_path):
    """``aurora-lite restore`` on a terminal rewrites one progress bar in place (carriage
    returns, percentage, MB/s) instead of a line per protection group; with its output going
    to a pipe or a file there is no bar and no carriage return, only plain lines."""
    workload, archive, _ends, _snap = history
    commit = workload.commits[-1]
    command = [sys.executable, "-m", "aurora_lite", "restore", "--archive", archive,
               "--to-lsn", str(commit.lsn), "--no-fsync"]
    status, screen = _on_a_terminal(command + [str(tmp_path / "on-a-terminal")])
    assert status == 0, screen
    assert f"restoring to lsn {commit.lsn}: restore point lsn {commit.lsn}" in screen
    bars = [part for part in screen.split("\r") if part.startswith("  [")]
    assert bars, f"no progress bar on the terminal: {screen!r}"
    assert "100.0%" in bars[-1] and " MB/s" in bars[-1] and "#" * 30 in bars[-1], bars[-1]
    assert "  protection group " not in screen, screen      # the per-PG lines
    assert f"the state after the commit at lsn {commit.lsn}" in screen
    piped = cli("--archive", archive, "--to-lsn", str(commit.lsn), "--no-fsync",
                str(tmp_path / "piped"))
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "  [" not in piped.stderr and "%" not in piped.stderr
    assert f"restoring to lsn {commit.lsn}: restore point lsn" in piped.stderr
    assert "  protection group " in piped.stderr and " MB of redo replayed" in piped.stderr
    for directory in ("on-a-terminal", "piped"):
        connection = aurora_lite.connect(str(tmp_path / directory))
        try:
            check(connection, commit)
        finally:
            connection.close()


def test_restore_from_s3(history, tmp_path, s3_url):
    """The same archive uploaded to an S3-compatible store (moto) restores the same state."""
    workload, archive, _ends, _snap = history
    local = open_archive(archive)
    remote = open_archive(s3_url)
    for name, _size in local.list():
        remote.put(name, local.get(name))
    commit = workload.commits[-3]
    restore_and_check((workload, s3_url, None, None), tmp_path, commit, to_lsn=commit.lsn)
