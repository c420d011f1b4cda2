"""PkMultiLookup: the rows whose single-column primary key is one of a list of values
(``WHERE id IN (...)``), by one ``TableAccess.lookup`` per distinct value, in key order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, executor_for, predicate_lines,
)
from aurora_lite.exec._scan import compile_filter
from aurora_lite.values import SqlType, coerce


@dataclass(frozen=True)
class PkMultiLookup(PlanNode):
    table: str
    alias: str
    output: tuple[OutputColumn, ...]
    values: tuple[Expr, ...]
    key_type: SqlType
    reverse: bool = False
    filter: Expr | None = None
    access_predicates: tuple[Expr, ...] = ()

    def describe(self) -> str:
        name = self.table if self.alias == self.table else f"{self.table} {self.alias}"
        suffix = " (reverse)" if self.reverse else ""
        return f"PK Lookup on {name} ({len(self.values)} keys){suffix}"

    def details(self) -> list[str]:
        lines = ["Key Cond: " + " AND ".join(expr_sql(e) for e in self.access_predicates)]
        return lines + predicate_lines("Filter", self.filter)


@executor_for(PkMultiLookup)
class PkMultiLookupExecutor(Executor):
    def __init__(self, plan: PkMultiLookup) -> None:
        super().__init__(plan)
        generator = Codegen()
        values = "".join(generator.value(e) + ", " for e in plan.values)
        self._values = generator.compile(f"def _keys(p):\n    return ({values})\n", "_keys")
        self._filter = compile_filter(plan.filter, False)

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        plan = self.plan
        # NULL never equals a key; duplicates find the same row once; sorted gives key order.
        keys = sorted(dict.fromkeys(coerce(value, plan.key_type)
                                    for value in self._values(ctx.params) if value is not None),
                      reverse=plan.reverse)
        access = ctx.table(plan.table)
        view = ctx.view
        rows = [row for row in (access.lookup(view, (key,)) for key in keys) if row is not None]
        if self._filter is not None:
            rows = self._filter(rows, ctx.params)
        if rows:
            yield rows
