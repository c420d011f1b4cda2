"""The numba environment (issue 2, part 4): NUMBA_CACHE_DIR is respected, NUMBA_DISABLE_JIT=1
still runs the whole engine.

Both run a child Python process, because numba reads these variables once, at import. Each
child is stopped by its PID if it overruns its (generous) time limit.

* NUMBA_CACHE_DIR: a child with a fresh, empty cache directory warms the kernels up
  (``aurora_lite.redo.materialize.warm_up()``, what a segment process does at start-up): the
  compiled kernels must be written there (``*.nbi`` index and ``*.nbc`` data files), and a
  second child with the same directory must load every kernel from it without compiling.
  The first child compiles from scratch: about 35 s of CPU, hence ``slow``.
* NUMBA_DISABLE_JIT=1: a child runs the engine end to end on local storage (create, insert
  enough rows to split pages, an index, update, delete, commit, close, reopen, read back)
  with the kernels as plain Python functions, and counts that those bodies really ran.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The kernels warm_up() compiles (aurora_lite/redo/_kernels.py, the public nogil ones).
KERNELS = ("scan_records", "first_records", "apply_records", "record_columns",
           "check_records_at", "gather_bytes")


def run_child(script: str, env_overrides: dict, *args: str, timeout: float) -> dict:
    """Run ``script`` in a child interpreter; return the JSON object it prints last."""
    env = dict(os.environ)
    for name in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT"):
        env.pop(name, None)
    env.update(env_overrides)
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()                          # this child only, by its PID
        stdout, stderr = process.communicate(timeout=30)
        pytest.fail(f"child {process.pid} ran over {timeout} s\n{stderr[-3000:]}")
    assert process.returncode == 0, stderr[-5000:]
    return json.loads(stdout.strip().splitlines()[-1])


WARM_UP = """
    import json, os
    from aurora_lite.redo import materialize
    assert materialize.warm_up(), "the numba kernels are not available"
    from aurora_lite.redo import _kernels
    stats = {}
    for name in %r:
        kernel = getattr(_kernels, name)
        stats[name] = {"path": kernel.stats.cache_path,
                       "hits": sum(kernel.stats.cache_hits.values()),
                       "misses": sum(kernel.stats.cache_misses.values())}
    print(json.dumps(stats))
""" % (KERNELS,)


@pytest.mark.slow
def test_numba_cache_dir_is_used(tmp_path):
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    sources = ROOT / "aurora_lite" / "redo"

    first = run_child(WARM_UP, {"NUMBA_CACHE_DIR": str(cache)}, timeout=900)
    for name, stats in first.items():
        # numba's cache for this kernel lives under NUMBA_CACHE_DIR, not beside the sources,
        # and an empty directory held nothing to load: it compiled.
        assert pathlib.Path(stats["path"]).is_relative_to(cache), (name, stats)
        assert stats["misses"] >= 1 and stats["hits"] == 0, (name, stats)
    index_files = list(cache.rglob("*.nbi"))
    data_files = list(cache.rglob("*.nbc"))
    assert index_files and data_files, f"nothing was cached in {cache}"
    for name in KERNELS:
        assert any(path.name.startswith(f"_kernels.{name}-") for path in index_files), name
        assert any(path.name.startswith(f"_kernels.{name}-") for path in data_files), name
    assert all(not path.is_relative_to(sources) for path in index_files + data_files)

    # A second process with the same directory loads every kernel from it: nothing compiles.
    second = run_child(WARM_UP, {"NUMBA_CACHE_DIR": str(cache)}, timeout=300)
    for name, stats in second.items():
        assert pathlib.Path(stats["path"]).is_relative_to(cache), (name, stats)
        assert stats["hits"] >= 1 and stats["misses"] == 0, (name, stats)


END_TO_END = """
    import collections, json, sys
    import aurora_lite
    from aurora_lite.redo import _kernels, materialize

    # With NUMBA_DISABLE_JIT=1, @njit gives back the plain Python function.
    assert not hasattr(_kernels.apply_records, "py_func"), "numba is still compiling"
    assert materialize.kernel_available()
    calls = collections.Counter()

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    for name in %r:
        setattr(_kernels, name, counted(name, getattr(_kernels, name)))

    directory = sys.argv[1]
    rows = [(i, "row %%04d " %% i + "x" * (i %% 200), i %% 17) for i in range(600)]
    with aurora_lite.connect(directory, storage="local") as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER)")
        cursor.execute("CREATE INDEX t_n ON t (n)")
        cursor.executemany("INSERT INTO t VALUES (?, ?, ?)", rows[:300])
        connection.commit()
        for row in rows[300:]:                        # one at a time: leaf splits one by one
            cursor.execute("INSERT INTO t VALUES (?, ?, ?)", row)
        cursor.execute("UPDATE t SET v = 'changed' WHERE id %% 50 = 0")
        cursor.execute("DELETE FROM t WHERE id %% 7 = 3")
        connection.commit()
        cursor.execute("INSERT INTO t VALUES (10000, 'rolled back', 0)")
        connection.rollback()
        cursor.execute("SELECT count(*) FROM t WHERE n = 5")
        in_session = cursor.fetchone()[0]
    expected = {i: ("changed" if i %% 50 == 0 else v, n) for i, v, n in rows if i %% 7 != 3}
    during = dict(calls)
    calls.clear()

    with aurora_lite.connect(directory, storage="local") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id, v, n FROM t ORDER BY id")
        back = {i: (v, n) for i, v, n in cursor.fetchall()}
        cursor.execute("SELECT id FROM t WHERE n = 5 ORDER BY id")
        by_index = [i for (i,) in cursor.fetchall()]
        stats = connection.statistics()
    print(json.dumps({
        "same": back == expected, "rows": len(back),
        "index_ok": by_index == sorted(i for i, (v, n) in expected.items() if n == 5),
        "in_session_ok": in_session == sum(1 for v, n in expected.values() if n == 5),
        "row_bytes": sum(len(v) for v, n in expected.values()),
        "during": during, "after_reopen": dict(calls),
        "page_bytes_shipped": stats["page_bytes_shipped"],
    }))
""" % (KERNELS,)


def test_numba_disable_jit_runs_the_engine_end_to_end(tmp_path):
    result = run_child(END_TO_END, {"NUMBA_DISABLE_JIT": "1"}, str(tmp_path / "db"),
                       timeout=600)
    assert result["rows"] == 600 - 86                 # ids 3, 10, ..., 598 deleted
    assert result["same"] and result["index_ok"] and result["in_session_ok"]
    assert result["row_bytes"] > 3 * 16384            # rows of at least four leaves: splits
    assert result["page_bytes_shipped"] == 0
    # The pure-Python kernel bodies did the work: the write path checked every batch with
    # them, and after the reopen storage built the pages it served with them.
    assert result["during"].get("record_columns", 0) >= 1, result
    assert result["after_reopen"].get("apply_records", 0) >= 1, result
