"""SetOp: UNION, INTERSECT and EXCEPT of two inputs with the same columns, with or without ALL.

Rows are compared as whole tuples, NULLs equal to NULLs (as SQL's set operations do). UNION ALL
streams both inputs; the other forms read the right input first into a set (or, with ALL, a
multiset of counts) and then stream the left one through it:

* UNION: each distinct row of either input once;
* INTERSECT: distinct left rows found on the right; INTERSECT ALL: min(m, n) copies;
* EXCEPT: distinct left rows not found on the right; EXCEPT ALL: max(m - n, 0) copies.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, build_executor, executor_for,
)


@dataclass(frozen=True)
class SetOp(PlanNode):
    kind: str                        # "union", "intersect" or "except"
    all: bool
    left: PlanNode
    right: PlanNode
    output: tuple[OutputColumn, ...]

    def inputs(self):
        return (self.left, self.right)

    def describe(self) -> str:
        name = {"union": "Append" if self.all else "Union", "intersect": "Intersect",
                "except": "Except"}[self.kind]
        return name + (" All" if self.all and self.kind != "union" else "")


@executor_for(SetOp)
class SetOpExecutor(Executor):
    def __init__(self, plan: SetOp) -> None:
        super().__init__(plan)
        self._left = build_executor(plan.left)
        self._right = build_executor(plan.right)

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        plan = self.plan
        check = ctx.session.check_interrupt
        if plan.kind == "union":
            yield from (self._union_all(ctx, check) if plan.all else self._union(ctx, check))
            return
        if plan.all:
            counts: Counter = Counter()
            for batch in self._right.batches(ctx):
                check()
                counts.update(batch)
            yield from self._multiset(ctx, check, counts, plan.kind == "intersect")
            return
        right: set = set()
        for batch in self._right.batches(ctx):
            check()
            right.update(batch)
        seen: set = set()
        add = seen.add
        wanted = plan.kind == "intersect"
        for batch in self._left.batches(ctx):
            check()
            # ``add`` returns None: a row is kept and remembered in one test.
            batch = [row for row in batch
                     if (row in right) is wanted and not (row in seen or add(row))]
            if batch:
                yield batch

    def _union_all(self, ctx: ExecContext, check) -> Iterator[list]:
        for side in (self._left, self._right):
            for batch in side.batches(ctx):
                check()
                if batch:
                    yield batch

    def _union(self, ctx: ExecContext, check) -> Iterator[list]:
        seen: set = set()
        add = seen.add
        for side in (self._left, self._right):
            for batch in side.batches(ctx):
                check()
                batch = [row for row in batch if not (row in seen or add(row))]
                if batch:
                    yield batch

    def _multiset(self, ctx: ExecContext, check, counts: Counter, intersect: bool
                  ) -> Iterator[list]:
        for batch in self._left.batches(ctx):
            check()
            out = []
            for row in batch:
                left_over = counts.get(row, 0)
                if left_over:
                    counts[row] = left_over - 1
                    if intersect:
                        out.append(row)
                elif not intersect:
                    out.append(row)
            if out:
                yield out
