"""Project: computes the output expressions of each row, a batch at a time."""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr, Field
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
)


@dataclass(frozen=True)
class Project(PlanNode):
    child: PlanNode
    exprs: tuple[Expr, ...]
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.child,)

    def describe(self) -> str:
        return "Project"

    def details(self) -> list[str]:
        return ["Output: " + ", ".join(expr_sql(e) for e in self.exprs)]


def compile_projection(exprs: tuple[Expr, ...], input_width: int | None = None):
    """``f(batch, p) -> list`` computing ``exprs`` for every row; None for the identity."""
    if all(isinstance(e, Field) for e in exprs):
        positions = [e.index for e in exprs]
        if input_width is not None and positions == list(range(input_width)):
            return None
        if len(positions) >= 2:
            getter = itemgetter(*positions)
            return lambda batch, p: list(map(getter, batch))
    generator = Codegen()
    values = "".join(generator.value(e) + ", " for e in exprs)
    return generator.compile(
        f"def _project(batch, p):\n    return [({values}) for r in batch]\n", "_project")


@executor_for(Project)
class ProjectExecutor(Executor):
    def __init__(self, plan: Project) -> None:
        super().__init__(plan)
        self._child = build_executor(plan.child)
        self._project = compile_projection(plan.exprs, len(plan.child.output))

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        project = self._project
        if project is None:
            yield from self._child.batches(ctx)
            return
        params = ctx.params
        for batch in self._child.batches(ctx):
            yield project(batch, params)
