"""``aurora-lite drill`` (and tools/failover_drill.py): the options and the entry point."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Failover drill: a scripted game day on a local cluster (six storage nodes, a writer, "
        "two replicas, archiving on) under a concurrent bank-transfer workload with an "
        "invariant checker. Kills one, two, then three nodes, brings them back, damages a "
        "node's log, kill -9s the writer and fails over, restores the archive to a point in "
        "time. Prints a verdict per step; exits 1 on any violation (docs/operations.md).")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of every random choice (printed; default: random)")
    parser.add_argument("--quick", action="store_true",
                        help="short windows and a small workload (CI: under 2 minutes)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write the report as JSON to PATH")
    parser.add_argument("--dir", metavar="DIR", default=None,
                        help="work directory (default: a new temporary directory, removed "
                             "afterwards unless --keep)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (cluster, logs, restored volume)")
    parser.add_argument("--no-fsync", action="store_true",
                        help="nodes and writer do not fsync (faster; kill -9 of a process "
                             "loses nothing the kernel holds)")
    parser.add_argument("--clients", type=int, default=None,
                        help="transfer client threads (default 4; --quick 3)")
    parser.add_argument("--accounts", type=int, default=None,
                        help="accounts (default 50; --quick 20)")
    parser.add_argument("--window", type=float, default=None, metavar="SECONDS",
                        help="how long each step watches commits and reads (default 6; "
                             "--quick 2.5)")
    parser.add_argument("--failover-bound", type=float, default=None, metavar="SECONDS",
                        help="kill -9 of the writer to the first acknowledged transfer, at "
                             "most (default: issue 6's target, 5; --quick allows 10 when "
                             "other work keeps half the cores busy, unless this is given)")


def run(args: argparse.Namespace) -> int:
    from aurora_lite.drill._drill import FAULT_ENV, Drill, Settings
    seed = args.seed if args.seed is not None else random.randrange(1, 1 << 31)
    try:
        settings = Settings.for_mode(seed, args.quick, directory=args.dir, keep=args.keep,
                                     fsync=not args.no_fsync, clients=args.clients,
                                     accounts=args.accounts, window=args.window,
                                     failover_bound=args.failover_bound,
                                     # test-only: breaks an invariant on purpose (tests/drill)
                                     fault=os.environ.get(FAULT_ENV) or None)
    except ValueError as error:
        print(f"aurora-lite drill: {FAULT_ENV}: {error}", file=sys.stderr)
        return 2
    if settings.clients < 1 or settings.accounts < 2:
        print("aurora-lite drill: need at least 1 client and 2 accounts", file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout, `kill PID`) stops the drill like ^C: every process it started is
    # stopped by PID on the way out.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = Drill(settings).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    return 0 if report.verdict == "PASS" else 1


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
