"""``aurora-lite segment``: run one storage node as its own OS process.

Loads the cluster file and its secret, opens the node's data directory (``SegmentNode``),
warms up the numba materializer so the first read does not pay for it, and serves until
SIGTERM or SIGINT, after which every segment is closed cleanly (appended records fsynced).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import trio

from aurora_lite.errors import Error as AuroraError
from aurora_lite.membership import load, load_secret, parse_address
from aurora_lite.segment._node import SegmentNode
from aurora_lite.segment._server import SegmentServer

log = logging.getLogger("aurora_lite.segment")


def run_segment(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
        format=f"%(asctime)s node {args.node_id} %(levelname)s %(message)s")
    try:
        config = load(args.config)
        secret = load_secret(args.config)
        node = SegmentNode(config, args.node_id, args.data, fsync=not args.no_fsync)
        host, port = (parse_address(args.listen, any_port=True) if args.listen
                      else (node.info.host, node.info.port))
        node.open()
    except AuroraError as exc:
        print(f"aurora-lite segment: {exc}", file=sys.stderr)
        return 1
    try:
        from aurora_lite.redo.materialize import warm_up
        warm_up()
        server = SegmentServer(node, secret, host=host, port=port, gap_wait=args.gap_wait,
                               gossip_interval=args.gossip_interval,
                               scrub_interval=args.scrub_interval)
        trio.run(_serve_until_signalled, server)
    except OSError as exc:
        print(f"aurora-lite segment: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()
    log.info("node %d stopped", node.node_id)
    return 0


async def _serve_until_signalled(server: SegmentServer) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve)
            # Launchers wait for this line (and then for STATUS) before using the node.
            print(f"listening on {server.host}:{port}", flush=True)
            async for signum in signals:
                log.info("node %d: %s received, stopping", server.node.node_id,
                         signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``aurora-lite segment`` (used by aurora_lite.cli)."""
    parser.add_argument("--config", required=True, metavar="CLUSTER_FILE",
                        help="the cluster file (its secret must sit next to it, mode 0600)")
    parser.add_argument("--node-id", type=int, required=True, metavar="N",
                        help="this node's id in the cluster file")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="data directory (default: the node's entry in the cluster file)")
    parser.add_argument("--listen", metavar="HOST:PORT", default=None,
                        help="address to listen on (default: the node's address in the "
                             "cluster file; port 0 picks a free port)")
    parser.add_argument("--no-fsync", action="store_true",
                        help="count fsyncs but do not make them (tests and benchmarks only)")
    parser.add_argument("--gossip-interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--scrub-interval", type=float, default=60.0, metavar="SECONDS",
                        help="seconds between scrub passes (0: only when a read finds damage)")
    parser.add_argument("--gap-wait", type=float, default=0.5, metavar="SECONDS",
                        help="how long an ack waits for a gap before it to be filled")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))
