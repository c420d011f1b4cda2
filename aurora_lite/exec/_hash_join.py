"""HashJoin: equality joins (inner, or left outer) through a hash table on one side.

The build side (normally the right input; the left one for an inner join whose left input is
the smaller) is read completely into a dict from key to rows; the other side streams through
it a batch at a time. Output rows are always ``left + right`` tuples. NULL keys never match.
``residual`` is the rest of the join condition, evaluated on the joined row.

A probe batch is cut into slices of at most ``PAIRS_PER_STEP`` / (the largest number of build
rows under one key) rows, with an interrupt check between slices, so that a join that fans
out (few distinct keys) still stops soon after an interrupt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
    predicate_lines,
)


PAIRS_PER_STEP = 65536


@dataclass(frozen=True)
class HashJoin(PlanNode):
    left: PlanNode
    right: PlanNode
    left_keys: tuple[Expr, ...]      # over the left row
    right_keys: tuple[Expr, ...]     # over the right row
    residual: Expr | None            # over the joined row
    kind: str                        # "inner" or "left"
    output: tuple[OutputColumn, ...]
    build_left: bool = False

    def inputs(self):
        return (self.left, self.right)

    def describe(self) -> str:
        kind = "Hash Left Join" if self.kind == "left" else "Hash Join"
        return kind + (" (build left)" if self.build_left else "")

    def details(self) -> list[str]:
        condition = " AND ".join(f"({expr_sql(a)} = {expr_sql(b)})"
                                 for a, b in zip(self.left_keys, self.right_keys))
        return [f"Hash Cond: {condition}"] + predicate_lines("Join Filter", self.residual)


def joined_field(left_width: int, left: str = "l", right: str = "r"):
    """Field renderer for a joined row held as two tuples."""
    return lambda index: f"{left}[{index}]" if index < left_width else \
        f"{right}[{index - left_width}]"


def _key_source(generator: Codegen, keys: tuple[Expr, ...]) -> tuple[str, str]:
    """(condition that binds ``_k`` and is false for NULL keys, ``_k``)."""
    if len(keys) == 1:
        value = generator.value(keys[0])
        if not keys[0].nullable:
            return f"((_k := {value}) is not None or True)", "_k"
        return f"(_k := {value}) is not None", "_k"
    names = []
    tests = []
    for key in keys:
        name = generator.temp()
        names.append(name)
        tests.append(f"({name} := {generator.value(key)}) is not None")
    return " and ".join(tests) + f" and ((_k := ({', '.join(names)},)) or True)", "_k"


@executor_for(HashJoin)
class HashJoinExecutor(Executor):
    def __init__(self, plan: HashJoin) -> None:
        super().__init__(plan)
        self._left = build_executor(plan.left)
        self._right = build_executor(plan.right)
        width = len(plan.left.output)
        nulls = "(" + "None, " * len(plan.right.output) + ")"
        if plan.build_left:
            build_keys, probe_keys = plan.left_keys, plan.right_keys
            build_var, probe_var = "l", "r"
        else:
            build_keys, probe_keys = plan.right_keys, plan.left_keys
            build_var, probe_var = "r", "l"
        build_gen = Codegen(lambda index: f"{build_var}[{index}]")
        condition, _ = _key_source(build_gen, build_keys)
        self._build = build_gen.compile(
            f"def _build(batch, p, table):\n"
            f"    get = table.get\n"
            f"    for {build_var} in batch:\n"
            f"        if {condition}:\n"
            f"            _rows = get(_k)\n"
            f"            if _rows is None:\n"
            f"                table[_k] = [{build_var}]\n"
            f"            else:\n"
            f"                _rows.append({build_var})\n", "_build")
        generator = Codegen(lambda index: f"{probe_var}[{index}]")
        condition, _ = _key_source(generator, probe_keys)
        generator.field = joined_field(width)
        residual = "" if plan.residual is None else f" if {generator.truth(plan.residual)}"
        if plan.kind == "inner":
            inner = f"for {build_var} in get(_k, ())"
            source = (f"def _probe(batch, p, table):\n"
                      f"    get = table.get\n"
                      f"    return [l + r for {probe_var} in batch if {condition} "
                      f"{inner}{residual}]\n")
        else:
            test = "" if plan.residual is None else \
                f"            if not {generator.truth(plan.residual)}: continue\n"
            source = (f"def _probe(batch, p, table):\n"
                      f"    out = []\n"
                      f"    append = out.append\n"
                      f"    get = table.get\n"
                      f"    for l in batch:\n"
                      f"        _matched = False\n"
                      f"        for r in (get(_k, ()) if {condition} else ()):\n"
                      f"{test}"
                      f"            append(l + r)\n"
                      f"            _matched = True\n"
                      f"        if not _matched:\n"
                      f"            append(l + {nulls})\n"
                      f"    return out\n")
        self._probe = generator.compile(source, "_probe")

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        params = ctx.params
        table: dict = {}
        build, probe = (self._left, self._right) if self.plan.build_left else \
            (self._right, self._left)
        fold = self._build
        check = ctx.session.check_interrupt
        for batch in build.batches(ctx):
            check()
            fold(batch, params, table)
        if not table and self.plan.kind == "inner":
            return
        join = self._probe
        fan_out = max(map(len, table.values()), default=1)
        step = max(1, PAIRS_PER_STEP // fan_out)
        for batch in probe.batches(ctx):
            for start in range(0, len(batch), step):
                check()
                out = join(batch[start:start + step] if step < len(batch) else batch, params,
                           table)
                if out:
                    yield out
