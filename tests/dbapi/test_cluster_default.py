"""connect(DIR) by default runs on six segment processes: start, use, reopen, exclusivity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import aurora_lite

SECOND_PROCESS = textwrap.dedent("""
    import sys, aurora_lite
    try:
        aurora_lite.connect(sys.argv[1], storage="cluster")
    except aurora_lite.OperationalError as error:
        print("refused:", error)
        sys.exit(3)
    print("opened")
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_default_storage_is_the_six_segment_cluster(tmp_path):
    directory = str(tmp_path / "db")
    connection = aurora_lite.connect(directory, storage="cluster")
    try:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        cursor.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(200)])
        connection.commit()
        with open(os.path.join(directory, "cluster.json"), encoding="utf-8") as handle:
            assert len(json.load(handle)["nodes"]) == 6
        pids = [int(open(os.path.join(directory, "pids", name)).read())
                for name in sorted(os.listdir(os.path.join(directory, "pids")))]
        assert len(pids) == 6 and all(_alive(pid) for pid in pids)
        stats = connection.statistics()
        assert stats["page_bytes_shipped"] == 0 and stats["redo_bytes_shipped"] > 0
        # Another process cannot open the directory while this one writes it.
        other = subprocess.run([sys.executable, "-c", SECOND_PROCESS, directory],
                               capture_output=True, text=True, timeout=120)
        assert other.returncode == 3, other.stdout + other.stderr
        assert "in use by process" in other.stdout
    finally:
        connection.close()
    assert not any(_alive(pid) for pid in pids), "segment processes left running"
    connection = aurora_lite.connect(directory, storage="cluster")
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT count(*), max(v) FROM t")
        assert cursor.fetchall() == [(200, "v99")]
    finally:
        connection.close()


def test_unknown_storage_is_refused(tmp_path):
    with pytest.raises(aurora_lite.InterfaceError):
        aurora_lite.connect(str(tmp_path / "x"), storage="floppy")
