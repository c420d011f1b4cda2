"""PkLookup: at most one row, found by its full primary key (``TableAccess.lookup``)."""

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
class PkLookup(PlanNode):
    table: str
    alias: str
    output: tuple[OutputColumn, ...]
    key: tuple[Expr, ...]
    key_types: tuple[SqlType, ...]
    filter: Expr | None = None
    access_predicates: tuple[Expr, ...] = ()

    def describe(self) -> str:
        name = self.table if self.alias == self.table else f"{self.table} {self.alias}"
        return f"PK Lookup on {name}"

    def details(self) -> list[str]:
        lines = ["Key Cond: " + " AND ".join(expr_sql(e) for e in self.access_predicates)]
        return lines + predicate_lines("Filter", self.filter)


@executor_for(PkLookup)
class PkLookupExecutor(Executor):
    def __init__(self, plan: PkLookup) -> None:
        super().__init__(plan)
        generator = Codegen()
        values = "".join(generator.value(e) + ", " for e in plan.key)
        self._key = generator.compile(f"def _key(p):\n    return ({values})\n", "_key")
        self._filter = compile_filter(plan.filter, False)
        self._types = plan.key_types
        self._all_integer = all(t is SqlType.INTEGER for t in plan.key_types)

    def _coerce(self, key: tuple) -> tuple:
        if self._all_integer:
            for value in key:
                if type(value) is not int:
                    break
            else:
                return key
        return tuple(coerce(value, sql_type) for value, sql_type in zip(key, self._types))

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        key = self._key(ctx.params)
        if None in key:
            return
        row = ctx.table(self.plan.table).lookup(ctx.view, self._coerce(key))
        if row is None:
            return
        batch = [row]
        if self._filter is not None:
            batch = self._filter(batch, ctx.params)
        if batch:
            yield batch
