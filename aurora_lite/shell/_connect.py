"""What the shell connects to (a ``Target``) and how it opens the DB-API connection.

    aurora-lite shell                     embedded, ./aurora-data
    aurora-lite shell DIR                 embedded: aurora_lite.connect(DIR)
    aurora-lite shell postgresql://...    remote: aurora_lite.connect(URL), the wire protocol

The shell never names a driver outside this module. aurora_lite connections are opened with
``autocommit=True``: the engine (or the server) then runs the user's BEGIN ... COMMIT and knows
the transaction state, as a psql session does. When a remote server asks for a password the URL
does not give, a terminal session asks for it (as psql does) and connects again.

When an embedded directory cannot be opened because a served writer holds it (``aurora-lite
serve DIR``), ``served_writer_hint`` names the URL to use instead (from DIR/writer.json).

The ``sqlite3`` kind exists for the shell's own tests (hidden option ``--driver sqlite3``): it
opens ``shell.sqlite3`` in DIR and starts in a second instead of the engine's few.
"""

from __future__ import annotations

import getpass
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aurora_lite

DEFAULT_DIRECTORY = "./aurora-data"
URL_SCHEMES = ("postgresql://", "postgres://")
KINDS = ("aurora", "sqlite3")
_NO_PASSWORD = "no password given"


def is_url(location: str) -> bool:
    return location.startswith(URL_SCHEMES)


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


@dataclass(frozen=True)
class Target:
    """Where the shell's connection goes. ``kind``: "embedded", "remote" or "sqlite3"."""

    kind: str
    location: str   # the data directory, or the postgresql:// URL

    @property
    def description(self) -> str:
        if self.kind == "remote":
            return f"the server at {display_url(self.location)}"
        if self.kind == "sqlite3":
            return f"the sqlite3 test database in {os.path.abspath(self.location)}"
        return f"the embedded database in {os.path.abspath(self.location)}"


def target_for(location: str | None, driver: str = "aurora") -> Target:
    location = location or DEFAULT_DIRECTORY
    if driver == "sqlite3":
        return Target("sqlite3", location)
    return Target("remote" if is_url(location) else "embedded", location)


def open_connection(target: Target,
                    ask_password: Callable[[str], str] | None = None) -> Any:
    """Connect to ``target``. ``ask_password(prompt)`` is called when a server wants a
    password that the URL does not give (terminal sessions only pass it)."""
    if target.kind == "sqlite3":
        import sqlite3

        os.makedirs(target.location, exist_ok=True)
        # isolation_level=None: SQLite's own autocommit, so BEGIN/COMMIT typed by the user
        # behave as they do on a server.
        return sqlite3.connect(os.path.join(target.location, "shell.sqlite3"),
                               isolation_level=None, check_same_thread=False)
    if target.kind == "embedded":
        return aurora_lite.connect(target.location, autocommit=True)
    try:
        return aurora_lite.connect(target.location, autocommit=True)
    except aurora_lite.OperationalError as error:
        if ask_password is None or error.sqlstate != "28P01" or _NO_PASSWORD not in str(error):
            raise
        user = urllib.parse.urlsplit(target.location).username or os.environ.get("PGUSER") \
            or getpass.getuser()
        password = ask_password(f"Password for user {urllib.parse.unquote(user)}: ")
        return aurora_lite.connect(target.location, autocommit=True, password=password)


def served_writer_hint(target: Target) -> str | None:
    """For an embedded directory whose writer is another running process (DIR/writer.json:
    ``aurora-lite serve DIR``), the line telling how to reach it over the wire; else None."""
    if target.kind != "embedded":
        return None
    try:
        from aurora_lite.replica import alive, read_writer

        record = read_writer(target.location) or {}
    except Exception:  # noqa: BLE001 - only a hint
        return None
    sql, pid = record.get("sql"), record.get("pid")
    if not sql or pid == os.getpid() or not alive(pid):
        return None
    return (f"HINT:  the writer of this directory runs in process {pid} and serves SQL on "
            f"{sql} (DIR/writer.json): aurora-lite shell postgresql://USER@{sql}/DBNAME")
