"""NestedLoopJoin: joins on any condition (or none: a cross product), inner or left outer.

The right input is read once into a list; every left batch is joined against it with one
generated comprehension (inner) or loop (left outer, to emit NULL-padded unmatched rows).
A left batch is cut into slices of at most ``PAIRS_PER_STEP`` row pairs, so that the
interrupt check between slices comes often even when the right input is large.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._hash_join import joined_field
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
    predicate_lines,
)


PAIRS_PER_STEP = 65536


@dataclass(frozen=True)
class NestedLoopJoin(PlanNode):
    left: PlanNode
    right: PlanNode
    predicate: Expr | None           # over the joined row; None: every pair
    kind: str                        # "inner" or "left"
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.left, self.right)

    def describe(self) -> str:
        return "Nested Loop Left Join" if self.kind == "left" else "Nested Loop"

    def details(self) -> list[str]:
        return predicate_lines("Join Filter", self.predicate)


@executor_for(NestedLoopJoin)
class NestedLoopJoinExecutor(Executor):
    def __init__(self, plan: NestedLoopJoin) -> None:
        super().__init__(plan)
        self._left = build_executor(plan.left)
        self._right = build_executor(plan.right)
        generator = Codegen(joined_field(len(plan.left.output)))
        condition = "" if plan.predicate is None else f" if {generator.truth(plan.predicate)}"
        if plan.kind == "inner":
            source = (f"def _join(batch, p, right):\n"
                      f"    return [l + r for l in batch for r in right{condition}]\n")
        else:
            nulls = "(" + "None, " * len(plan.right.output) + ")"
            source = (f"def _join(batch, p, right):\n"
                      f"    out = []\n"
                      f"    append = out.append\n"
                      f"    for l in batch:\n"
                      f"        _found = [l + r for r in right{condition}]\n"
                      f"        if _found:\n"
                      f"            out += _found\n"
                      f"        else:\n"
                      f"            append(l + {nulls})\n"
                      f"    return out\n")
        self._join = generator.compile(source, "_join")

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        right: list = []
        check = ctx.session.check_interrupt
        for batch in self._right.batches(ctx):
            check()
            right.extend(batch)
        if not right and self.plan.kind == "inner":
            return
        params = ctx.params
        join = self._join
        step = max(1, PAIRS_PER_STEP // max(len(right), 1))
        for batch in self._left.batches(ctx):
            for start in range(0, len(batch), step):
                check()
                out = join(batch[start:start + step] if step < len(batch) else batch, params,
                           right)
                if out:
                    yield out
