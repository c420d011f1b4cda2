"""Subquery planning: a subquery's outer columns become parameters of its own plan.

A ``Subquery`` expression carries, as ``args``, the columns of enclosing queries it reads.
Its plan runs with the enclosing level's parameters followed by the values of those columns
(``SubqueryRunner`` in exec), so inside the subquery each outer column is a ``Param`` -
a constant per run, which push-down and access-path selection treat like any other constant
(``x.b = outer.b`` can be an index lookup). Runs are cached per distinct outer values.

``prepare_block`` is applied to every block before it is planned: it plans the subqueries in
the block's expressions and rewrites the block's own outer references to the parameters its
level was given. An EXISTS subquery's select list is replaced by a constant (what it selects
does not matter; its columns need not be read).
"""

from __future__ import annotations

import dataclasses

from aurora_lite.exec import ColumnRef, Const, Expr, Param, PlanNode, Subquery, transform
from aurora_lite.frontend._logical import FromItem, FromJoin, OrderItem, Query, QueryBlock
from aurora_lite.values import SqlType


class SubqueryPlanner:
    """Mixed into ``Planner``: ``outer`` maps (relation, column) of enclosing queries to the
    parameters that carry them at the level being planned; ``base`` is that level's
    parameter count."""

    def __init__(self, param_count: int) -> None:
        self.base = param_count
        self.statement_params = param_count     # fixed for a whole execution
        self.outer: dict[tuple[int, int], Param] = {}

    def plan_query(self, query: Query) -> PlanNode:
        raise NotImplementedError

    def prepare_expr(self, expr: Expr | None, memo: dict | None = None) -> Expr | None:
        """``expr`` with its subqueries planned and outer references made parameters."""
        if expr is None:
            return None
        memo = {} if memo is None else memo

        def fn(node: Expr):
            if isinstance(node, ColumnRef):
                return self.outer.get((node.rel, node.column))
            if isinstance(node, Subquery) and not isinstance(node.query, PlanNode):
                # The same node may sit in the select list and in GROUP BY / ORDER BY:
                # it must stay one object for the planner to match them.
                key = ("subquery", id(node))
                if key not in memo:
                    memo[key] = (node, self._plan_subquery(node, memo))
                return memo[key][1]
            return None
        key = ("expr", id(expr))
        if key not in memo:
            # The original is kept with its result so that its id is not reused meanwhile.
            memo[key] = (expr, transform(expr, fn))
        return memo[key][1]

    def _plan_subquery(self, node: Subquery, memo: dict) -> Subquery:
        args = tuple(self.prepare_expr(arg, memo) for arg in node.args)
        operand = self.prepare_expr(node.operand, memo)
        query = node.query
        if node.kind == "exists" and isinstance(query, QueryBlock) and not query.aggregated:
            query = dataclasses.replace(query, select=[Const(1, SqlType.INTEGER)],
                                        names=["?column?"], order_by=[], distinct=False)
        saved = self.outer, self.base
        self.outer = {(arg.rel, arg.column): Param(self.base + i, arg.type, arg.nullable)
                      for i, arg in enumerate(node.args)}
        self.base = self.base + len(node.args)
        try:
            plan = self.plan_query(query)
        finally:
            self.outer, self.base = saved
        return Subquery(node.kind, plan, args, node.type, node.nullable, operand, node.op,
                        first_param=self.base)

    def prepare_block(self, block: QueryBlock) -> QueryBlock:
        """A copy of ``block`` ready for planning (see the module docstring)."""
        if not self.outer and not block.has_subqueries:
            return block
        memo: dict = {}
        prepare = self.prepare_expr

        def items(item: FromItem) -> FromItem:
            if isinstance(item, FromJoin):
                return FromJoin(item.kind, items(item.left), items(item.right),
                                prepare(item.condition, memo))
            return item
        return dataclasses.replace(
            block,
            from_items=[items(item) for item in block.from_items],
            where=prepare(block.where, memo),
            group_by=[prepare(expr, memo) for expr in block.group_by],
            having=prepare(block.having, memo),
            select=[prepare(expr, memo) for expr in block.select],
            order_by=[OrderItem(prepare(item.expr, memo), item.output, item.descending,
                                item.nulls_first) for item in block.order_by],
            limit=prepare(block.limit, memo),
            offset=prepare(block.offset, memo))
