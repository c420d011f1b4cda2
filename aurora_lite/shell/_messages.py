"""How the shell words an error: psql's ``ERROR:  message``, the SQLSTATE, and a caret.

    ERROR:  column "nosuch" does not exist (SQLSTATE 42703)
    LINE 1: select nosuch from t
                   ^

Database errors (any class the connection declares as its ``Error``, and aurora_lite's) show
their SQLSTATE and, when they carry a 1-based ``position`` into the statement, the line it
falls on with a caret under it. Any other exception is a bug somewhere below the shell: it is
shown as an internal error with its class and message, never as a traceback.
"""

from __future__ import annotations

from aurora_lite.errors import Error as AuroraError

PREFIX = "ERROR:  "


def caret_lines(sql: str, position: int) -> list[str]:
    """psql's ``LINE n:`` excerpt with a caret under the 1-based character ``position``."""
    offset = min(max(position - 1, 0), len(sql))
    line_number = sql.count("\n", 0, offset) + 1
    start = sql.rfind("\n", 0, offset) + 1
    stop = sql.find("\n", offset)
    line = sql[start:stop if stop >= 0 else len(sql)]
    prefix = f"LINE {line_number}: "
    return [prefix + line, " " * (len(prefix) + offset - start) + "^"]


def database_error_classes(connection: object) -> tuple[type[BaseException], ...]:
    """aurora_lite's Error and the driver's own (PEP 249 drivers expose it as .Error)."""
    classes: list[type[BaseException]] = [AuroraError]
    own = getattr(connection, "Error", None)
    if isinstance(own, type) and issubclass(own, BaseException) and own is not AuroraError:
        classes.append(own)
    return tuple(classes)


def error_lines(exc: BaseException, sql: str | None = None, *,
                database_errors: tuple[type[BaseException], ...] = (AuroraError,),
                context: str = "") -> list[str]:
    """The lines that report ``exc`` (raised by ``sql`` if given); ``context`` prefixes the
    message, e.g. "cannot open the database: "."""
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, database_errors):
        return [f"{PREFIX}{context}internal error ({type(exc).__name__}): {message}"]
    first = f"{PREFIX}{context}{message}"
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        first += f" (SQLSTATE {sqlstate})"
    lines = [first]
    position = getattr(exc, "position", None)
    if sql is not None and isinstance(position, int) and not isinstance(position, bool) \
            and position > 0:
        lines.extend(caret_lines(sql, position))
    return lines
