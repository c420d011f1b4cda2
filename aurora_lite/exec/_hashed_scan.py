"""HashedScan: a table read once per statement into a hash table, then probed per run.

Made for correlated subqueries: ``WHERE inner.k = outer.a`` is, inside the subquery, an
equality with a parameter that changes with every outer row. Without an index on ``k`` each
run would scan the whole table. Instead the first run of the statement scans it once (only
the columns the plan reads, with the conjuncts that read no parameter applied), hashes the
rows on the key columns and keeps the table in the execution's shared state (``p.shared``);
every run then takes the rows under the key its parameters give and applies the rest of the
filter. Rows whose key holds a NULL never match (``=`` is never true with NULL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._expr import Expr
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import (
    ExecContext, Executor, OutputColumn, PlanNode, executor_for, predicate_lines,
)
from aurora_lite.exec._scan import columns_line, compile_filter


@dataclass(frozen=True)
class HashedScan(PlanNode):
    table: str
    alias: str
    output: tuple[OutputColumn, ...]
    key_columns: tuple[int, ...]             # table columns the rows are hashed on
    probe: tuple[Expr, ...]                  # the key of one run (reads parameters only)
    build_filter: Expr | None = None         # applied once, while the table is read
    filter: Expr | None = None               # applied to the rows of each run
    columns: tuple[int, ...] | None = None   # the columns read (None: all)
    access_predicates: tuple[Expr, ...] = ()

    def describe(self) -> str:
        name = self.table if self.alias == self.table else f"{self.table} {self.alias}"
        return f"Hashed Scan on {name}"

    def details(self) -> list[str]:
        lines = ["Hash Key: " + " AND ".join(expr_sql(e) for e in self.access_predicates)]
        lines += predicate_lines("Build Filter", self.build_filter)
        return lines + predicate_lines("Filter", self.filter) + columns_line(self.output,
                                                                            self.columns)


@executor_for(HashedScan)
class HashedScanExecutor(Executor):
    def __init__(self, plan: HashedScan) -> None:
        super().__init__(plan)
        generator = Codegen()
        values = "".join(generator.value(e) + ", " for e in plan.probe)
        self._probe = generator.compile(f"def _probe(p):\n    return ({values})\n", "_probe")
        self._build_filter = compile_filter(plan.build_filter, False)
        self._filter = compile_filter(plan.filter, False)
        key = ", ".join(f"r[{column}]" for column in plan.key_columns)
        tests = " and ".join(f"r[{column}] is not None" for column in plan.key_columns)
        self._hash = Codegen().compile(
            "def _hash(batch, table):\n"
            "    get = table.get\n"
            "    for r in batch:\n"
            f"        if {tests}:\n"
            f"            _k = ({key},)\n"
            "            _rows = get(_k)\n"
            "            if _rows is None:\n"
            "                table[_k] = [r]\n"
            "            else:\n"
            "                _rows.append(r)\n", "_hash")

    def _table(self, ctx: ExecContext) -> dict:
        shared = ctx.params.shared
        table = shared.get(self)
        if table is not None:
            return table
        table = {}
        plan = self.plan
        access = ctx.table(plan.table)
        options = {} if plan.columns is None else {"columns": plan.columns}
        check = ctx.session.check_interrupt
        keep = self._build_filter
        params = ctx.params
        for batch in access.scan(ctx.view, **options):
            check()
            if keep is not None:
                batch = keep(batch, params)
            self._hash(batch, table)
        shared[self] = table
        return table

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        params = ctx.params
        key = self._probe(params)
        if None in key:
            return
        rows = self._table(ctx).get(key)
        if not rows:
            return
        # A copy: operators above may extend the batch they are given.
        rows = self._filter(rows, params) if self._filter is not None else rows[:]
        if rows:
            yield rows
