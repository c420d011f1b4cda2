"""Limit: skips OFFSET rows and passes at most LIMIT rows, then stops its input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.errors import DataError
from aurora_lite.exec._codegen import evaluate_constant
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
)


@dataclass(frozen=True)
class Limit(PlanNode):
    child: PlanNode
    limit: Expr | None
    offset: Expr | None
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.child,)

    def describe(self) -> str:
        return "Limit"

    def details(self) -> list[str]:
        lines = []
        if self.limit is not None:
            lines.append(f"Count: {expr_sql(self.limit)}")
        if self.offset is not None:
            lines.append(f"Offset: {expr_sql(self.offset)}")
        return lines


def limit_values(limit: Expr | None, offset: Expr | None, params: tuple):
    """(limit or None, offset) for one execution, with PostgreSQL's checks."""
    count = None if limit is None else evaluate_constant(limit, params)
    skip = 0 if offset is None else evaluate_constant(offset, params)
    if count is not None and count < 0:
        raise DataError("LIMIT must not be negative", sqlstate="2201W")
    if skip is None:
        skip = 0
    if skip < 0:
        raise DataError("OFFSET must not be negative", sqlstate="2201X")
    return count, skip


@executor_for(Limit)
class LimitExecutor(Executor):
    def __init__(self, plan: Limit) -> None:
        super().__init__(plan)
        self._child = build_executor(plan.child)

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        count, skip = limit_values(self.plan.limit, self.plan.offset, ctx.params)
        if count == 0:
            return
        source = self._child.batches(ctx)
        try:
            for batch in source:
                if skip:
                    if skip >= len(batch):
                        skip -= len(batch)
                        continue
                    batch = batch[skip:]
                    skip = 0
                if count is not None:
                    if len(batch) >= count:
                        yield batch[:count]
                        return
                    count -= len(batch)
                yield batch
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
