"""The ``aurora-lite shell`` command line: its options and turning them into a session.

    aurora-lite shell [DIR | URL] [-c SQL]... [-f FILE]...

``DIR`` is a data directory, opened embedded in this process (default ./aurora-data); ``URL``
(``postgresql://user:password@host:port/db``) connects to ``aurora-lite serve`` or any
PostgreSQL server over the wire protocol. ``-c`` and ``-f`` may be repeated and run in the
order given; without them the shell reads standard input (interactively on a terminal). The
hidden option ``--driver sqlite3`` swaps in a SQLite database in DIR for the shell's own tests.
"""

from __future__ import annotations

import argparse
from typing import Any

from aurora_lite.shell._connect import DEFAULT_DIRECTORY, KINDS, target_for
from aurora_lite.shell._session import run


class _AppendSource(argparse.Action):
    """Collects -c and -f into one list so that they run in command-line order."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        sources = list(getattr(namespace, self.dest, None) or [])
        sources.append((self.const, values))
        setattr(namespace, self.dest, sources)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default=DEFAULT_DIRECTORY, metavar="DIR | URL",
                        help=f"data directory (default: {DEFAULT_DIRECTORY}), or a "
                             "postgresql://user:password@host:port/db URL of a server")
    parser.add_argument("-c", "--command", dest="sources", action=_AppendSource,
                        const="command", metavar="SQL",
                        help="run SQL (statements separated by ';', or one meta-command) and "
                             "exit; repeatable")
    parser.add_argument("-f", "--file", dest="sources", action=_AppendSource, const="file",
                        metavar="FILE", help="run the statements in FILE ('-' is standard "
                                             "input) and exit; repeatable")
    parser.add_argument("--driver", choices=KINDS, default="aurora", help=argparse.SUPPRESS)
    parser.set_defaults(sources=[])


def run_command(args: argparse.Namespace) -> int:
    """Run the shell for parsed arguments; returns the exit status."""
    return run(target_for(args.target, args.driver), args.sources or [])
