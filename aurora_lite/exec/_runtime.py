"""Runtime helpers that generated expression code calls: PostgreSQL arithmetic, casts, LIKE.

Everything here is called per row from code that ``_codegen`` generates, so each helper is a
small function of plain values; NULL handling is done by the generated code around the call.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from decimal import Decimal

from aurora_lite.errors import DataError, ProgrammingError
from aurora_lite.values import INT64_MAX, INT64_MIN, SqlType, coerce, type_display_name


def overflow(kind: str = "bigint") -> None:
    raise DataError(f"{kind} out of range", sqlstate="22003")


def division_by_zero() -> None:
    raise DataError("division by zero", sqlstate="22012")


def int_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as PostgreSQL (Python floors)."""
    if not b:
        division_by_zero()
    q = a // b
    if q < 0 and q * b != a:
        q += 1
    if q > INT64_MAX:
        overflow()
    return q


def int_mod(a: int, b: int) -> int:
    """Integer remainder with the sign of the dividend, as PostgreSQL."""
    if not b:
        division_by_zero()
    r = a % b
    if r and (a < 0) != (b < 0):
        r -= b
    return r


def real_div(a: float, b: float) -> float:
    if not b:
        division_by_zero()
    return a / b


def real_mod(a: float, b: float) -> float:
    if not b:
        division_by_zero()
    return math.fmod(a, b)


def check_int(value: int) -> int:
    if INT64_MIN <= value <= INT64_MAX:
        return value
    overflow()


def date_plus_days(a: datetime.date, days: int) -> datetime.date:
    try:
        return a + datetime.timedelta(days=days)
    except OverflowError:
        raise DataError("date out of range", sqlstate="22008") from None


def date_minus_date(a: datetime.date, b: datetime.date) -> int:
    return (a - b).days


# -- text conversion ------------------------------------------------------------------------

def float_text(value: float) -> str:
    """double precision as PostgreSQL prints it: shortest round-trip digits, exponent form
    when the decimal exponent is < -4 or >= 15."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    text = "".join(map(str, digits))
    scientific = len(digits) - 1 + exponent
    prefix = "-" if sign else ""
    if scientific < -4 or scientific >= 15:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if scientific < 0 else '+'}{abs(scientific):02d}"
    if exponent >= 0:
        return prefix + text + "0" * exponent
    point = len(text) + exponent
    if point > 0:
        return prefix + text[:point] + "." + text[point:]
    return prefix + "0." + "0" * (-point) + text


def to_text(value: object) -> str:
    """The text form of any stored value (the output function of its type)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    return str(value)


# -- casts ----------------------------------------------------------------------------------

def real_to_int(value: float) -> int:
    if value != value or math.isinf(value):
        overflow("bigint")
    result = round(value)           # round half to even, like PostgreSQL's rint()
    if not INT64_MIN <= result <= INT64_MAX:
        overflow("bigint")
    return result


def text_to_int(value: str) -> int:
    try:
        result = int(value.strip())
    except ValueError:
        raise DataError(f'invalid input syntax for type bigint: "{value}"',
                        sqlstate="22P02") from None
    if not INT64_MIN <= result <= INT64_MAX:
        raise DataError(f'value "{value}" is out of range for type bigint', sqlstate="22003")
    return result


def text_to_real(value: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        raise DataError(f'invalid input syntax for type double precision: "{value}"',
                        sqlstate="22P02") from None


_CASTS_ALLOWED = {
    SqlType.INTEGER: {SqlType.INTEGER, SqlType.REAL, SqlType.TEXT, SqlType.BOOLEAN},
    SqlType.REAL: {SqlType.INTEGER, SqlType.REAL, SqlType.TEXT},
    SqlType.TEXT: set(SqlType),
    SqlType.BOOLEAN: {SqlType.INTEGER, SqlType.TEXT, SqlType.BOOLEAN},
    SqlType.BYTEA: {SqlType.TEXT, SqlType.BYTEA},
    SqlType.DATE: {SqlType.TEXT, SqlType.DATE, SqlType.TIMESTAMP},
    SqlType.TIMESTAMP: {SqlType.TEXT, SqlType.DATE, SqlType.TIMESTAMP},
}


def check_cast(source: SqlType | None, target: SqlType) -> None:
    """ProgrammingError 42846 when PostgreSQL has no cast between the two types."""
    if source is None or target in _CASTS_ALLOWED[source]:
        return
    raise ProgrammingError(f"cannot cast type {type_display_name(source)} to "
                           f"{type_display_name(target)}", sqlstate="42846")


def cast_function(source: SqlType | None, target: SqlType, max_length: int | None = None):
    """A one-argument function converting a non-NULL ``source`` value to ``target``, or None
    when the value passes unchanged."""
    if target is SqlType.TEXT:
        if source is SqlType.TEXT:
            if max_length is None:
                return None
            return lambda value: value[:max_length]
        if max_length is not None:
            return lambda value: to_text(value)[:max_length]
        return to_text
    if source is target:
        return None
    if target is SqlType.INTEGER:
        if source is SqlType.REAL:
            return real_to_int
        if source is SqlType.TEXT:
            return text_to_int
        if source is SqlType.BOOLEAN:
            return int
    if target is SqlType.REAL:
        if source is SqlType.INTEGER:
            return float
        if source is SqlType.TEXT:
            return text_to_real
    if target is SqlType.DATE and source is SqlType.TIMESTAMP:
        return datetime.datetime.date
    if target is SqlType.TIMESTAMP and source is SqlType.DATE:
        return lambda value: datetime.datetime(value.year, value.month, value.day)
    # Text input and everything else: the storage coercion has PostgreSQL's input rules.
    return functools.partial(_coerce_to, target)


def _coerce_to(target: SqlType, value: object) -> object:
    return coerce(value, target, "?")


# -- LIKE -----------------------------------------------------------------------------------

def like_matcher(pattern: str, escape: str | None = "\\", case_insensitive: bool = False):
    """The ``fullmatch`` of the regular expression equivalent to a LIKE pattern."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escape and char == escape:
            index += 1
            if index == len(pattern):
                raise DataError("LIKE pattern must not end with escape character",
                                sqlstate="22025")
            out.append(re.escape(pattern[index]))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
        index += 1
    flags = re.S | (re.I if case_insensitive else 0)
    return re.compile("".join(out), flags).fullmatch


@functools.lru_cache(maxsize=256)
def _cached_matcher(pattern: str, escape: str | None, case_insensitive: bool):
    return like_matcher(pattern, escape, case_insensitive)


def like(value: str, pattern: str, escape: str | None, case_insensitive: bool) -> bool:
    """LIKE with a pattern known only at run time."""
    return _cached_matcher(pattern, escape, case_insensitive)(value) is not None


RUNTIME = {
    "_overflow": overflow, "_divzero": division_by_zero, "_idiv": int_div, "_imod": int_mod,
    "_fdiv": real_div, "_fmod": real_mod, "_chkint": check_int, "_date_plus": date_plus_days,
    "_date_minus": date_minus_date, "_to_text": to_text, "_like": like,
}
