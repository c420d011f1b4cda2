"""Rendering a result as an aligned text table, the way psql prints one.

    a  |  name
  -----+--------
     1 | x
    20 | line 1+
       | line 2
  (2 rows)

Headers are centred, numeric columns are right-aligned and the others left-aligned. NULL is
shown as an empty cell, booleans as ``t``/``f``, bytes in PostgreSQL's ``\\x`` hex form. A value
with line breaks takes several lines, each but the last marked with ``+``.
"""

from __future__ import annotations

import datetime
import decimal
import math
import unicodedata
from collections.abc import Sequence


def display_value(value: object) -> str:
    """A value as the shell shows it in a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return str(value)


def display_width(text: str) -> int:
    """Terminal columns taken by ``text``: wide East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else
               0 if unicodedata.combining(char) else 1 for char in text)


def _is_numeric(value: object) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _pad(text: str, width: int, align: str) -> str:
    room = width - display_width(text)
    if align == "right":
        return " " * room + text
    if align == "center":
        left = room // 2
        return " " * left + text + " " * (room - left)
    return text + " " * room


def row_count_footer(count: int) -> str:
    return "(1 row)" if count == 1 else f"({count} rows)"


def format_table(names: Sequence[str], rows: Sequence[Sequence[object]], *,
                 footer: bool = True) -> list[str]:
    """The lines of the table (header, separator, rows, and the row count unless ``footer``
    is false), without line ends."""
    columns = len(names)
    cells = [[display_value(value).split("\n") for value in row] for row in rows]
    numeric = [bool(rows) and all(row[c] is None or _is_numeric(row[c]) for row in rows)
               and any(row[c] is not None for row in rows) for c in range(columns)]
    widths = [display_width(name) for name in names]
    for row in cells:
        for c, lines in enumerate(row):
            widths[c] = max(widths[c], *(display_width(line) for line in lines))
    out = [" " + " | ".join(_pad(name, widths[c], "center") for c, name in enumerate(names))]
    out.append("-+-".join("-" * width for width in widths).join("--"))
    for row in cells:
        height = max((len(lines) for lines in row), default=1)
        for k in range(height):
            parts = []
            for c, lines in enumerate(row):
                text = lines[k] if k < len(lines) else ""
                more = "+" if k < len(lines) - 1 else " "
                align = "right" if numeric[c] else "left"
                parts.append(_pad(text, widths[c], align) + more)
            out.append(" " + "| ".join(parts))
    out = [line.rstrip() for line in out]
    if footer:
        out.append(row_count_footer(len(rows)))
    return out
