"""The quick failover drill, end to end (``aurora-lite drill --quick``): every step's verdict
is PASS, within the CI budget of two minutes. The seed is random and printed; replay one with
AURORA_DRILL_SEED=N. The drill runs as a child process in its own work directory; should it
overrun, it gets SIGTERM (it then stops what it started), and anything left behind is killed
by the PIDs recorded in that directory."""

from __future__ import annotations

import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUDGET_S = float(os.environ.get("AURORA_DRILL_BUDGET", "120"))
STEPS = ["start", "kill-1", "kill-2", "kill-3", "revive", "corrupt", "failover", "restore",
         "verify"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _leftovers(directory: str) -> list[int]:
    """PIDs of processes of the drill's cluster that still run (nodes, writer, replicas)."""
    pids = set()
    for path in glob.glob(os.path.join(directory, "cluster", "pids", "*.pid")):
        try:
            pids.add(int(open(path).read().strip()))
        except (OSError, ValueError):
            pass
    for path in [os.path.join(directory, "cluster", "writer.json"),
                 *glob.glob(os.path.join(directory, "cluster", "replicas", "*.json"))]:
        try:
            pids.add(int(json.load(open(path))["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    found = []
    for pid in pids:
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if _alive(pid) and b"aurora_lite" in argv and directory.encode() in argv:
            found.append(pid)
    return found


def test_quick_drill_passes_every_step(tmp_path):
    seed = int(os.environ.get("AURORA_DRILL_SEED") or random.randrange(1, 1 << 31))
    print("seed", seed)
    directory = str(tmp_path / "drill")
    report_path = str(tmp_path / "drill.json")
    command = [sys.executable, "-m", "aurora_lite", "drill", "--quick", "--no-fsync",
               "--seed", str(seed), "--dir", directory, "--json", report_path]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=BUDGET_S + 120)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=30)
    finally:
        for pid in _leftovers(directory):
            os.kill(pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    print(output)
    assert f"seed {seed}" in output
    assert os.path.exists(report_path), f"no report (exit status {process.returncode})"
    report = json.load(open(report_path))
    verdicts = {step["name"]: step["verdict"] for step in report["steps"]}
    assert list(verdicts) == STEPS
    failed = {step["name"]: step["notes"] for step in report["steps"] if step["verdict"] != "PASS"}
    assert not failed, f"seed {seed}: failed steps {failed}"
    assert report["verdict"] == "PASS" and process.returncode == 0
    assert report["summary"]["violations"] == 0
    assert report["summary"]["acknowledged"] > 0
    assert min(report["summary"]["reads"].values()) > 0
    figures = {step["name"]: step["figures"] for step in report["steps"]}
    assert figures["kill-3"]["acks_while_stalled"] == 0
    assert figures["failover"]["first_write_s"] <= 10
    assert figures["restore"]["ledger_rows"] > 0
    assert not _leftovers(directory), "processes left running"
    assert elapsed < BUDGET_S, f"the quick drill took {elapsed:.0f} s (budget {BUDGET_S:g} s)"
