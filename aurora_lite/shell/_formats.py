"""Output modes: how a result (column names and rows) is written in each of them.

    table   psql's aligned table with a row count (``_table``)
    csv     RFC 4180 with a header line; NULL is an empty field
    json    one JSON array, one object per row on its own line
    line    one ``name = value`` line per column, a blank line between rows (sqlite's .mode line)

``.mode MODE`` and ``\\pset format MODE`` choose one (psql's names ``aligned`` and ``expanded``
are accepted for ``table`` and ``line``). Command tags (``INSERT 0 1``) are shown in table and
line mode only, so that csv and json output stays machine-readable.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import math
from collections.abc import Sequence

from aurora_lite.shell._table import display_value, display_width, format_table, row_count_footer

MODES = ("table", "csv", "json", "line")
ALIASES = {"aligned": "table", "expanded": "line", "tables": "table", "lines": "line"}


def mode_name(text: str) -> str | None:
    """The mode a user's word names, or None."""
    word = text.strip().lower()
    word = ALIASES.get(word, word)
    return word if word in MODES else None


def shows_tags(mode: str) -> bool:
    return mode in ("table", "line")


def render(mode: str, names: Sequence[str], rows: Sequence[Sequence[object]], *,
           footer: bool = True) -> list[str]:
    """The lines (without line ends) that show a result in ``mode``; ``footer=False`` leaves
    out the table's row count (psql's \\d listings have none)."""
    if mode == "csv":
        return _csv(names, rows)
    if mode == "json":
        return _json(names, rows)
    if mode == "line":
        return _line(names, rows)
    lines = format_table(names, rows, footer=footer)
    return lines + [""]  # psql leaves a blank line after a table


def _csv(names: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if value is None else display_value(value) for value in row])
    return buffer.getvalue().split("\n")[:-1]


def json_value(value: object) -> str:
    """A value as JSON text: numbers stay numbers (exact for decimals), NULL is null, the
    rest is a string in the form the table shows."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(display_value(value))
    if isinstance(value, decimal.Decimal):
        # JSON numbers have no NaN/Infinity; a finite decimal keeps all its digits as written.
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return json.dumps(value.isoformat())
    return json.dumps(display_value(value), ensure_ascii=False)


def _json(names: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    keys = [json.dumps(str(name), ensure_ascii=False) for name in names]
    objects = ["{" + ", ".join(f"{key}: {json_value(value)}" for key, value in zip(keys, row))
               + "}" for row in rows]
    if not objects:
        return ["[]"]
    last = len(objects) - 1
    # json.dumps escapes line breaks, so each object is exactly one line.
    return [("[" if i == 0 else " ") + text + ("]" if i == last else ",")
            for i, text in enumerate(objects)]


def _line(names: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    if not rows:
        return [row_count_footer(0)]
    width = max((display_width(str(name)) for name in names), default=0)
    out: list[str] = []
    for number, row in enumerate(rows):
        if number:
            out.append("")
        for name, value in zip(names, row):
            pad = " " * (width - display_width(str(name)))
            text_lines = display_value(value).split("\n")
            first = text_lines[0]
            out.append(f"{pad}{name} = {first}" if first else f"{pad}{name} =")
            out.extend(" " * (width + 3) + more for more in text_lines[1:])
    out.append("")
    return out
