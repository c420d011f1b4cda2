"""Insert: writes the rows of its source into a table.

The source is read completely before the first row is written (INSERT ... SELECT from the
same table must not see its own rows: the Halloween problem). ``row`` builds the complete
table row from a source row, filling DEFAULTs; None means the source rows are complete.

A SERIAL column left out (or given DEFAULT) holds a ``NextSerial`` marker, the constant its
DEFAULT binds to; ``fill_serials`` replaces the markers of all rows by consecutive values of
the column's counter (``session.next_serial``) just before the rows are written. UPDATE ...
SET column = DEFAULT uses the same markers.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.errors import NotSupportedError
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._plan import ExecContext, Executor, PlanNode, build_executor, executor_for
from aurora_lite.exec._project import compile_projection


@dataclass(frozen=True)
class NextSerial:
    """Stands for nextval() of a SERIAL column until the row is written."""

    column: str

    def __repr__(self) -> str:
        return f"nextval({self.column})"


def fill_serials(ctx: ExecContext, table: str, serial: tuple[tuple[int, str], ...],
                 rows: list, row_of=None, with_row=None) -> list:
    """``rows`` with every NextSerial marker replaced by a new value of its column's counter
    (one allocation per column and statement, values in row order). ``row_of(item)`` and
    ``with_row(item, row)`` reach the row inside an item (UPDATE's (locator, row) pairs)."""
    for position, column in serial:
        wanted = [index for index, item in enumerate(rows)
                  if type((row_of(item) if row_of else item)[position]) is NextSerial]
        if not wanted:
            continue
        next_serial = getattr(ctx.session, "next_serial", None)
        if next_serial is None:
            raise NotSupportedError("SERIAL columns are not supported by this engine")
        value = next_serial(table, column, len(wanted))
        if not isinstance(rows, list):
            rows = list(rows)
        for index in wanted:
            item = rows[index]
            row = tuple(row_of(item) if row_of else item)
            row = row[:position] + (value,) + row[position + 1:]
            rows[index] = with_row(item, row) if with_row else row
            value += 1
    return rows


@dataclass(frozen=True)
class Insert(PlanNode):
    table: str
    source: PlanNode
    row: tuple[Expr, ...] | None
    output: tuple = ()
    serial: tuple[tuple[int, str], ...] = ()     # (position, name) of SERIAL columns

    def inputs(self):
        return (self.source,)

    def describe(self) -> str:
        return f"Insert on {self.table}"


@executor_for(Insert)
class InsertExecutor(Executor):
    def __init__(self, plan: Insert) -> None:
        super().__init__(plan)
        self._source = build_executor(plan.source)
        self._row = None if plan.row is None else \
            compile_projection(plan.row, len(plan.source.output))

    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        return self.write(ctx, self.collect(ctx))

    def collect(self, ctx: ExecContext) -> list:
        """The complete table rows this statement inserts (the source read to the end)."""
        rows: list = []
        for batch in self._source.batches(ctx):
            rows.extend(batch)
        if self._row is not None:
            rows = self._row(rows, ctx.params)
        return rows

    def write(self, ctx: ExecContext, rows: list) -> tuple[int, int | None]:
        """Insert ``rows``; (count, last row id)."""
        if self.plan.serial and rows:
            rows = fill_serials(ctx, self.plan.table, self.plan.serial, rows)
        access = ctx.table(self.plan.table)
        count = access.insert(rows) if rows else 0
        return count, access.last_row_id if count else None
