"""Prepared statements and portals of one connection, and turning result rows into DataRows.

A ``Statement`` is what Parse made: SQL text, the parameter types the client gave, the first
keyword (for the transaction bookkeeping). A ``Portal`` is what Bind made: a statement with
decoded parameter values and the result formats; once executed it holds the ``Result`` and
its row iterator, which ``next_batch`` consumes a batch at a time (in a worker thread: the
rows are produced lazily by the engine), encoding each row straight into DataRow bytes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from aurora_lite.dbapi._pg import (
    FieldDescription, ProtocolViolation, RowDescription, encode, encode_data_row, pgtypes,
)
from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import Result

# Statements whose first word says they return rows: the only ones a Describe of a statement
# (before Bind) dry-runs to learn the columns.
ROW_KEYWORDS = frozenset({"SELECT", "VALUES", "WITH", "TABLE", "EXPLAIN", "SHOW"})


@dataclass
class Statement:
    name: str
    sql: str
    param_oids: tuple[int, ...]
    keyword: str
    param_count: int


@dataclass
class Portal:
    name: str
    statement: Statement
    params: tuple
    result_formats: tuple[int, ...]
    result: Result | None = None
    rows: Iterator[tuple] | None = None
    encoders: list[Callable[[Any], bytes]] = field(default_factory=list)
    description_bytes: bytes = b""          # RowDescription, or b"" for no rows
    sent: int = 0                           # rows sent so far
    done: bool = False
    pending: list[bytes] = field(default_factory=list)   # encoded rows not yet sent
    lazy_writer: bool = False               # rows read pages the writer may still change
    cursor: bool = False                    # made by DECLARE (CLOSE ALL closes it)
    hold: bool = False                      # WITH HOLD: outlives its transaction

    @property
    def executed(self) -> bool:
        return self.result is not None


def decode_params(statement: Statement, formats: tuple[int, ...],
                  values: tuple[bytes | None, ...]) -> tuple:
    """Bind's parameter bytes -> Python values, by the statement's parameter OIDs."""
    if len(formats) not in (0, 1, len(values)):
        raise ProtocolViolation(f"bind message has {len(formats)} parameter formats but "
                                f"{len(values)} parameters")
    oids = statement.param_oids
    out = []
    for index, raw in enumerate(values):
        if raw is None:
            out.append(None)
            continue
        format_code = formats[index] if len(formats) > 1 else (formats[0] if formats else 0)
        oid = oids[index] if index < len(oids) else 0
        try:
            out.append(pgtypes.decoder(oid, format_code)(raw))
        except Exception as error:
            if getattr(error, "sqlstate", None):
                error.args = (f"{error.args[0]} (parameter ${index + 1})",)
                raise
            raise ProgrammingError(f"bad value for parameter ${index + 1}",
                                   sqlstate="22P02") from None
    return tuple(out)


def result_format(formats: tuple[int, ...], column: int, columns: int) -> int:
    if not formats:
        return 0
    if len(formats) == 1:
        return formats[0]
    if len(formats) != columns:
        raise ProtocolViolation(f"bind message has {len(formats)} result formats but the "
                                f"query has {columns} columns")
    return formats[column]


def column_oids(result: Result) -> list[int]:
    description = result.description or ()
    names = list(result.type_names)
    oids = []
    for index, column in enumerate(description):
        name = names[index] if index < len(names) else column[1]
        oids.append(pgtypes.oid_for_type_name(name if isinstance(name, str) else None))
    return oids


# (id of a description, type names, result formats) -> (description, RowDescription bytes,
# encoders). The frontend hands out the same description object for each run of a cached
# plan, so a repeated query is described once; the entry holds the description so its id
# is not reused while cached.
_DESCRIBED: dict[tuple, tuple] = {}
_DESCRIBED_LIMIT = 2048


def describe(result: Result, formats: tuple[int, ...]) -> tuple[bytes, list]:
    """(RowDescription bytes, one encoder per column) for a result with rows."""
    key = (id(result.description), result.type_names, formats)
    cached = _DESCRIBED.get(key)
    if cached is not None and cached[0] is result.description:
        return cached[1], cached[2]
    row_description, encoders = _describe(result, formats)
    if len(_DESCRIBED) >= _DESCRIBED_LIMIT:
        _DESCRIBED.clear()
    _DESCRIBED[key] = (result.description, row_description, encoders)
    return row_description, encoders


def _describe(result: Result, formats: tuple[int, ...]) -> tuple[bytes, list]:
    description = result.description or ()
    oids = column_oids(result)
    fields = []
    encoders = []
    for index, column in enumerate(description):
        format_code = result_format(formats, index, len(description))
        oid = oids[index]
        fields.append(FieldDescription(str(column[0]), 0, 0, oid, pgtypes.type_size(oid), -1,
                                       format_code))
        encoders.append(pgtypes.encoder(oid, format_code))
    return encode(RowDescription(tuple(fields))), encoders


def start(portal: Portal, result: Result) -> None:
    """Attach an execution's result to its portal."""
    portal.result = result
    if result.description is not None:
        portal.description_bytes, portal.encoders = describe(result, portal.result_formats)
        portal.rows = iter(result.rows)
    else:
        portal.done = True


def next_batch(portal: Portal, limit: int) -> list[bytes]:
    """Up to ``limit`` rows, each encoded as a DataRow (runs in a worker thread); marks the
    portal done when its rows run out."""
    if portal.rows is None or portal.done:
        return []
    chunks = []
    encoders = portal.encoders
    count = 0
    for row in itertools.islice(portal.rows, limit):
        chunks.append(encode_data_row([None if value is None else encode_value(value)
                                       for encode_value, value in zip(encoders, row)]))
        count += 1
    if count < limit:
        portal.done = True
        portal.rows = None
    return chunks


def materialize(portal: Portal) -> None:
    """Take the remaining rows now (worker thread): the writer is about to run another
    statement that may change the pages a lazy scan of its own transaction still walks."""
    if portal.rows is not None and not portal.done:
        portal.rows = iter(list(portal.rows))
    portal.lazy_writer = False


def completion_tag(portal: Portal) -> str:
    result = portal.result
    tag = result.command_tag if result is not None else ""
    if tag == "FETCH":
        return f"FETCH {portal.sent}"
    if result is not None and result.description is not None and \
            (not tag or tag.startswith("SELECT")):
        return f"SELECT {portal.sent}"
    return tag or "OK"
