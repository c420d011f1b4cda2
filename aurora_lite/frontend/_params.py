"""Statement parameters: checking what the caller passed, and the types the binder sees.

Every style is numbered ``$1..$n`` after parsing (see ``_parse``). The caller passes a
sequence for ``?`` and ``$n``, a mapping for ``:name``. A plan is bound for the Python types of
the values (the *signature*), so ``WHERE id = ?`` with an int compiles to an integer compare,
with no per-row type dispatch; a str value is 'unknown'-typed like a quoted literal and
converted to whatever its context needs.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal

from aurora_lite.errors import ProgrammingError
from aurora_lite.values import SqlType

_TYPES = {
    int: SqlType.INTEGER, float: SqlType.REAL, bool: SqlType.BOOLEAN, str: SqlType.TEXT,
    bytes: SqlType.BYTEA, bytearray: SqlType.BYTEA, memoryview: SqlType.BYTEA,
    datetime.date: SqlType.DATE, datetime.datetime: SqlType.TIMESTAMP,
    type(None): None,
}


def normalize(parsed, params) -> tuple:
    """The parameter values as a tuple indexed like ``$1..$n`` (ProgrammingError on a
    mismatch with the statement's placeholders)."""
    style = parsed.param_style
    count = parsed.param_count
    kind = type(params)
    if (kind is tuple or kind is list) and style != "named" and len(params) == count:
        for value in params:            # the common case, without ABC isinstance checks
            if type(value) not in _TYPES:
                break
        else:
            return tuple(params)
    if style is None:
        if params:
            raise ProgrammingError(f"the statement takes no parameters but {len(params)} "
                                   "were given", sqlstate="08P01")
        return ()
    if params is None:
        raise ProgrammingError(f"the statement needs {count} parameter"
                               f"{'s' if count != 1 else ''} but none were given",
                               sqlstate="08P01")
    if style == "named":
        if not isinstance(params, Mapping):
            raise ProgrammingError("named parameters (:name) need a mapping of values",
                                   sqlstate="08P01")
        missing = [name for name in parsed.param_names if name not in params]
        if missing:
            raise ProgrammingError(f"missing value for parameter :{missing[0]}",
                                   sqlstate="08P01")
        values = tuple(params[name] for name in parsed.param_names)
    else:
        if isinstance(params, Mapping) or not isinstance(params, Sequence) or \
                isinstance(params, (str, bytes)):
            raise ProgrammingError("positional parameters need a sequence of values",
                                   sqlstate="08P01")
        if len(params) != count:
            raise ProgrammingError(f"the statement needs {count} parameter"
                                   f"{'s' if count != 1 else ''} but {len(params)} "
                                   f"{'were' if len(params) != 1 else 'was'} given",
                                   sqlstate="08P01")
        values = tuple(params)
    for value in values:
        if type(value) not in _TYPES:
            return tuple(_convert(value) for value in values)
    return values


def _convert(value):
    if type(value) in _TYPES:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (float, Decimal)):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ProgrammingError(f"unsupported parameter type {type(value).__name__}",
                           sqlstate="42804")


def signature(values: tuple) -> tuple:
    return tuple(map(type, values))


def param_types(sig: tuple) -> list[tuple[SqlType | None, bool, bool]]:
    """(type, untyped, nullable) of each parameter for a signature."""
    out = []
    for python_type in sig:
        sql_type = _TYPES.get(python_type)
        out.append((sql_type, python_type is str, python_type is type(None)))
    return out
