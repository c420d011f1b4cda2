"""Distinct: drops rows equal to an earlier row (SELECT DISTINCT); NULLs are equal here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
)


@dataclass(frozen=True)
class Distinct(PlanNode):
    child: PlanNode
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.child,)

    def describe(self) -> str:
        return "Distinct"


@executor_for(Distinct)
class DistinctExecutor(Executor):
    def __init__(self, plan: Distinct) -> None:
        super().__init__(plan)
        self._child = build_executor(plan.child)

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        seen: set = set()
        add = seen.add
        check = ctx.session.check_interrupt
        for batch in self._child.batches(ctx):
            check()
            # ``add`` returns None, so a new row is kept and remembered in one test.
            batch = [row for row in batch if not (row in seen or add(row))]
            if batch:
                yield batch
