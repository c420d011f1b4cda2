"""bench/shipping.py runs (a tiny --quick) and its JSON has every figure docs/benchmarks.md
and docs/operations.md describe. The twelve storage processes it starts are stopped by the
benchmark itself; the test stops any it left (by the PIDs its cluster directories record)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from aurora_lite.cluster import stop_cluster

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIELDS = ("transactions", "tps", "bytes_per_txn", "messages_per_txn", "fsyncs_per_txn",
          "commit_p50_ms", "commit_p99_ms", "page_bytes_per_txn", "log_bytes_per_txn",
          "writer_cpu_ms_per_txn", "nodes_cpu_ms_per_txn")

pytestmark = pytest.mark.timeout(150)


def test_quick_benchmark_writes_its_figures(tmp_path):
    out = tmp_path / "shipping.json"
    work = tmp_path / "work"
    command = [sys.executable, str(ROOT / "bench" / "shipping.py"), "--quick", "--seconds",
               "1", "--repeats", "1", "--rows", "200", "--clients", "4", "--dir", str(work),
               "--json", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, AURORA_LITE_STORAGE="cluster"))
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=10)
        pytest.fail(f"bench/shipping.py --quick took over 120 s:\n{output[-3000:]}")
    finally:
        for mode in ("redo", "page"):
            if (work / mode / "cluster.json").exists():
                stop_cluster(str(work / mode), timeout=5)
    assert process.returncode == 0, output[-3000:]
    assert "improvement (redo vs page)" in output
    document = json.loads(out.read_text())
    assert document["benchmark"] == "shipping"
    assert document["parameters"]["clients"] == 4
    for mode in ("redo", "page"):
        result = document["results"][mode]
        for field in FIELDS:
            assert field in result, (mode, field)
        assert result["transactions"] > 0 and result["tps"] > 0
    redo, page = document["results"]["redo"], document["results"]["page"]
    assert redo["page_bytes_per_txn"] == 0 and page["page_bytes_per_txn"] >= 16384
    assert set(document["ratios"]) >= {"tps", "bytes_per_txn", "messages_per_txn",
                                       "fsyncs_per_txn", "commit_p50", "commit_p99"}
    # Redo shipping sends a fraction of page shipping's bytes (the target is 7.7x; a tiny
    # noisy run is held to less).
    assert document["ratios"]["bytes_per_txn"] > 4
