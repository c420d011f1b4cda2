"""Row encoding: the value stored in a table B-tree cell (docs/formats/rows.md).

    OFFSET  SIZE        FIELD
         0     1        format       1
         1     1        reserved     0
         2     2        column count n (u16 LE)
         4     ceil(n/8) null bitmap (bit i set: column i is NULL)
         .     fixed    for each column in order: INTEGER/TIMESTAMP i64, REAL f64, BOOLEAN u8,
                        DATE i32, TEXT/BYTEA u32 length (a NULL column still takes its slot, 0)
         .     var      the bytes of every TEXT (UTF-8) and BYTEA column, in column order

Fixed-width slots for every column mean one ``struct.unpack_from`` decodes the whole row; the
codec for a schema is generated once, so the hot path is a handful of C calls per row.
"""

from __future__ import annotations

import struct
from typing import Callable, Sequence

from aurora_lite.errors import DataError
from aurora_lite.values._types import (
    SqlType, date_to_days, days_to_date, micros_to_timestamp, timestamp_to_micros,
)

ROW_FORMAT = 1
_CODES = {SqlType.INTEGER: "q", SqlType.REAL: "d", SqlType.BOOLEAN: "?", SqlType.DATE: "i",
          SqlType.TIMESTAMP: "q", SqlType.TEXT: "I", SqlType.BYTEA: "I"}
_ZERO = {SqlType.INTEGER: 0, SqlType.REAL: 0.0, SqlType.BOOLEAN: False, SqlType.DATE: 0,
         SqlType.TIMESTAMP: 0, SqlType.TEXT: 0, SqlType.BYTEA: 0}


class RowCodec:
    """Encoder and decoder of rows for one list of column types."""

    def __init__(self, types: Sequence[SqlType]) -> None:
        self.types = tuple(SqlType(t) for t in types)
        count = len(self.types)
        self.bitmap_size = (count + 7) // 8
        self.header = struct.Struct("<BBH%ds" % self.bitmap_size)
        self.fixed = struct.Struct("<" + "".join(_CODES[t] for t in self.types))
        self.fixed_offset = self.header.size
        self.var_offset = self.header.size + self.fixed.size
        self.encode: Callable[[Sequence], bytes] = self._build_encoder()
        self.decode: Callable[[bytes], tuple] = self._build_decoder()

    # Code generation keeps per-row work to straight-line Python plus struct calls.
    def _build_encoder(self) -> Callable[[Sequence], bytes]:
        lines = ["def encode(row):",
                 "    nulls = 0"]
        fixed_args = []
        var_parts = []
        for index, sql_type in enumerate(self.types):
            value = f"v{index}"
            lines.append(f"    {value} = row[{index}]")
            lines.append(f"    if {value} is None:")
            lines.append(f"        nulls |= {1 << index}")
            if sql_type in (SqlType.TEXT, SqlType.BYTEA):
                lines.append(f"        b{index} = b''")
                lines.append("    else:")
                if sql_type is SqlType.TEXT:
                    lines.append(f"        b{index} = {value}.encode('utf-8')")
                else:
                    lines.append(f"        b{index} = bytes({value})")
                fixed_args.append(f"len(b{index})")
                var_parts.append(f"b{index}")
            else:
                lines.append(f"        {value} = {_ZERO[sql_type]!r}")
                if sql_type is SqlType.DATE:
                    lines.append("    else:")
                    lines.append(f"        {value} = date_to_days({value})")
                elif sql_type is SqlType.TIMESTAMP:
                    lines.append("    else:")
                    lines.append(f"        {value} = timestamp_to_micros({value})")
                fixed_args.append(value)
        lines.append(f"    head = header(1, 0, {len(self.types)}, "
                     f"nulls.to_bytes({self.bitmap_size}, 'little'))")
        tail = " + ".join(var_parts) if var_parts else "b''"
        lines.append(f"    return head + fixed({', '.join(fixed_args)}) + {tail}")
        namespace = {"header": self.header.pack, "fixed": self.fixed.pack,
                     "date_to_days": date_to_days, "timestamp_to_micros": timestamp_to_micros}
        source = "\n".join(lines)
        exec(compile(source, f"<row encoder {self.types}>", "exec"), namespace)
        raw_encode = namespace["encode"]
        count = len(self.types)

        def encode(row: Sequence) -> bytes:
            if len(row) != count:
                raise DataError(f"row has {len(row)} values, table has {count} columns")
            try:
                return raw_encode(row)
            except (struct.error, OverflowError) as error:
                raise DataError(f"value out of range: {error}", sqlstate="22003") from None
        return encode

    def _build_decoder(self) -> Callable[[bytes], tuple]:
        var_columns = [i for i, t in enumerate(self.types) if t in (SqlType.TEXT, SqlType.BYTEA)]
        converted = [i for i, t in enumerate(self.types) if t in (SqlType.DATE, SqlType.TIMESTAMP)]
        count = len(self.types)
        lines = ["def decode(data):",
                 f"    values = unpack(data, {self.fixed_offset})"]
        if var_columns or converted:
            lines.append("    values = list(values)")
            if var_columns:
                lines.append(f"    position = {self.var_offset}")
            for index in var_columns:
                lines.append(f"    end = position + values[{index}]")
                if self.types[index] is SqlType.TEXT:
                    lines.append(f"    values[{index}] = str(data[position:end], 'utf-8')")
                else:
                    lines.append(f"    values[{index}] = bytes(data[position:end])")
                lines.append("    position = end")
        lines.append(f"    nulls = int.from_bytes(data[4:{4 + self.bitmap_size}], 'little')")
        lines.append("    if nulls:")
        lines.append("        values = list(values)")
        lines.append(f"        for index in range({count}):")
        lines.append("            if nulls >> index & 1:")
        lines.append("                values[index] = None")
        for index in converted:
            function = "days_to_date" if self.types[index] is SqlType.DATE else \
                "micros_to_timestamp"
            lines.append(f"    if values[{index}] is not None:")
            lines.append(f"        values[{index}] = {function}(values[{index}])")
        lines.append("    return tuple(values)")
        namespace = {"unpack": self.fixed.unpack_from, "days_to_date": days_to_date,
                     "micros_to_timestamp": micros_to_timestamp}
        exec(compile("\n".join(lines), f"<row decoder {self.types}>", "exec"), namespace)
        return namespace["decode"]
