"""Rows decoded straight from leaf pages: one generated function per (table, column set).

A scan would otherwise slice every cell's value into a bytes object and decode that. Here the
cell layout (docs/formats/btree.md) and the row layout (docs/formats/rows.md) are combined
into one function per table and per set of columns a statement reads, which unpacks the fixed
area of each row in place with a single ``struct.unpack_from`` and slices only the text the
statement needs. Columns the statement does not read come back as None.

Rows with a NULL, and cells whose value lives in overflow pages, take the general path
(``slow(data, offset)``), which returns the whole row.
"""

from __future__ import annotations

import struct
from typing import Callable

from aurora_lite.page import HEADER_SIZE
from aurora_lite.values import RowCodec, SqlType, days_to_date, micros_to_timestamp

_CODES = {SqlType.INTEGER: ("q", 8), SqlType.REAL: ("d", 8), SqlType.BOOLEAN: ("?", 1),
          SqlType.DATE: ("i", 4), SqlType.TIMESTAMP: ("q", 8), SqlType.TEXT: ("I", 4),
          SqlType.BYTEA: ("I", 4)}
_VAR = (SqlType.TEXT, SqlType.BYTEA)
_SLOTS: dict[int, struct.Struct] = {}


def slot_offsets(data: bytearray | bytes, start: int, stop: int) -> tuple[int, ...]:
    """Cell offsets of slots [start, stop) of a page."""
    count = stop - start
    layout = _SLOTS.get(count)
    if layout is None:
        layout = _SLOTS[count] = struct.Struct("<%dH" % (2 * count))
    return layout.unpack_from(data, HEADER_SIZE + 4 * start)[0::2]


def make_page_decoder(codec: RowCodec, key_length: int | None,
                      columns: tuple[int, ...] | None
                      ) -> Callable[[bytearray, int, int, Callable], list[tuple]]:
    """``decode(data, start, stop, slow) -> rows`` for slots [start, stop) of a leaf page.

    ``key_length`` is the length of every key of the tree when it is fixed (9 for an integer
    key), else None. ``columns`` are the column indexes the caller reads (None: all).
    """
    types = codec.types
    count = len(types)
    needed = set(range(count)) if columns is None else set(columns)
    fixed_start = 4 + codec.bitmap_size
    var_start = fixed_start + codec.fixed.size
    last_var = max((i for i in needed if types[i] in _VAR), default=-1)
    last = max([i for i in needed if types[i] not in _VAR] + [last_var], default=-1)

    codes = []
    names = []
    for index in range(last + 1):
        code, size = _CODES[types[index]]
        if types[index] in _VAR:
            if index <= last_var:
                codes.append(code)
                names.append(f"n{index}")
            else:
                codes.append(f"{size}x")
        elif index in needed:
            codes.append(code)
            names.append(f"c{index}")
        else:
            codes.append(f"{size}x")
    layout = struct.Struct("<" + "".join(codes))

    # A NULL or an overflow value sends a row to the general path; one cheap pass finds them.
    if key_length is not None:
        def at(offset: int) -> str:
            return f"o + {2 + key_length + offset}"
        bind_value = ""
    else:
        def at(offset: int) -> str:
            return f"v + {offset}"
        bind_value = " for v in [o + 2 + (data[o] | (data[o + 1] & 127) << 8)]"
    null_bytes = " or ".join(f"data[{at(4 + i)}]" for i in range(codec.bitmap_size))
    if key_length is not None:
        suspect = f"data[o + 1] & 128 or {null_bytes}"
    else:
        suspect = "data[o + 1] & 128 or " + " or ".join(
            f"data[o + 2 + (data[o] | (data[o + 1] & 127) << 8) + {4 + i}]"
            for i in range(codec.bitmap_size))
    values = []
    position = at(var_start)
    for index in range(count):
        sql_type = types[index]
        if index not in needed:
            if sql_type in _VAR and index <= last_var:
                position += f" + n{index}"
            values.append("None")
            continue
        if sql_type in _VAR:
            end = f"{position} + n{index}"
            function = "str" if sql_type is SqlType.TEXT else "bytes"
            suffix = ", 'utf-8'" if sql_type is SqlType.TEXT else ""
            values.append(f"{function}(data[{position}:{end}]{suffix})")
            position = end
        elif sql_type is SqlType.DATE:
            values.append(f"days_to_date(c{index})")
        elif sql_type is SqlType.TIMESTAMP:
            values.append(f"micros_to_timestamp(c{index})")
        else:
            values.append(f"c{index}")
    row = f"({', '.join(values)}{',' if count == 1 else ''})"
    unpacked = ""
    if names:
        target = ", ".join(names) + ("," if len(names) == 1 else "")
        unpacked = f" for {target} in [unpack(data, {at(fixed_start)})]"
    # Rows of the general branch are built with the same expression, wrapped in a one-item
    # list so that the "for name in [value]" bindings happen only for rows that need them.
    lines = [
        "def decode(data, start, stop, slow):",
        "    offsets = slot_offsets(data, start, stop)",
        f"    if any([o for o in offsets if {suspect}]):",
        f"        return [slow(data, o) if {suspect} else [{row}{bind_value}{unpacked}][0]",
        "                for o in offsets]",
        f"    return [{row} for o in offsets{bind_value}{unpacked}]",
    ]
    namespace = {"unpack": layout.unpack_from, "slot_offsets": slot_offsets,
                 "days_to_date": days_to_date, "micros_to_timestamp": micros_to_timestamp}
    source = "\n".join(lines)
    exec(compile(source, f"<page decoder {types} {columns}>", "exec"), namespace)
    decode = namespace["decode"]
    decode.source = source
    return decode
