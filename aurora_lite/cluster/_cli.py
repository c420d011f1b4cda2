"""``aurora-lite cluster start|stop|status DIR`` (the launcher) and ``aurora-lite restore``
(point-in-time restore from an archive) on the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys

from aurora_lite.errors import Error as AuroraError
from aurora_lite.errors import ProgrammingError
from aurora_lite.membership import (
    DEFAULT_CHUNK_INTERVAL, DEFAULT_PG_SIZE, DEFAULT_RETENTION, DEFAULT_SNAPSHOT_INTERVAL,
    ArchiveSettings, parse_duration,
)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ProgrammingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _retention(text: str) -> float | None:
    return None if text.strip().lower() in ("forever", "none", "0") else _duration(text)


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="cluster_action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="create DIR on first use and start its nodes in "
                                             "the background; return once each answers")
    start.add_argument("directory", metavar="DIR")
    start.add_argument("--nodes", type=int, default=6, help="storage nodes (>= 6; default 6)")
    start.add_argument("--pg-size", type=int, default=DEFAULT_PG_SIZE,
                       help=f"pages per protection group (default {DEFAULT_PG_SIZE})")
    start.add_argument("--host", default="127.0.0.1",
                       help="address the nodes listen on (default 127.0.0.1)")
    start.add_argument("--no-fsync", action="store_true",
                       help="nodes count fsyncs without making them (tests only)")
    start.add_argument("--timeout", type=float, default=120.0,
                       help="seconds to wait for the nodes to answer (default 120)")
    archive = start.add_argument_group(
        "continuous archiving (when DIR is created; docs/operations.md)")
    archive.add_argument("--archive", metavar="DIR_OR_S3_URL", default=None,
                         help="where sealed log chunks and page snapshots go: a directory "
                              "(default DIR/archive) or s3://BUCKET/PREFIX "
                              "(pip install 'aurora-lite[s3]')")
    archive.add_argument("--no-archive", action="store_true", help="do not archive")
    archive.add_argument("--retention", type=_retention, default=DEFAULT_RETENTION,
                         metavar="DURATION", help="drop archived chunks and snapshots older "
                         "than this (e.g. 7d, 12h; 'forever' keeps all; default 7d)")
    archive.add_argument("--snapshot-interval", type=_duration,
                         default=DEFAULT_SNAPSHOT_INTERVAL, metavar="DURATION",
                         help="time between page snapshots of each protection group "
                              "(default 1h)")
    archive.add_argument("--chunk-interval", type=_duration, default=DEFAULT_CHUNK_INTERVAL,
                         metavar="DURATION", help="time between sealed log chunks: how far "
                         "the archive may trail the last commit (default 5s)")
    stop = actions.add_parser("stop", help="stop the nodes (SIGTERM, then SIGKILL)")
    stop.add_argument("directory", metavar="DIR")
    stop.add_argument("--timeout", type=float, default=10.0,
                      help="seconds before SIGKILL (default 10)")
    status = actions.add_parser("status", help="show each node: pid, address, up, SCL per PG")
    status.add_argument("directory", metavar="DIR")
    status.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from aurora_lite.cluster._launcher import (
        cluster_status, cluster_status_of, ensure_cluster, stop_cluster,
    )
    try:
        if args.cluster_action == "start":
            node_args = ("--no-fsync",) if args.no_fsync else None
            location = "archive" if args.archive is None else (
                args.archive if "://" in args.archive else os.path.abspath(args.archive))
            archive = None if args.no_archive else ArchiveSettings(
                location=location, retention_seconds=args.retention,
                snapshot_interval=args.snapshot_interval, chunk_interval=args.chunk_interval)
            handle = ensure_cluster(args.directory, nodes=args.nodes, pg_size=args.pg_size,
                                    host=args.host, node_args=node_args, stop_at_exit=False,
                                    timeout=args.timeout, archive=archive)
            _print_table(cluster_status_of(handle))
            return 0
        if args.cluster_action == "stop":
            stopped = stop_cluster(args.directory, args.timeout)
            print(f"stopped {len(stopped)} node(s)" + (
                f": {', '.join(map(str, stopped))}" if stopped else ""))
            return 0
        status = cluster_status(args.directory)
        if args.json:
            print(json.dumps(status, indent=2, sort_keys=True))
        else:
            _print_table(status)
        return 0 if all(entry["up"] for entry in status["segments"]) else 1
    except AuroraError as exc:
        print(f"aurora-lite cluster {args.cluster_action}: {exc}", file=sys.stderr)
        return 1


def _print_table(status: dict) -> None:
    print(f"cluster {status['cluster_id']} in {status['directory']} "
          f"(pg_size {status['pg_size']})")
    archive = status.get("archive")
    if archive:
        covered = " ".join(f"{pg}:{end}" for pg, end in sorted(
            archive["covered"].items(), key=lambda item: int(item[0])))
        print(f"archive {archive['location']} (archived up to lsn per PG: {covered or '-'})")
        for error in archive["errors"]:
            print(f"  archive error: {error}")
    print(f"{'node':>4}  {'pid':>7}  {'address':<22} {'up':<3}  {'epoch':>5}  SCL per PG")
    for entry in status["segments"]:
        scls = " ".join(f"{pg}:{scl}" for pg, scl in sorted(entry["scl"].items(),
                                                             key=lambda item: int(item[0])))
        print(f"{entry['node']:>4}  {entry['pid'] or '-':>7}  {entry['address']:<22} "
              f"{'yes' if entry['up'] else 'no':<3}  "
              f"{entry['epoch'] if entry['epoch'] is not None else '-':>5}  {scls or '-'}")


# -- aurora-lite restore ------------------------------------------------------------------------
def configure_restore(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Build a new volume in TARGET_DIR holding exactly the state after the last commit at "
        "or before the target, from an archive of sealed log chunks and page snapshots. "
        "TARGET_DIR then opens like any data directory (aurora-lite shell TARGET_DIR).")
    parser.add_argument("target", metavar="TARGET_DIR", nargs="?",
                        help="the new volume's directory (must not exist, or be empty)")
    parser.add_argument("--archive", required=True, metavar="DIR_OR_S3_URL",
                        help="the archive: a directory (e.g. CLUSTER_DIR/archive) or "
                             "s3://BUCKET/PREFIX[?endpoint_url=URL]")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-time", metavar="ISO8601",
                        help="restore the last commit at or before this time (a time without "
                             "a UTC offset is UTC), e.g. 2024-05-01T12:00:00Z")
    target.add_argument("--to-lsn", type=int, metavar="N",
                        help="restore the last commit at or below this LSN")
    target.add_argument("--latest", action="store_true",
                        help="restore the latest archived commit")
    target.add_argument("--window", action="store_true",
                        help="only print the restorable window (earliest and latest time and "
                             "LSN) and exit")
    target.add_argument("--check", action="store_true",
                        help="read and verify every chunk and snapshot (CRC32C, sizes, holes "
                             "in the LSN coverage), print the window and exit (1 on damage)")
    parser.add_argument("--no-fsync", action="store_true",
                        help="do not fsync the new volume (tests and benchmarks only)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run_restore(args: argparse.Namespace) -> int:
    from aurora_lite.archive import (
        Catalog, check_archive, format_time, open_archive, parse_time, restore_window,
    )
    from aurora_lite.cluster._restore import Progress, restore
    try:
        if args.window or args.check:
            catalog = Catalog(open_archive(args.archive)).refresh()
            if args.window:
                catalog.require_descriptor()
                window = restore_window(catalog)
                _print_window(window, args.json, format_time)
                return 0
            report = check_archive(catalog)
            _print_check(report, args.json, format_time)
            return 0 if report.clean else 1
        if not args.target:
            raise ProgrammingError("give TARGET_DIR (or --window / --check)")
        if args.to_time is None and args.to_lsn is None and not args.latest:
            raise ProgrammingError("give a target: --to-time ISO8601, --to-lsn N or --latest")
        to_time = parse_time(args.to_time) if args.to_time is not None else None
        result = restore(args.archive, args.target, to_lsn=args.to_lsn, to_time=to_time,
                         latest=args.latest, fsync=not args.no_fsync,
                         progress=None if args.json else Progress())
    except AuroraError as exc:
        print(f"aurora-lite restore: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"directory": result.directory, "archive": result.archive,
                          "target": result.target, "lsn": result.lsn,
                          "commit_time": format_time(result.commit_time),
                          "commit_time_us": result.commit_time, "pages": result.pages,
                          "redo_bytes": result.raw_bytes, "seconds": result.seconds},
                         indent=2))
    else:
        print(f"restored {result.directory}: the state after the commit at lsn {result.lsn} "
              f"({format_time(result.commit_time)}), {result.pages} pages, "
              f"{result.raw_bytes / 1e6:.1f} MB of redo replayed in {result.seconds:.2f} s")
    return 0


def _print_window(window, as_json: bool, format_time) -> None:
    if as_json:
        print(json.dumps({"earliest_lsn": window.earliest_lsn,
                          "earliest_time": format_time(window.earliest_time),
                          "latest_lsn": window.latest_lsn,
                          "latest_time": format_time(window.latest_time),
                          "archived_lsn": window.ceiling}, indent=2))
    else:
        print(window.describe())


def _print_check(report, as_json: bool, format_time) -> None:
    window = report.window
    if as_json:
        print(json.dumps({
            "clean": report.clean, "chunks": report.chunks, "snapshots": report.snapshots,
            "compressed_bytes": report.compressed_bytes, "redo_bytes": report.raw_bytes,
            "problems": report.problems,
            "coverage": {str(pg): list(span) for pg, span in report.coverage.items()},
            "window": None if window is None else {
                "earliest_lsn": window.earliest_lsn,
                "earliest_time": format_time(window.earliest_time),
                "latest_lsn": window.latest_lsn,
                "latest_time": format_time(window.latest_time)}}, indent=2))
        return
    print(f"{report.chunks} chunk(s), {report.snapshots} snapshot(s), "
          f"{report.compressed_bytes / 1e6:.1f} MB stored, {report.raw_bytes / 1e6:.1f} MB of "
          f"redo")
    for pg, (low, high) in sorted(report.coverage.items()):
        print(f"  protection group {pg}: lsn {low} .. {high}")
    for problem in report.problems:
        print(f"  PROBLEM: {problem}")
    if window is not None:
        print(window.describe())
    print("archive is clean" if report.clean else f"{len(report.problems)} problem(s) found")
