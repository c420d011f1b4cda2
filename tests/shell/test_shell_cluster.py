"""``.cluster`` for an embedded database on the six-segment cluster, the default storage of
``aurora-lite shell DIR`` (six real storage node processes, started like ``aurora-lite cluster
start DIR`` and stopped here): every segment with its node, pid, address, up and SCL per
protection group, the writer's link to it, and the writer's VDL - also with one node killed.
(The local-volume view is in test_shell_meta.py, the remote one in test_shell_remote.py,
the replicas in test_shell_replicas.py.)"""

import io

import pytest

from aurora_lite.cluster import ensure_cluster
from aurora_lite.shell import Target, run, target_for


class _Input:
    """Piped input whose callables run between lines (a node is killed mid-session)."""

    def __init__(self, *steps):
        self.steps = steps

    def isatty(self):
        return False

    def __iter__(self):
        for step in self.steps:
            if callable(step):
                step()
            else:
                yield step + "\n"


def _session(directory, *steps):
    out, err = io.StringIO(), io.StringIO()
    status = run(target_for(str(directory)), [], stdin=_Input(*steps), stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    return out.getvalue()


def _segment_rows(text):
    lines = text.splitlines()
    header = lines.index(next(line for line in lines if line.startswith(" node |")))
    rows = []
    for line in lines[header + 2:]:
        if line.startswith("("):
            break
        rows.append([cell.strip() for cell in line.split("|")])
    return lines[header], rows


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("AURORA_LITE_STORAGE", "cluster")  # what users get (the suite: local)
    handle = ensure_cluster(str(tmp_path / "data"), node_args=("--no-fsync",), timeout=60)
    try:
        yield handle
    finally:
        handle.close()


def test_cluster_view_shows_each_segment_and_the_writer(cluster, tmp_path):
    directory = tmp_path / "data"
    pids = {node: process.pid for node, process in cluster.processes.items()}
    text = _session(directory, "CREATE TABLE t (a INTEGER);", "INSERT INTO t VALUES (1);",
                    ".cluster", lambda: cluster.node_process(3).kill(),
                    "INSERT INTO t VALUES (2);", ".cluster")
    _, first, second = text.split("INSERT 0 1\n")
    assert f"Storage: cluster in {directory} (cluster {cluster.config.cluster_id}," in first
    header, rows = _segment_rows(first)
    assert [cell.strip() for cell in header.split("|")] == [
        "node", "pid", "address", "up", "writer link", "SCL per PG"]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    vdl = int(first.split("Writer: VDL ")[1].split(",")[0])
    for node, pid, address, up, link, scl in rows:
        assert int(pid) == pids[int(node)]
        assert address == cluster.node_process(int(node)).info.address
        assert (up, link) == ("t", "connected")
        assert scl.startswith("0:") and int(scl[2:]) >= vdl > 0
    # No replication endpoint runs for the directory (no DIR/writer.json): no replicas.
    assert first.rstrip().endswith(
        f"Replicas: none connected (no replication endpoint runs for {directory}: "
        "`aurora-lite serve DIR` or aurora_lite.replica.start_publisher starts one)")

    # Node 3 was killed: the writer goes on with five, the view shows the sixth down.
    _, rows = _segment_rows(second)
    assert rows[2][:2] == ["3", ""] and rows[2][3:5] == ["f", "down"]
    assert all(row[3:5] == ["t", "connected"] for row in rows if row[0] != "3")
    assert int(second.split("Writer: VDL ")[1].split(",")[0]) > vdl


def test_cluster_view_without_a_storage_volume(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert run(Target("sqlite3", str(tmp_path)), [("command", ".cluster")], stdout=out,
               stderr=err) == 0
    assert out.getvalue().startswith("No storage view for the sqlite3 test database in ")
