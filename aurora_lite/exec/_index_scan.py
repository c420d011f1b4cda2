"""IndexScan: table rows in the order of a secondary index, whole or a key range.

Bounds are prefixes of the index columns in the index's own order (for a DESC column the
``lower`` bound is the larger value), evaluated once per execution like TableScan's. With
``columns`` set (the planner found the index covers every column the plan reads), the scan is
index-only: rows are decoded from the index keys and the other columns are None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, executor_for, predicate_lines,
)
from aurora_lite.exec._scan import BoundsEvaluator, compile_filter
from aurora_lite.values import SqlType


@dataclass(frozen=True)
class IndexScan(PlanNode):
    table: str
    alias: str
    index: str
    output: tuple[OutputColumn, ...]
    key_types: tuple[SqlType, ...]
    lower: tuple[Expr, ...] = ()
    upper: tuple[Expr, ...] = ()
    lower_inclusive: bool = True
    upper_inclusive: bool = True
    reverse: bool = False
    filter: Expr | None = None
    with_locators: bool = False
    access_predicates: tuple[Expr, ...] = ()
    columns: tuple[int, ...] | None = None       # set: an index-only scan of these columns

    def describe(self) -> str:
        name = self.table if self.alias == self.table else f"{self.table} {self.alias}"
        suffix = " (reverse)" if self.reverse else ""
        kind = "Index Only Scan" if self.columns is not None else "Index Scan"
        return f"{kind} using {self.index} on {name}{suffix}"

    def details(self) -> list[str]:
        lines = []
        if self.access_predicates:
            lines.append("Index Cond: " +
                         " AND ".join(expr_sql(e) for e in self.access_predicates))
        return lines + predicate_lines("Filter", self.filter)


@executor_for(IndexScan)
class IndexScanExecutor(Executor):
    def __init__(self, plan: IndexScan) -> None:
        super().__init__(plan)
        self._bounds = BoundsEvaluator(plan.lower, plan.upper, plan.key_types) \
            if plan.lower or plan.upper else None
        self._filter = compile_filter(plan.filter, plan.with_locators)
        self._columns = {} if plan.columns is None else {"columns": plan.columns}

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        plan = self.plan
        params = ctx.params
        lower = upper = None
        if self._bounds is not None:
            bounds = self._bounds(params)
            if bounds is None:
                return
            lower, upper = bounds
        source = ctx.table(plan.table).index_scan(
            ctx.view, plan.index, lower, upper, lower_inclusive=plan.lower_inclusive,
            upper_inclusive=plan.upper_inclusive, reverse=plan.reverse,
            with_locators=plan.with_locators, **self._columns)
        check = ctx.session.check_interrupt
        keep = self._filter
        for batch in source:
            check()
            if keep is not None:
                batch = keep(batch, params)
            if batch:
                yield batch
