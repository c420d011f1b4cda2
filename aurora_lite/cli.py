"""The ``aurora-lite`` command line: one argparse subcommand per tool.

Each subcommand is a ``Command`` in ``COMMANDS``: its name, its one-line help, a function that
adds its options to its parser, and a function that runs it and returns the exit status.
Subcommands whose tool does not exist yet accept any arguments, print "not implemented yet"
to stderr and exit with status 2. To implement one, give its entry ``configure`` and ``run``
(import heavy modules inside ``run`` so that ``aurora-lite shell`` stays quick to start).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aurora_lite

EXIT_NOT_IMPLEMENTED = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[argparse.Namespace], int] | None = None


# -- serve and user: options here, the work in aurora_lite.server (imported only to run) ------
_DEFAULT_LISTEN = ("127.0.0.1", 5433)


def _listen_address(text: str) -> tuple[str, int]:
    host, separator, port = text.rpartition(":")
    if not separator:
        host, port = text, str(_DEFAULT_LISTEN[1])
    host = host.strip("[]") or _DEFAULT_LISTEN[0]
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return host, number


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a timeout cannot be negative")
    return value or None


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="the data directory to serve")
    parser.add_argument("--listen", type=_listen_address, default=_DEFAULT_LISTEN,
                        metavar="HOST:PORT",
                        help="address to listen on (default 127.0.0.1:5433; port 0 picks a "
                             "free port, printed on stdout)")
    parser.add_argument("--auth", choices=("scram", "trust"), default="scram",
                        help="scram (default): SCRAM-SHA-256 against the users of DIR "
                             "(aurora-lite user add); trust: no password at all")
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--workers", type=int, default=32,
                        help="statements that may run at once (default 32)")
    parser.add_argument("--max-message-bytes", type=int, default=16 << 20,
                        help="longest protocol message accepted (default 16 MiB)")
    parser.add_argument("--statement-timeout", type=_seconds, default=None, metavar="SECONDS",
                        help="cancel statements that run longer (default: no limit)")
    parser.add_argument("--idle-session-timeout", type=_seconds, default=None,
                        metavar="SECONDS", help="close idle connections (default: never)")
    parser.add_argument("--idle-in-transaction-timeout", type=_seconds, default=300.0,
                        metavar="SECONDS", help="close connections idle inside a transaction "
                        "(default 300; 0: never)")
    parser.add_argument("--no-fsync", action="store_true",
                        help="do not fsync the log (tests and benchmarks only)")
    parser.add_argument("--quiet", action="store_true", help="print only errors on stderr")
    tls = parser.add_argument_group("TLS", "with a certificate and its key, an SSLRequest "
                                    "(psql/psycopg sslmode=prefer, require, ...) is answered "
                                    "'S' and the connection is encrypted (TLS 1.2 or later)")
    tls.add_argument("--tls-cert", metavar="FILE", default=None,
                     help="PEM certificate (chain) of the server; needs --tls-key")
    tls.add_argument("--tls-key", metavar="FILE", default=None,
                     help="PEM private key of that certificate, unencrypted, mode 0600")
    tls.add_argument("--tls-required", action="store_true",
                     help="refuse clients that do not use TLS (FATAL 28000, as a hostssl-only "
                          "pg_hba.conf); cancel requests are still accepted in the clear")
    replication = parser.add_mutually_exclusive_group()
    replication.add_argument("--replication-listen", type=_listen_address,
                             default=("127.0.0.1", 0), metavar="HOST:PORT",
                             help="on a cluster directory, serve the redo stream to read "
                                  "replicas here (default 127.0.0.1 on a free port, printed "
                                  "and recorded in DIR/writer.json)")
    replication.add_argument("--no-replication", dest="replication_listen",
                             action="store_const", const=None,
                             help="do not serve the redo stream")


def _run_serve(args: argparse.Namespace) -> int:
    from aurora_lite.server import run_serve
    return run_serve(args)


def _configure_user(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user: the password is read from the "
                                         "terminal, or from the first line of stdin")
    add.add_argument("name", metavar="NAME")
    add.add_argument("directory", metavar="DIR")
    add.add_argument("--replace", action="store_true",
                     help="set a new password for an existing user")
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("directory", metavar="DIR")
    listing = actions.add_parser("list", help="list the users")
    listing.add_argument("directory", metavar="DIR")


def _run_user(args: argparse.Namespace) -> int:
    from aurora_lite.server import run_user
    return run_user(args)


# -- segment and cluster: options here, the work in aurora_lite.segment / aurora_lite.cluster ----
def _configure_segment(parser: argparse.ArgumentParser) -> None:
    from aurora_lite.segment._main import configure
    configure(parser)


def _run_segment(args: argparse.Namespace) -> int:
    from aurora_lite.segment import run_segment
    return run_segment(args)


def _configure_cluster(parser: argparse.ArgumentParser) -> None:
    from aurora_lite.cluster._cli import configure
    configure(parser)


def _run_cluster(args: argparse.Namespace) -> int:
    from aurora_lite.cluster import run_cluster_command
    return run_cluster_command(args)


def _configure_restore(parser: argparse.ArgumentParser) -> None:
    from aurora_lite.cluster._cli import configure_restore
    configure_restore(parser)


def _run_restore(args: argparse.Namespace) -> int:
    from aurora_lite.cluster._cli import run_restore
    return run_restore(args)


# -- replica and failover: options here, the work in aurora_lite.server / aurora_lite.cluster ------
def _configure_replica(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="CLUSTER_FILE",
                        help="the cluster file (DIR/cluster.json) of the volume to follow")
    parser.add_argument("--writer", type=_listen_address, default=None, metavar="HOST:PORT",
                        help="the writer's replication endpoint (default: the one recorded "
                             "in DIR/writer.json, which is also where a new writer is found "
                             "after a restart or a failover)")
    parser.add_argument("--listen", type=_listen_address, default=("127.0.0.1", 5434),
                        metavar="HOST:PORT",
                        help="where to serve read-only SQL (PostgreSQL wire protocol; "
                             "default 127.0.0.1:5434, port 0 picks a free one)")
    parser.add_argument("--control", type=_listen_address, default=("127.0.0.1", 0),
                        metavar="HOST:PORT",
                        help="control endpoint for tools (status, promotion; default a free "
                             "port on 127.0.0.1)")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="the replica's own directory (its users file); default: the "
                             "cluster directory")
    parser.add_argument("--auth", choices=("scram", "trust"), default="scram")
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--statement-timeout", type=_seconds, default=None, metavar="SECONDS")
    parser.add_argument("--pool-pages", type=int, default=4096,
                        help="pages the replica caches (16 KB each; default 4096)")
    parser.add_argument("--ready-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long to wait for the writer's stream before serving")
    parser.add_argument("--quiet", action="store_true", help="print only errors on stderr")


def _run_replica(args: argparse.Namespace) -> int:
    from aurora_lite.server import run_replica
    return run_replica(args)


def _configure_failover(parser: argparse.ArgumentParser) -> None:
    from aurora_lite.cluster._failover import configure
    configure(parser)


def _run_failover(args: argparse.Namespace) -> int:
    from aurora_lite.cluster._failover import run
    return run(args)


# -- drill: options here, the work in aurora_lite.drill -------------------------------------------
def _configure_drill(parser: argparse.ArgumentParser) -> None:
    from aurora_lite.drill._cli import configure
    configure(parser)


def _run_drill(args: argparse.Namespace) -> int:
    from aurora_lite.drill._cli import run
    return run(args)


# -- shell: imported only when it runs (it loads prompt_toolkit; `failover` must start fast) --
def _configure_shell(parser: argparse.ArgumentParser) -> None:
    from aurora_lite.shell import add_arguments
    add_arguments(parser)


def _run_shell(args: argparse.Namespace) -> int:
    from aurora_lite.shell import run_command
    return run_command(args)


COMMANDS: tuple[Command, ...] = (
    Command("shell", "interactive SQL shell (a data directory, or a postgresql:// server)",
            _configure_shell, _run_shell),
    Command("serve", "serve the PostgreSQL wire protocol (psql, psycopg)", _configure_serve,
            _run_serve),
    Command("segment", "run one storage node (the segments placed on it) as its own process",
            _configure_segment, _run_segment),
    Command("cluster", "launch, stop and inspect a local storage cluster (six nodes)",
            _configure_cluster, _run_cluster),
    Command("replica", "run a read replica that follows the writer's redo stream",
            _configure_replica, _run_replica),
    Command("failover", "promote a replica (or start a new writer) after the writer fails",
            _configure_failover, _run_failover),
    Command("restore", "restore a volume to a point in time (--to-time / --to-lsn) from an "
            "archive", _configure_restore, _run_restore),
    Command("user", "manage the users allowed to connect (SCRAM verifiers in DIR)",
            _configure_user, _run_user),
    Command("drill", "run the failover drill: a scripted game day on a local cluster",
            _configure_drill, _run_drill),
)


def _not_implemented(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"aurora-lite {name}: not implemented yet", file=sys.stderr)
        return EXIT_NOT_IMPLEMENTED
    return run


def _version() -> str:
    import importlib.metadata
    try:
        return importlib.metadata.version("aurora-lite")
    except importlib.metadata.PackageNotFoundError:
        return getattr(aurora_lite, "__version__", "unknown")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given ``command`` (the one being run), only that command's
    options are configured: configuring one imports its module, and ``aurora-lite failover``
    (run the moment a writer dies) should not wait for the storage node's imports."""
    parser = argparse.ArgumentParser(
        prog="aurora-lite",
        description="aurora_lite: an Aurora-style log-structured storage engine with SQL.")
    parser.add_argument("--version", action="version",
                        version=f"aurora-lite {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in COMMANDS:
        implemented = entry.run is not None
        sub = subparsers.add_parser(
            entry.name, help=entry.help + ("" if implemented else " (not implemented yet)"),
            description=entry.help)
        if implemented:
            if entry.configure is not None and command in (None, entry.name):
                entry.configure(sub)
            sub.set_defaults(run=entry.run)
        else:
            sub.set_defaults(run=_not_implemented(entry.name))
        sub.set_defaults(implemented=implemented)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), if it names one."""
    for word in argv:
        if not word.startswith("-"):
            return word if any(entry.name == word for entry in COMMANDS) else None
    return None


def _terminate_cleanly() -> None:
    """SIGTERM ends a command the way Ctrl-C or an error does - by an exception, so that
    ``finally`` blocks and atexit handlers run - instead of killing the process where it
    stands. Without this a ``serve`` or ``shell`` terminated while it was starting its storage
    nodes exited at once and left the six node processes running (the launcher stops the nodes
    it started at exit). Commands that handle SIGTERM themselves (trio's signal receivers in
    serve, replica and segment) replace this while they run and restore it after."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_of(argv))
    args, unknown = parser.parse_known_args(argv)
    # A command that is not implemented yet accepts any arguments, so that scripts written
    # for the finished tool get "not implemented yet" rather than a usage error.
    if unknown and getattr(args, "implemented", True):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    _terminate_cleanly()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. "| head"): not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
