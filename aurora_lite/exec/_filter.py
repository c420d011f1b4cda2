"""Filter: keeps the rows of each batch for which the predicate is TRUE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._expr import Expr
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
    predicate_lines,
)
from aurora_lite.exec._scan import compile_filter


@dataclass(frozen=True)
class Filter(PlanNode):
    child: PlanNode
    predicate: Expr
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.child,)

    def describe(self) -> str:
        return "Filter"

    def details(self) -> list[str]:
        return predicate_lines("Filter", self.predicate)


@executor_for(Filter)
class FilterExecutor(Executor):
    def __init__(self, plan: Filter) -> None:
        super().__init__(plan)
        self._child = build_executor(plan.child)
        self._keep = compile_filter(plan.predicate, False)

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        keep = self._keep
        params = ctx.params
        for batch in self._child.batches(ctx):
            batch = keep(batch, params)
            if batch:
                yield batch
