"""The sqllogictest runner: runs .test files through a DB-API connection and counts results.

    python tools/slt.py [--driver aurora|sqlite3] [--storage local|cluster]
                        [--engine-name postgresql] [--json PATH] [--timeout-per-file S] [-v]
                        FILE...

Each file runs on a fresh database. With the aurora driver, storage is in-process by default
(``--storage local``): the corpus tests the SQL layers, which are the same whatever stores the
pages, and starting six segment processes per file (``--storage cluster``) costs seconds per
file and a network round trip per committed statement. The runner prints passed / failed / skipped per file and in
total with the time taken, and exits 1 when a test failed (2 on a usage or I/O problem).
``--json PATH`` writes ``{"files": {path: counts}, "total": counts}`` where counts are
``{"passed", "failed", "skipped", "seconds"}``.

The runner itself lives in ``_slt`` (``run_file`` is importable); this module owns the command
line and the choice of database driver (``database_factory``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _TOOLS)
# The runner tests this checkout's aurora_lite, whatever else is installed.
sys.path.insert(1, os.path.dirname(_TOOLS))

from _slt import Failure, FileResult, run_file  # noqa: E402 - needs the path above

DRIVERS = ("aurora", "sqlite3")
STORAGES = ("local", "cluster")
SHOWN_VALUES = 20


class DriverUnavailable(Exception):
    """The chosen database driver cannot be used in this environment."""


def aurora_database(storage: str = "local") -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of fresh aurora_lite databases in temporary directories, removed afterwards;
    ``storage`` is passed to ``connect`` ("local" or "cluster")."""
    import aurora_lite

    @contextlib.contextmanager
    def database() -> Iterator[Any]:
        with tempfile.TemporaryDirectory(prefix="slt-") as directory:
            # The cluster is connect()'s default (storage=None).
            connection = aurora_lite.connect(
                directory, storage=None if storage == "cluster" else storage)
            try:
                yield connection
            finally:
                connection.close()
    return database


@contextlib.contextmanager
def sqlite3_database() -> Iterator[sqlite3.Connection]:
    """A fresh in-memory SQLite database in autocommit mode (the corpus was made with it)."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def database_factory(driver: str, storage: str = "local"
                     ) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """The one place that picks the database under test for ``--driver`` (and, for aurora,
    ``--storage``)."""
    if driver == "sqlite3":
        return sqlite3_database
    import aurora_lite

    if not hasattr(aurora_lite, "connect"):
        raise DriverUnavailable("aurora_lite.connect is not available yet; "
                                "use --driver sqlite3 to run the files on SQLite")
    return aurora_database(storage)


def _limited(values: Sequence[str]) -> list[str]:
    if len(values) <= SHOWN_VALUES:
        return list(values)
    return [*values[:SHOWN_VALUES], f"... ({len(values) - SHOWN_VALUES} more)"]


def print_failure(path: str, failure: Failure, out=sys.stdout) -> None:
    print(f"FAIL {path}:{failure.line}: {failure.message}", file=out)
    for label, lines in (("sql", failure.sql.split("\n")), ("expected", _limited(failure.expected)),
                         ("got", _limited(failure.got))):
        if lines:
            print(f"  {label}:", file=out)
            for line in lines:
                print(f"    {line}", file=out)
    out.flush()


def _summary(name: str, passed: int, failed: int, skipped: int, seconds: float,
             note: str = "") -> str:
    return (f"{name}: {passed} passed, {failed} failed, {skipped} skipped "
            f"in {seconds:.2f} s{note}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slt.py", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--driver", choices=DRIVERS, default="aurora",
                        help="database under test (default: aurora_lite on a temporary "
                             "directory; sqlite3 runs in memory)")
    parser.add_argument("--storage", choices=STORAGES, default="local",
                        help="aurora_lite's storage: in this process (local, the default) or "
                             "the six-process segment cluster started per file (cluster)")
    parser.add_argument("--engine-name", default="postgresql",
                        help="name matched by skipif/onlyif (default: postgresql)")
    parser.add_argument("--json", metavar="PATH", help="write the counts as JSON to PATH")
    parser.add_argument("--timeout-per-file", type=float, metavar="S",
                        help="stop a file after S seconds; its remaining tests fail")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each failure with file:line, the SQL, expected and got")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.timeout_per_file is not None and args.timeout_per_file <= 0:
        print("slt: --timeout-per-file must be positive", file=sys.stderr)
        return 2
    try:
        factory = database_factory(args.driver, args.storage)
    except DriverUnavailable as exc:
        print(f"slt: {exc}", file=sys.stderr)
        return 2
    results: list[FileResult] = []
    unreadable = False
    started = time.monotonic()
    for path in args.files:
        try:
            result = run_file(path, factory, args.engine_name, timeout=args.timeout_per_file,
                              on_failure=print_failure if args.verbose else None)
        except OSError as exc:
            print(f"slt: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            unreadable = True
            continue
        results.append(result)
        note = " (timed out)" if result.timed_out else ""
        print(_summary(path, result.passed, result.failed, result.skipped, result.seconds, note),
              flush=True)
    total = {"passed": sum(r.passed for r in results), "failed": sum(r.failed for r in results),
             "skipped": sum(r.skipped for r in results),
             "seconds": round(time.monotonic() - started, 3)}
    print(_summary(f"total ({len(results)} files)", total["passed"], total["failed"],
                   total["skipped"], total["seconds"]))
    if args.json:
        report = {"files": {r.path: r.counts() for r in results}, "total": total}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")
    if unreadable:
        return 2
    return 1 if total["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
