"""``aurora-lite shell postgresql://...`` against ``aurora-lite serve`` (started here with
--auth trust on a free port, stopped by PID): statements, meta-commands over the wire, errors
with their caret, and Ctrl-C (SIGINT) cancelling a long statement with a CancelRequest."""

import dataclasses
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.shell.test_shell_terminal import BIG_TABLE, LONG_STATEMENT

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 60


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class PipeReader:
    """Reads a child's output pipe without Python's buffering, so that ``select`` tells the
    truth, and waits (bounded) for a marker."""

    def __init__(self, stream) -> None:
        self.fd = stream.fileno()
        self.text = ""

    def read_until(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        start = 0
        while marker not in self.text[start:]:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(remaining, 0))
            chunk = os.read(self.fd, 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"{marker!r} did not appear; read so far:\n{self.text}")
            self.text += chunk.decode()
        return self.text


@dataclasses.dataclass(frozen=True)
class Served:
    url: str
    pid: int
    directory: str


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("served")
    server = subprocess.Popen(
        [sys.executable, "-m", "aurora_lite", "serve", str(directory / "data"), "--auth",
         "trust", "--listen", "127.0.0.1:0", "--no-fsync", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=directory, env=_env())
    try:
        text = PipeReader(server.stdout).read_until("\n", TIMEOUT)
        assert text.startswith("listening on "), text
        port = int(text.strip().rsplit(":", 1)[1])
        yield Served(f"postgresql://tester@127.0.0.1:{port}/db", server.pid,
                     str(directory / "data"))
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait(TIMEOUT)
        server.stdout.close()
        server.stderr.close()


@pytest.fixture
def url(served):
    return served.url


def shell(url, tmp_path, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "aurora_lite", "shell", url, *args],
                          input=stdin, capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=tmp_path, env=_env())


def test_a_remote_session_through_a_pipe(served, tmp_path):
    url = served.url
    proc = shell(url, tmp_path, stdin=(
        "CREATE TABLE remote_t (a INTEGER PRIMARY KEY, b TEXT);\n"
        "INSERT INTO remote_t VALUES (1, 'x'), (2, NULL);\n"
        "SELECT a, b FROM remote_t ORDER BY a;\n"
        "\\d remote_t\n"
        ".mode csv\n"
        "SELECT a, b FROM remote_t ORDER BY a;\n"
        "SELECT a\n  FROM remote_t WHERE nosuch = 1;\n"
        "\\conninfo\n"
        ".cluster\n"))
    assert proc.returncode == 1  # one statement failed
    before, cluster = proc.stdout.split(f"Connected to the server at {url}: ")
    assert before == (
        "CREATE TABLE\nINSERT 0 2\n"
        " a | b\n---+---\n 1 | x\n 2 |\n(2 rows)\n\n"
        'Table "remote_t"\n Column |  Type\n--------+---------\n'
        " a      | integer\n b      | text\n"
        "(only names and types: this connection offers no catalog for nullability, defaults "
        "and indexes)\n"
        "Output mode is csv.\na,b\n1,x\n2,\n"
        f"You are connected to the server at {url}.\n")
    # .cluster over the wire (SHOW cluster_status): the served writer, on a local volume
    # (the suite's storage), so no storage nodes and no replicas; csv mode applies.
    lines = cluster.splitlines()
    assert lines[0] == f"the writer (pid {served.pid}, data directory {served.directory})."
    assert lines[1] == (f"Storage: local volume in {served.directory} (one segment store "
                        "inside the writer's process: no storage nodes, no quorum)")
    assert lines[2] == "VDL,SCL,materialized LSN,epoch,log records,log bytes,fsyncs"
    vdl = int(lines[3].split(",")[0])
    assert vdl > 0 and int(lines[3].split(",")[1]) >= vdl
    assert re.fullmatch(rf"Writer: VDL {vdl}, read point {vdl}, commits \d+", lines[4])
    assert lines[5:] == ["Replicas: none connected (a local volume serves no read replicas)"]
    assert proc.stderr == ('ERROR:  column "nosuch" does not exist (SQLSTATE 42703)\n'
                           "LINE 2:   FROM remote_t WHERE nosuch = 1\n"
                           "                              ^\n")


def test_listing_relations_needs_a_catalog_the_server_does_not_offer(url, tmp_path):
    proc = shell(url, tmp_path, "-c", "SELECT * FROM listed_t", "-c", "\\d")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "ERROR:  \\d: this server offers no catalog (information_schema); tables used in "
        "this session: none")


def test_ctrl_c_cancels_a_remote_statement(url, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "aurora_lite", "shell", url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env())
    try:
        proc.stdin.write(BIG_TABLE + "\n" + LONG_STATEMENT + "\n")
        proc.stdin.flush()
        output = PipeReader(proc.stdout)
        output.read_until("INSERT 0 4096", TIMEOUT)
        time.sleep(1.0)  # the long statement is running on the server now
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        proc.stdin.write("SELECT 'still here' AS after;\n")
        proc.stdin.close()
        out = output.read_until("(1 row)", 20)
        assert time.monotonic() - sent < 20
        assert "still here" in out
        assert proc.wait(TIMEOUT) == 1  # the cancelled statement counts as failed
        err = proc.stderr.read()
        assert err == "ERROR:  canceling statement due to user request (SQLSTATE 57014)\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
