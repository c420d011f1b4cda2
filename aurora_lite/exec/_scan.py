"""TableScan: rows of a table in primary-key order, whole or a key range, with a filter.

``columns`` (set by the planner's column pruning) lists the columns the plan above reads; the
storage layer then decodes only those straight from the page and the others are None in the
rows (None: every column).

The bounds are expressions that read no row (constants, parameters): they are evaluated once
per execution, coerced to the key column types and passed to ``TableAccess.scan``. A bound
that comes out NULL makes the scan empty (a comparison with NULL is never true), except the
planner's own ``Const(None)`` bounds, which fence off the NULL end of a one-sided range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Const, Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, executor_for, predicate_lines,
)
from aurora_lite.values import SqlType, coerce


@dataclass(frozen=True)
class TableScan(PlanNode):
    table: str
    alias: str
    output: tuple[OutputColumn, ...]
    key_types: tuple[SqlType, ...] = ()          # types of the key columns the bounds bind
    lower: tuple[Expr, ...] = ()
    upper: tuple[Expr, ...] = ()
    lower_inclusive: bool = True
    upper_inclusive: bool = True
    reverse: bool = False
    filter: Expr | None = None
    with_locators: bool = False
    access_predicates: tuple[Expr, ...] = ()     # what the bounds implement (for EXPLAIN)
    columns: tuple[int, ...] | None = None       # the columns read (None: all)

    def describe(self) -> str:
        name = self.table if self.alias == self.table else f"{self.table} {self.alias}"
        kind = "PK Range Scan" if self.lower or self.upper else "Seq Scan"
        suffix = " (reverse)" if self.reverse else ""
        return f"{kind} on {name}{suffix}"

    def details(self) -> list[str]:
        lines = []
        if self.access_predicates:
            lines.append("Key Cond: " + " AND ".join(expr_sql(e) for e in self.access_predicates))
        return lines + predicate_lines("Filter", self.filter) + columns_line(self.output,
                                                                            self.columns)


class BoundsEvaluator:
    """Evaluates scan bounds for one execution (shared by the table and index scans)."""

    def __init__(self, lower: tuple[Expr, ...], upper: tuple[Expr, ...],
                 types: tuple[SqlType, ...]) -> None:
        generator = Codegen()
        low = "".join(generator.value(e) + ", " for e in lower)
        high = "".join(generator.value(e) + ", " for e in upper)
        self._function = generator.compile(
            f"def _bounds(p):\n    return ({low}), ({high})\n", "_bounds")
        self._fence_lower = tuple(isinstance(e, Const) and e.value is None for e in lower)
        self._fence_upper = tuple(isinstance(e, Const) and e.value is None for e in upper)
        self._types = types
        self.has_lower = bool(lower)
        self.has_upper = bool(upper)

    def _check(self, values: tuple, fences: tuple) -> tuple | None:
        out = []
        for index, value in enumerate(values):
            if value is None:
                if not fences[index]:
                    return None
                out.append(None)
            else:
                out.append(coerce(value, self._types[index]))
        return tuple(out)

    def __call__(self, params: tuple):
        """(lower, upper), or None when the range is empty because of a NULL bound."""
        low, high = self._function(params)
        lower = self._check(low, self._fence_lower) if self.has_lower else None
        upper = self._check(high, self._fence_upper) if self.has_upper else None
        if (self.has_lower and lower is None) or (self.has_upper and upper is None):
            return None
        return lower, upper


def columns_line(output: tuple[OutputColumn, ...], columns: tuple[int, ...] | None
                 ) -> list[str]:
    """The EXPLAIN line naming the columns a pruned scan decodes."""
    if columns is None or len(columns) == len(output):
        return []
    names = ", ".join(output[index].name.rsplit(".", 1)[-1] for index in columns)
    return [f"Columns: {names or '(none)'}"]


def compile_filter(predicate: Expr | None, with_locators: bool):
    """A batch filter ``f(batch, p) -> list`` for ``predicate`` (None when there is none)."""
    if predicate is None:
        return None
    generator = Codegen()
    condition = generator.truth(predicate)
    element = "(l, r)" if with_locators else "r"
    target = "l, r" if with_locators else "r"
    return generator.compile(
        f"def _filter(batch, p):\n    return [{element} for {target} in batch if {condition}]\n",
        "_filter")


@executor_for(TableScan)
class TableScanExecutor(Executor):
    def __init__(self, plan: TableScan) -> None:
        super().__init__(plan)
        self._bounds = BoundsEvaluator(plan.lower, plan.upper, plan.key_types) \
            if plan.lower or plan.upper else None
        self._filter = compile_filter(plan.filter, plan.with_locators)

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        plan = self.plan
        params = ctx.params
        lower = upper = None
        if self._bounds is not None:
            bounds = self._bounds(params)
            if bounds is None:
                return
            lower, upper = bounds
        access = ctx.table(plan.table)
        if plan.with_locators:
            source = access.scan_with_locators(
                ctx.view, lower, upper, lower_inclusive=plan.lower_inclusive,
                upper_inclusive=plan.upper_inclusive)
        elif plan.columns is not None:
            source = access.scan(ctx.view, lower, upper, lower_inclusive=plan.lower_inclusive,
                                 upper_inclusive=plan.upper_inclusive, reverse=plan.reverse,
                                 columns=plan.columns)
        else:
            source = access.scan(ctx.view, lower, upper, lower_inclusive=plan.lower_inclusive,
                                 upper_inclusive=plan.upper_inclusive, reverse=plan.reverse)
        check = ctx.session.check_interrupt
        keep = self._filter
        for batch in source:
            check()
            if keep is not None:
                batch = keep(batch, params)
            if batch:
                yield batch
