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
# Class 2B, which PostgreSQL drivers (psycopg, and aurora_lite.dbapi._pg) map to InternalError.
DEPENDENT_OBJECTS = "2BP01"


def syntax_error(message: str, position: int | None = None) -> ProgrammingError:
    return ProgrammingError(message, sqlstate=SYNTAX, position=position)


def near(text: str | None, position: int | None) -> ProgrammingError:
    """PostgreSQL's 'syntax error at or near "x"' (or 'at end of input')."""
    if text is None:
        return syntax_error("syntax error at end of input", position)
    return syntax_error(f'syntax error at or near "{text}"', position)


def not_supported(what: str, position: int | None = None) -> NotSupportedError:
    return NotSupportedError(f"{what} {_verb(what)} not supported", position=position)


def _verb(what: str) -> str:
    """"are" for a plural phrase ("CHECK constraints", "interval values"), else "is"."""
    words = what.split(" (")[0].split()
    if not words or words[0] in ("the", "a", "an", "function", "this"):
        return "is"
    last = words[-1]
    return "are" if last.islower() and last.endswith("s") and not last.endswith("ss") \
        else "is"


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
