"""SQL-level cursors: DECLARE, FETCH, MOVE and CLOSE, which the server keeps as named portals.

psycopg's server-side cursors (``connection.cursor(name=...)``) and psql's FETCH_COUNT use
them to read a large result a slice at a time. The SQL frontend knows nothing of cursors: the
server parses these four statements itself and runs only the cursor's query through the
engine. As in PostgreSQL, a cursor is a portal of the same name (the protocol may Describe
it), lives until the end of its transaction unless declared WITH HOLD, and moves forward only.

    DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [NO SCROLL] CURSOR
            [{WITH | WITHOUT} HOLD] FOR query
    FETCH [FORWARD] [count | ALL | NEXT] [FROM | IN] name       (also MOVE)
    CLOSE {name | ALL}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aurora_lite.errors import NotSupportedError

CURSOR_KEYWORDS = frozenset({"DECLARE", "FETCH", "MOVE", "CLOSE"})
_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_DECLARE = re.compile(
    r"^\s*DECLARE\s+" + _NAME + r"\s+(BINARY\s+)?(?:(?:ASENSITIVE|INSENSITIVE)\s+)?"
    r"(NO\s+SCROLL\s+|SCROLL\s+)?CURSOR\s+(?:(WITH|WITHOUT)\s+HOLD\s+)?FOR\s+(.*)$",
    re.IGNORECASE | re.DOTALL)
_FETCH = re.compile(
    r"^\s*(FETCH|MOVE)\s+(?:(FORWARD|NEXT|ALL|\d+)\s+)?(?:(ALL|\d+)\s+)?(?:(?:FROM|IN)\s+)?"
    + _NAME + r"\s*;?\s*$", re.IGNORECASE)
_CLOSE = re.compile(r"^\s*CLOSE\s+" + _NAME + r"\s*;?\s*$", re.IGNORECASE)


def _name(text: str) -> str:
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


@dataclass(frozen=True)
class Declare:
    name: str
    query: str
    binary: bool
    hold: bool
    query_offset: int     # where the query starts in the DECLARE text (error positions)


@dataclass(frozen=True)
class Fetch:
    name: str
    count: int | None     # None: ALL
    move: bool


@dataclass(frozen=True)
class CloseCursor:
    name: str | None      # None: ALL


def parse(sql: str) -> Declare | Fetch | CloseCursor | None:
    """The cursor command in ``sql``; None when it is none of these (the frontend decides)."""
    match = _DECLARE.match(sql)
    if match:
        if match.group(3) and not match.group(3).upper().startswith("NO"):
            raise NotSupportedError("scrollable cursors are not supported", sqlstate="0A000")
        return Declare(_name(match.group(1)), match.group(5).strip().rstrip(";"),
                       bool(match.group(2)), (match.group(4) or "").upper() == "WITH",
                       match.start(5))
    match = _FETCH.match(sql)
    if match:
        first, second = (match.group(2) or "").upper(), (match.group(3) or "").upper()
        if first == "FORWARD":
            amount = second or "1"
        elif first in ("", "NEXT"):
            if second:
                return None
            amount = "1"
        else:
            if second:
                return None
            amount = first
        count = None if amount == "ALL" else int(amount)
        return Fetch(_name(match.group(4)), count, match.group(1).upper() == "MOVE")
    match = _CLOSE.match(sql)
    if match:
        name = match.group(1)
        return CloseCursor(None if name.upper() == "ALL" else _name(name))
    return None
