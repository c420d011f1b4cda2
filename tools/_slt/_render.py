"""Rendering result values the way sqllogictest prints them, sorting, and md5 hashing.

Every value is rendered according to the column's type letter:

* ``I``: an integer; reals are truncated toward zero, booleans are 0/1, text is read as its
  leading integer (as SQLite's column_int64 does; no digits gives 0).
* ``R``: ``%.3f`` of the value as a float, with SQLite's 16 significant digits (text is read
  as its leading number).
* ``T``: the value as text; the empty string is ``(empty)``; control characters become ``@``.

NULL is ``NULL`` in every column. The md5 of a result is the md5 of every rendered value
followed by ``"\\n"``, after sorting.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import math
import re
from collections.abc import Iterable, Sequence

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

_LEADING_INTEGER = re.compile(r"\s*([+-]?\d+)")
_LEADING_NUMBER = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
# Control characters (C0 and DEL) print as '@' so that a result always fits on one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return _real_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _real_text(value: float) -> str:
    """A float as SQLite prints it as text (``%!.15g``: always with a decimal point)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    text = "%.15g" % value
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + e + exponent


def _real_fixed(value: float) -> str:
    """``%.3f`` as SQLite's printf writes it, which the corpus was generated with.

    SQLite prints at most 16 significant digits (then zeros) and prints -0.0 without a sign.
    """
    if value == 0:
        return "0.000"
    if math.isfinite(value) and abs(value) >= 1e13:
        return f"{decimal.Decimal('%.15e' % value):.3f}"
    return "%.3f" % value


def _clamp_int(value: float) -> int:
    if math.isnan(value):
        return 0
    if value >= INT64_MAX:
        return INT64_MAX
    if value <= INT64_MIN:
        return INT64_MIN
    return int(value)  # int() truncates toward zero


def _as_integer(value: object) -> int:
    if isinstance(value, int):  # bool included: True renders as 1
        return int(value)
    if isinstance(value, float):
        return _clamp_int(value)
    if isinstance(value, decimal.Decimal):
        return _clamp_int(float(value)) if not value.is_finite() else int(value)
    match = _LEADING_INTEGER.match(_as_text(value))
    return int(match.group(1)) if match else 0


def _as_real(value: object) -> float:
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    match = _LEADING_NUMBER.match(_as_text(value))
    return float(match.group(1)) if match else 0.0


def render_value(value: object, letter: str) -> str:
    """Render one value for a column of type ``letter`` (I, R or T)."""
    if value is None:
        return "NULL"
    if letter == "I":
        return str(_as_integer(value))
    if letter == "R":
        return _real_fixed(_as_real(value))
    text = _as_text(value)
    if text == "":
        return "(empty)"
    return _CONTROL.sub("@", text)


def render_rows(rows: Iterable[Sequence[object]], types: str) -> list[list[str]]:
    """Render every row; the caller has checked that each row has ``len(types)`` values."""
    return [[render_value(value, letter) for value, letter in zip(row, types)] for row in rows]


def sorted_values(rows: list[list[str]], sort: str) -> list[str]:
    """Apply ``nosort``, ``rowsort`` (rows compared value by value) or ``valuesort``; flatten."""
    if sort == "rowsort":
        rows = sorted(rows)
    values = [value for row in rows for value in row]
    if sort == "valuesort":
        values.sort()
    return values


def md5_of(values: Iterable[str]) -> str:
    digest = hashlib.md5()
    for value in values:
        digest.update(value.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def hash_line(values: Sequence[str]) -> str:
    return f"{len(values)} values hashing to {md5_of(values)}"
