"""Sort: orders all input rows by a list of keys (ASC/DESC, NULLS FIRST/LAST).

Keys of one direction become one tuple key and one ``list.sort``; mixed directions sort once
per key from the last to the first (Python's sort is stable). NULL placement is folded into
the key as a flag that sorts before or after every value, so values are never compared with
None. With a row limit (LIMIT + OFFSET) small against the input, a heap selects the top rows.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen, evaluate_constant
from aurora_lite.exec._expr import Expr, Negate
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
)
from aurora_lite.values import SqlType

OUTPUT_BATCH = 1024


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool = False
    nulls_first: bool = False

    def __str__(self) -> str:
        text = expr_sql(self.expr) + (" DESC" if self.descending else "")
        if self.nulls_first != self.descending:
            text += " NULLS FIRST" if self.nulls_first else " NULLS LAST"
        return text


@dataclass(frozen=True)
class Sort(PlanNode):
    child: PlanNode
    keys: tuple[SortKey, ...]
    output: tuple[OutputColumn, ...]
    limit: Expr | None = None       # at most this many rows are needed (LIMIT + OFFSET)

    def inputs(self):
        return (self.child,)

    def describe(self) -> str:
        return "Top-N Sort" if self.limit is not None else "Sort"

    def details(self) -> list[str]:
        return ["Sort Key: " + ", ".join(str(key) for key in self.keys)]


def _key_source(generator: Codegen, key: SortKey) -> str:
    value = generator.value(key.expr)
    if not key.expr.nullable:
        return value
    name = generator.temp()
    # NULL must come out last in ascending terms when it should follow the values in the
    # final order: ASC NULLS LAST, or DESC NULLS FIRST (a reversed sort puts it first).
    null_high = key.nulls_first == key.descending
    flag = "is None" if null_high else "is not None"
    return f"(({name} := {value}) {flag}, {name})"


def compile_key(keys: tuple[SortKey, ...]):
    generator = Codegen()
    parts = [_key_source(generator, key) for key in keys]
    body = parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ",)"
    return generator.compile(f"def _make_key(p):\n    return lambda r: {body}\n", "_make_key")


def _ascending(keys: tuple[SortKey, ...]) -> tuple[SortKey, ...]:
    """Mixed directions made one where possible: a DESC number sorts as its ASC negation
    (NULL placement is relative to the final order, so it stays as asked)."""
    if len({key.descending for key in keys}) == 1:
        return keys
    out = []
    for key in keys:
        if key.descending and key.expr.type in (SqlType.INTEGER, SqlType.REAL):
            # REAL-typed negation: plain unary minus, no int64 overflow check for a sort key.
            out.append(SortKey(Negate(key.expr, SqlType.REAL), False, key.nulls_first))
        else:
            out.append(key)
    return tuple(out)


@executor_for(Sort)
class SortExecutor(Executor):
    def __init__(self, plan: Sort) -> None:
        super().__init__(plan)
        self._child = build_executor(plan.child)
        keys = _ascending(plan.keys)
        directions = {key.descending for key in keys}
        if len(directions) == 1:
            self._passes = [(compile_key(keys), keys[0].descending)]
        else:
            self._passes = [(compile_key((key,)), key.descending) for key in reversed(keys)]

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        rows = []
        check = ctx.session.check_interrupt
        for batch in self._child.batches(ctx):
            check()
            rows.extend(batch)
        check()
        params = ctx.params
        limit = None
        if self.plan.limit is not None:
            limit = evaluate_constant(self.plan.limit, params)
        if limit is not None and len(self._passes) == 1 and limit * 4 < len(rows):
            make_key, descending = self._passes[0]
            select = heapq.nlargest if descending else heapq.nsmallest
            rows = select(max(limit, 0), rows, key=make_key(params))
        else:
            for make_key, descending in self._passes:
                rows.sort(key=make_key(params), reverse=descending)
                check()
        for start in range(0, len(rows), OUTPUT_BATCH):
            yield rows[start:start + OUTPUT_BATCH]
