"""Insert: writes the rows of its source into a table.

The source is read completely before the first row is written (INSERT ... SELECT from the
same table must not see its own rows: the Halloween problem). ``row`` builds the complete
table row from a source row, filling DEFAULTs; None means the source rows are complete.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.exec._expr import Expr
from aurora_lite.exec._plan import ExecContext, Executor, PlanNode, build_executor, executor_for
from aurora_lite.exec._project import compile_projection


@dataclass(frozen=True)
class Insert(PlanNode):
    table: str
    source: PlanNode
    row: tuple[Expr, ...] | None
    output: tuple = ()

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
        access = ctx.table(self.plan.table)
        count = access.insert(rows) if rows else 0
        return count, access.last_row_id if count else None
