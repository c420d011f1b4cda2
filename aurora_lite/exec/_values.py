"""Values: a constant list of rows (VALUES lists, SELECT without FROM).

Row expressions read no input row but may read parameters and call functions such as
``now()``: they are evaluated per execution (and per row, so DEFAULT expressions are evaluated
once for every inserted row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._plan import ExecContext, Executor, OutputColumn, PlanNode, executor_for


@dataclass(frozen=True)
class Values(PlanNode):
    rows: tuple[tuple[Expr, ...], ...]
    output: tuple[OutputColumn, ...]

    def describe(self) -> str:
        return f"Values ({len(self.rows)} row{'s' if len(self.rows) != 1 else ''})"


@executor_for(Values)
class ValuesExecutor(Executor):
    def __init__(self, plan: Values) -> None:
        super().__init__(plan)
        generator = Codegen()
        rows = ", ".join("(" + "".join(generator.value(e) + ", " for e in row) + ")"
                         for row in plan.rows)
        self._rows = generator.compile(f"def _values(p):\n    return [{rows}]\n", "_values")

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        rows = self._rows(ctx.params)
        if rows:
            yield rows
