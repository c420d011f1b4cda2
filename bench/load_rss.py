"""Peak memory of the writer while loading 1,000,000 rows in one transaction, against sqlite3.

Each engine loads the same rows in a fresh child process (so peak RSS is the loader's own);
the child reports its peak resident set size (ru_maxrss) and its load time. The target for
aurora_lite is a peak RSS under 400 MB: the buffer pool is bounded, and dirty pages leave it
once storage holds their redo durably.

    python bench/load_rss.py [--quick] [--json PATH] [--rows N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402

CHILD = r"""
import json, os, resource, sys, time
kind, directory, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "sqlite3":
    import sqlite3
    connection = sqlite3.connect(os.path.join(directory, "load.db"), isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
else:
    import aurora_lite
    connection = aurora_lite.connect(os.path.join(directory, "aurora"))
cursor = connection.cursor()
cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c DOUBLE PRECISION)")
if kind == "sqlite3":
    cursor.execute("BEGIN")
start = time.perf_counter()
chunk = 10_000
for base in range(0, count, chunk):
    cursor.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                       [(i, i % 977, "payload-%010d" % i, i * 0.5)
                        for i in range(base, min(base + chunk, count))])
if kind == "sqlite3":
    cursor.execute("COMMIT")
else:
    connection.commit()
seconds = time.perf_counter() - start
cursor.execute("SELECT count(*) FROM t")
loaded = cursor.fetchall()[0][0]
stats = connection.statistics() if hasattr(connection, "statistics") else {}
connection.close()
print(json.dumps({"seconds": seconds, "rows": loaded,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "redo_bytes": stats.get("redo_bytes_shipped", 0)}))
"""


def load(kind: str, count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as directory:
        process = subprocess.run([sys.executable, "-c", CHILD, kind, directory, str(count)],
                                 capture_output=True, text=True, timeout=3600)
        if process.returncode != 0:
            raise SystemExit(f"{kind} loader failed:\n{process.stderr}")
        return json.loads(process.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = _harness.parser(__doc__.splitlines()[0], repeats=1)
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    count = args.rows or (100_000 if args.quick else 1_000_000)
    results = {kind: load(kind, count) for kind in ("sqlite3", "aurora_lite")}
    print(f"\nLoading {count:,} rows in one transaction")
    print(f"{'engine':<14} {'seconds':>9} {'rows/s':>10} {'peak RSS MB':>12}")
    for kind, result in results.items():
        print(f"{kind:<14} {result['seconds']:>9.2f} {count / result['seconds']:>10,.0f} "
              f"{result['peak_rss_mb']:>12.1f}")
        assert result["rows"] == count, f"{kind} loaded {result['rows']} rows"
    aurora = results["aurora_lite"]
    verdict = "PASS" if aurora["peak_rss_mb"] < 400 else "FAIL"
    print(f"\naurora_lite peak RSS {aurora['peak_rss_mb']:.1f} MB (target < 400 MB): {verdict}")
    print(f"load speed vs sqlite3: {results['sqlite3']['seconds'] / aurora['seconds']:.3f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"benchmark": "load_rss", "rows": count, "machine": _harness.machine(),
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "results": results, "target_peak_rss_mb": 400}, out, indent=2)
        print(f"wrote {args.json}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
