"""Aggregate: GROUP BY with COUNT/SUM/AVG/MIN/MAX (and their DISTINCT forms), hash based.

The per-batch loop is generated: each aggregate becomes a few straight-line statements over
state slots (local variables without GROUP BY, a list per group with it), so a row costs one
loop step, not one call per aggregate. The output row is the group key values followed by
the aggregate results. Without GROUP BY there is exactly one output row, even for no input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
)
from aurora_lite.values import SqlType


@dataclass(frozen=True)
class AggSpec:
    func: str                 # count_star, count, sum, avg, min, max
    arg: Expr | None
    distinct: bool
    type: SqlType | None

    def __str__(self) -> str:
        if self.func == "count_star":
            return "count(*)"
        return f"{self.func}({'DISTINCT ' if self.distinct else ''}{expr_sql(self.arg)})"


@dataclass(frozen=True)
class Aggregate(PlanNode):
    child: PlanNode
    group_keys: tuple[Expr, ...]
    aggregates: tuple[AggSpec, ...]
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.child,)

    def describe(self) -> str:
        return "Hash Aggregate" if self.group_keys else "Aggregate"

    def details(self) -> list[str]:
        lines = []
        if self.group_keys:
            lines.append("Group Key: " + ", ".join(expr_sql(e) for e in self.group_keys))
        if self.aggregates:
            lines.append("Aggregates: " + ", ".join(str(a) for a in self.aggregates))
        return lines


def _slots(spec: AggSpec) -> list[str]:
    """Initial values of the state slots of one aggregate."""
    if spec.distinct and spec.func != "count_star" and spec.func not in ("min", "max"):
        return ["set()"]
    if spec.func in ("count_star", "count"):
        return ["0"]
    if spec.func in ("sum", "avg"):
        return ["0", "0"]
    return ["None"]


def _update(generator: Codegen, spec: AggSpec, slot) -> list[str]:
    """Statements folding one row into the slots (``slot(i)`` names slot i)."""
    if spec.func == "count_star":
        return [f"{slot(0)} += 1"]
    value = generator.value(spec.arg)
    nullable = spec.arg.nullable
    if spec.distinct and spec.func not in ("min", "max"):
        if not nullable:
            return [f"{slot(0)}.add({value})"]
        return [f"_v = {value}", f"if _v is not None: {slot(0)}.add(_v)"]
    if spec.func == "count":
        return [f"{slot(0)} += 1"] if not nullable else [f"if {value} is not None: {slot(0)} += 1"]
    if spec.func in ("sum", "avg"):
        if not nullable:
            return [f"{slot(0)} += {value}", f"{slot(1)} += 1"]
        return [f"_v = {value}", f"if _v is not None:",
                f"    {slot(0)} += _v", f"    {slot(1)} += 1"]
    op = "<" if spec.func == "min" else ">"
    test = "" if not nullable else "_v is not None and "
    return [f"_v = {value}", f"if {test}({slot(0)} is None or _v {op} {slot(0)}): {slot(0)} = _v"]


def _final(spec: AggSpec, slot) -> str:
    """An expression of the aggregate's result from its slots."""
    if spec.distinct and spec.func not in ("min", "max", "count_star"):
        state = slot(0)
        if spec.func == "count":
            return f"len({state})"
        if spec.func == "sum":
            return f"(sum({state}) if {state} else None)"
        return f"(sum({state}) / len({state}) if {state} else None)"
    if spec.func in ("count_star", "count", "min", "max"):
        return slot(0)
    if spec.func == "sum":
        total = slot(0)
        if spec.type is SqlType.REAL:
            total = f"float({total})"
        return f"({total} if {slot(1)} else None)"
    return f"({slot(0)} / {slot(1)} if {slot(1)} else None)"


@executor_for(Aggregate)
class AggregateExecutor(Executor):
    def __init__(self, plan: Aggregate) -> None:
        super().__init__(plan)
        self._child = build_executor(plan.child)
        generator = Codegen()
        layout = []               # slot offset of every aggregate
        initial = []
        for spec in plan.aggregates:
            layout.append(len(initial))
            initial.extend(_slots(spec))
        self._initial = "[" + ", ".join(initial) + "]"
        grouped = bool(plan.group_keys)

        def slot_name(base):
            if grouped:
                return lambda i: f"_st[{base + i}]"
            return lambda i: f"_s{base + i}"
        updates = []
        counts = []               # count(*) without GROUP BY: the batch length, no loop
        for spec, base in zip(plan.aggregates, layout):
            if spec.func == "count_star" and not grouped:
                counts.append(f"    {slot_name(base)(0)} += len(batch)")
            else:
                updates.extend(_update(generator, spec, slot_name(base)))
        finals = [_final(spec, slot_name(base)) for spec, base in zip(plan.aggregates, layout)]
        body = ["def _fold(batch, p, state):"]
        if not grouped:
            names = [f"_s{i}" for i in range(len(initial))]
            if names:
                body.append(f"    {', '.join(names)}, = state")
            body += counts
            if updates:
                body.append("    for r in batch:")
                body += ["        " + line for line in updates]
            if names:
                body.append(f"    state[:] = ({', '.join(names)},)")
            body.append("    return None")
            body += ["def _finish(state):",
                     f"    {', '.join(names) + ',' if names else '_'} = state" if names
                     else "    pass",
                     f"    return [({''.join(f + ', ' for f in finals)})]"]
        else:
            keys = [generator.value(key) for key in plan.group_keys]
            key = keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ",)"
            body += ["    get = state.get",
                     "    for r in batch:",
                     f"        _key = {key}",
                     "        _st = get(_key)",
                     "        if _st is None:",
                     f"            _st = state[_key] = {self._initial}"]
            body += ["        " + line for line in updates]
            key_out = "(_key,)" if len(keys) == 1 else "_key"
            body += ["def _finish(state):",
                     f"    return [{key_out} + ({''.join(f + ', ' for f in finals)}) "
                     f"for _key, _st in state.items()]"]
        namespace_source = "\n".join(body) + "\n"
        generator.compile(namespace_source, "_fold")
        self._fold = generator.namespace["_fold"]
        self._finish = generator.namespace["_finish"]
        self._grouped = grouped
        self._initial_state = generator.compile(
            f"def _init():\n    return {self._initial}\n", "_init")

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        state = {} if self._grouped else self._initial_state()
        fold = self._fold
        params = ctx.params
        check = ctx.session.check_interrupt
        for batch in self._child.batches(ctx):
            check()
            fold(batch, params, state)
        rows = self._finish(state)
        if rows:
            yield rows
