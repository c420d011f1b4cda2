"""User-facing errors of the frontend, with PostgreSQL's SQLSTATEs and 1-based positions."""

from __future__ import annotations

from aurora_lite.errors import NotSupportedError, ProgrammingError

SYNTAX = "42601"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
UNDEFINED_FUNCTION = "42883"
DUPLICATE_TABLE = "42P07"
DATATYPE_MISMATCH = "42804"
AMBIGUOUS_COLUMN = "42702"
GROUPING_ERROR = "42803"
UNDEFINED_OBJECT = "42704"
DUPLICATE_COLUMN = "42701"
INVALID_COLUMN_REFERENCE = "42P10"


def syntax_error(message: str, position: int | None = None) -> ProgrammingError:
    return ProgrammingError(message, sqlstate=SYNTAX, position=position)


def near(text: str | None, position: int | None) -> ProgrammingError:
    """PostgreSQL's 'syntax error at or near "x"' (or 'at end of input')."""
    if text is None:
        return syntax_error("syntax error at end of input", position)
    return syntax_error(f'syntax error at or near "{text}"', position)


def not_supported(what: str, position: int | None = None) -> NotSupportedError:
    return NotSupportedError(f"{what} is not supported", position=position)


def node_position(node, base: int = 0) -> int | None:
    """The 1-based position of the earliest token of a sqlglot node that carries one."""
    best = None
    if node is None:
        return None
    for child in node.walk():
        meta = getattr(child, "_meta", None) or {}
        start = meta.get("start")
        if start is not None and (best is None or start < best):
            best = start
    return None if best is None else best + 1 + base
