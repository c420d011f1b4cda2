"""Update: replaces the rows its source finds (a scan with locators) by recomputed rows.

Every target is found and every new row computed before the first change is written, so an
UPDATE never sees its own changes (the Halloween problem).
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._insert import fill_serials
from aurora_lite.exec._plan import ExecContext, Executor, PlanNode, build_executor, executor_for


@dataclass(frozen=True)
class Update(PlanNode):
    table: str
    source: PlanNode                 # yields (locator, row) pairs
    row: tuple[Expr, ...]            # the complete new row, over the old row
    assigned: tuple[tuple[int, str], ...] = ()   # (position, name) of SET columns
    output: tuple = ()
    serial: tuple[tuple[int, str], ...] = ()     # SERIAL columns SET to DEFAULT

    def inputs(self):
        return (self.source,)

    def describe(self) -> str:
        return f"Update on {self.table}"

    def details(self) -> list[str]:
        pairs = [f"{name} = {expr_sql(self.row[i])}" for i, name in self.assigned]
        return ["Set: " + ", ".join(pairs)] if pairs else []


@executor_for(Update)
class UpdateExecutor(Executor):
    def __init__(self, plan: Update) -> None:
        super().__init__(plan)
        self._source = build_executor(plan.source)
        generator = Codegen()
        values = "".join(generator.value(e) + ", " for e in plan.row)
        self._changes = generator.compile(
            f"def _changes(batch, p):\n    return [(l, ({values})) for l, r in batch]\n",
            "_changes")

    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        changes: list = []
        params = ctx.params
        for batch in self._source.batches(ctx):
            changes.extend(self._changes(batch, params))
        if not changes:
            return 0, None
        if self.plan.serial:
            changes = fill_serials(ctx, self.plan.table, self.plan.serial, changes,
                                   lambda item: item[1], lambda item, row: (item[0], row))
        return ctx.table(self.plan.table).update(changes), None
