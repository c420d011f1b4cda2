"""From an ErrorResponse's SQLSTATE to the PEP 249 exception class, and back to the fields.

The server builds ErrorResponse fields from any aurora_lite exception (``error_fields``); the
remote driver turns them back into the exception a embedded connection would have raised
(``exception_from_fields``), keeping the SQLSTATE and position. Classes follow PostgreSQL's
SQLSTATE classes the way psycopg maps them, with aurora_lite's own subclasses for the
states it defines (57014 QueryCanceledError, 25006 ReadOnlyError, 72000 StaleEpochError,
XX001 CorruptionError).
"""

from __future__ import annotations

from aurora_lite import errors

# Exact states first, then the two-character class.
_BY_STATE: dict[str, type[errors.Error]] = {
    "57014": errors.QueryCanceledError,
    "25006": errors.ReadOnlyError,
    "72000": errors.StaleEpochError,
    "XX001": errors.CorruptionError,
    "25P02": errors.InternalError,
}
_BY_CLASS: dict[str, type[errors.Error]] = {
    "01": errors.Warning, "02": errors.DatabaseError,
    "03": errors.ProgrammingError, "08": errors.OperationalError,
    "0A": errors.NotSupportedError, "0B": errors.InternalError, "0L": errors.ProgrammingError,
    "0P": errors.ProgrammingError, "20": errors.ProgrammingError, "21": errors.ProgrammingError,
    "22": errors.DataError, "23": errors.IntegrityError, "24": errors.InternalError,
    "25": errors.InternalError, "26": errors.InternalError, "27": errors.InternalError,
    "28": errors.OperationalError, "2B": errors.InternalError, "2D": errors.InternalError,
    "2F": errors.InternalError, "34": errors.ProgrammingError, "38": errors.InternalError,
    "39": errors.InternalError, "3B": errors.InternalError, "3D": errors.ProgrammingError,
    "3F": errors.ProgrammingError, "40": errors.OperationalError,
    "42": errors.ProgrammingError, "44": errors.ProgrammingError,
    "53": errors.OperationalError, "54": errors.OperationalError,
    "55": errors.OperationalError, "57": errors.OperationalError,
    "58": errors.OperationalError, "72": errors.OperationalError,
    "F0": errors.InternalError, "HV": errors.OperationalError, "P0": errors.InternalError,
    "XX": errors.InternalError,
}


def exception_class(sqlstate: str) -> type[errors.Error]:
    """The PEP 249 class for a SQLSTATE (DatabaseError for unknown classes)."""
    found = _BY_STATE.get(sqlstate) or _BY_CLASS.get(sqlstate[:2])
    if found is None or found is errors.Warning:
        return errors.DatabaseError
    return found


def exception_from_fields(fields: dict[str, str]) -> errors.Error:
    """The exception an ErrorResponse stands for, with its SQLSTATE and position."""
    sqlstate = fields.get("C") or "XX000"
    message = fields.get("M") or "unknown error"
    position = fields.get("P")
    try:
        position_value = int(position) if position else None
    except ValueError:
        position_value = None
    error = exception_class(sqlstate)(message, sqlstate=sqlstate, position=position_value)
    error.detail = fields.get("D")
    error.hint = fields.get("H")
    error.severity = fields.get("V") or fields.get("S")
    return error


def error_fields(error: BaseException, *, severity: str = "ERROR",
                 position_offset: int = 0) -> tuple[tuple[str, str], ...]:
    """ErrorResponse fields for an exception: severity (S and V), SQLSTATE (C), message (M)
    and, when the exception has one, position (P; ``position_offset`` characters added, for
    a statement that starts inside a longer Query string)."""
    if isinstance(error, errors.Error):
        sqlstate = getattr(error, "sqlstate", None) or "XX000"
        message = error.message or type(error).__name__
        position = getattr(error, "position", None)
    else:
        sqlstate, message, position = "XX000", f"internal error: {type(error).__name__}", None
    if not (isinstance(sqlstate, str) and len(sqlstate) == 5 and sqlstate.isalnum()):
        sqlstate = "XX000"
    fields = [("S", severity), ("V", severity), ("C", sqlstate), ("M", message)]
    if isinstance(position, int) and position > 0:
        fields.append(("P", str(position + position_offset)))
    for code, attribute in (("D", "detail"), ("H", "hint")):
        value = getattr(error, attribute, None)
        if isinstance(value, str) and value:
            fields.append((code, value))
    return tuple((code, value.replace("\x00", "")) for code, value in fields)
