"""The quick failover drill, end to end (``aurora-lite drill --quick``): every step's verdict
is PASS, within the CI budget of two minutes, and the failover is held to issue 6's 5 s
target; and a drill with a violation injected on purpose (the test-only
AURORA_LITE_DRILL_TEST_FAULT) exits 1 with a report that names it. The seed is random and
printed; replay one with AURORA_DRILL_SEED=N. The drill runs as a child process in its own
work directory; should it overrun, it gets SIGTERM (it then stops what it started), and
anything left behind is killed by the PIDs recorded in that directory."""

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


def _run_drill(tmp_path, seed: int, env: dict | None = None) -> tuple[int, str, float, str]:
    """(exit status, output, seconds, the drill's work directory)."""
    directory = str(tmp_path / "drill")
    report_path = str(tmp_path / "drill.json")
    command = [sys.executable, "-m", "aurora_lite", "drill", "--quick", "--no-fsync",
               "--seed", str(seed), "--dir", directory, "--json", report_path]
    environment = {key: value for key, value in os.environ.items()
                   if key != "AURORA_LITE_DRILL_TEST_FAULT"}
    environment.update(env or {})
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=environment)
    output = ""
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
        if process.poll() is None:
            process.kill()
            process.wait(30)
        for pid in _leftovers(directory):
            os.kill(pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    print(output)
    return process.returncode, output, elapsed, directory


def test_quick_drill_passes_every_step(tmp_path):
    seed = int(os.environ.get("AURORA_DRILL_SEED") or random.randrange(1, 1 << 31))
    print("seed", seed)
    report_path = str(tmp_path / "drill.json")
    returncode, output, elapsed, directory = _run_drill(tmp_path, seed)
    assert f"seed {seed}" in output
    assert os.path.exists(report_path), f"no report (exit status {returncode})"
    report = json.load(open(report_path))
    verdicts = {step["name"]: step["verdict"] for step in report["steps"]}
    assert list(verdicts) == STEPS
    failed = {step["name"]: step["notes"] for step in report["steps"] if step["verdict"] != "PASS"}
    assert not failed, f"seed {seed}: failed steps {failed}"
    assert report["verdict"] == "PASS" and returncode == 0
    assert report["summary"]["violations"] == 0
    assert report["summary"]["acknowledged"] > 0
    assert min(report["summary"]["reads"].values()) > 0
    figures = {step["name"]: step["figures"] for step in report["steps"]}
    assert figures["kill-3"]["acks_while_stalled"] == 0
    failover = figures["failover"]
    # Issue 6: at most 5 s from the writer's death to the first accepted write. --quick may
    # pass up to 10 s only when other work kept half the cores busy, and then says so.
    assert failover["target_s"] == 5.0
    if failover["first_write_s"] > 5.0:
        notes = " ".join(next(step["notes"] for step in report["steps"]
                              if step["name"] == "failover"))
        assert failover["first_write_s"] <= 10.0 and "because other work kept" in notes, \
            failover
    for key in ("command_start_s", "promote_s", "recovery_s", "new_writer_s", "clients_s"):
        assert key in failover, (key, failover)
    assert figures["restore"]["ledger_rows"] > 0
    assert not _leftovers(directory), "processes left running"
    assert elapsed < BUDGET_S, f"the quick drill took {elapsed:.0f} s (budget {BUDGET_S:g} s)"


def test_an_injected_violation_fails_the_drill_naming_it(tmp_path):
    """AURORA_LITE_DRILL_TEST_FAULT=split-transfer (test-only) commits one transfer as two
    transactions a second apart, once every target has been read: the readers of the writer
    and of the replicas see the money missing (S1) and an account update without its ledger
    row (S2). The start step fails naming that; the drill stops there and exits 1."""
    seed = int(os.environ.get("AURORA_DRILL_SEED") or random.randrange(1, 1 << 31))
    print("seed", seed)
    returncode, output, _elapsed, directory = _run_drill(
        tmp_path, seed, env={"AURORA_LITE_DRILL_TEST_FAULT": "split-transfer"})
    assert returncode == 1, output[-3000:]
    assert "TEST FAULT INJECTED (AURORA_LITE_DRILL_TEST_FAULT=split-transfer)" in output
    report = json.load(open(tmp_path / "drill.json"))
    assert report["verdict"] == "FAIL" and report["injected_fault"] == "split-transfer"
    assert [step["name"] for step in report["steps"]] == ["start"]
    start = report["steps"][0]
    assert start["verdict"] == "FAIL"
    notes = "\n".join(start["notes"])
    assert "test fault: one transfer split into two transactions (done)" in notes
    assert "VIOLATION: partial-read on writer: S1: sum(balance) = " in notes, notes
    assert "VIOLATION: partial-read on replica-" in notes, notes
    assert report["summary"]["violations"] > 0
    assert "drill FAIL: 0 of 1 steps passed" in output and "failed: start" in output
    assert not _leftovers(directory), "processes left running"


def test_an_unknown_test_fault_is_refused():
    result = subprocess.run([sys.executable, "-m", "aurora_lite", "drill", "--quick"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, AURORA_LITE_DRILL_TEST_FAULT="nonsense"))
    assert result.returncode == 2
    assert "unknown test fault 'nonsense'" in result.stderr
