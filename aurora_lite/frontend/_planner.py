"""The planner: a bound query (``_logical``) -> an executable plan tree (``aurora_lite.exec``).

Steps for one block (rules in ``_rules``): plan its subqueries (``subqueries``: outer columns
become parameters of the subplan) and note the columns it reads (``column_pruning``); build the
join graph and push conjuncts down; choose each table's access path; order the joins; then,
above the joined rows, aggregate (GROUP BY, aggregates, HAVING), sort (unless the access path
already gives the order), limit and project. A set operation plans both sides, casts them to
the common column types and sorts / limits the result. Binder expressions name columns as
(relation, column); once a subtree's row layout is fixed they are resolved to positional
``Field``s.
"""

from __future__ import annotations

from typing import Callable

from aurora_lite.catalog import Catalog
from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import (
    AggCall, AggSpec, Aggregate, Arith, Cast, ColumnRef, Distinct, Expr, Field, Filter,
    HashJoin, Limit, NestedLoopJoin, OutputColumn, PlanNode, Project, SetOp, Sort, SortKey,
    Values, expr_sql, make_and, transform, walk,
)
from aurora_lite.frontend._errors import GROUPING_ERROR
from aurora_lite.frontend._logical import OrderItem, Query, QueryBlock, SetOperation
from aurora_lite.frontend._rules.access_path import choose_path
from aurora_lite.frontend._rules.column_pruning import note_columns, scan_columns
from aurora_lite.frontend._rules.hashed_lookup import hashed_scan
from aurora_lite.frontend._rules.subqueries import SubqueryPlanner
from aurora_lite.frontend._rules.join_order import Planned, equi_sides, greedy
from aurora_lite.frontend._rules.pushdown import BaseUnit, Graph, LeftUnit, build_graph, push_down
from aurora_lite.frontend._rules.sort_elision import WantedKey
from aurora_lite.frontend._scope import Relation
from aurora_lite.values import SqlType


def resolver(positions: dict[tuple[int, int], int]) -> Callable[[Expr], Expr]:
    """ColumnRef -> Field for a fixed row layout."""
    def fn(node: Expr):
        if isinstance(node, ColumnRef):
            return Field(positions[(node.rel, node.column)], node.type, node.nullable, node.name)
        return None
    return lambda expr: transform(expr, fn)


def output_of(relations: list[Relation]) -> tuple[OutputColumn, ...]:
    out = []
    for relation in relations:
        out.extend(OutputColumn(ref.name, ref.type, ref.nullable) for ref in relation.columns())
    return tuple(out)


DERIVED_ESTIMATE = 1000.0          # rows assumed for a view or a subquery in FROM


class Planner(SubqueryPlanner):
    """Plans statements against one catalog; ``rows(table)`` estimates table sizes;
    ``param_count`` is the number of the statement's parameters."""

    def __init__(self, catalog: Catalog, rows: Callable[[str], int],
                 param_count: int = 0, column_range: Callable | None = None) -> None:
        super().__init__(param_count)
        self.catalog = catalog
        self.rows = rows
        # column_range(table, index or None for the primary key, column) -> (min, max) of
        # a numeric column, or None: read from the key's ends when a range needs it.
        self.column_range = column_range
        self._ranges: dict[tuple, tuple | None] = {}
        self.estimates: dict[str, int] = {}
        self.needed: dict[int, set[int]] = {}

    def table_rows(self, name: str) -> int:
        if name not in self.estimates:
            self.estimates[name] = self.rows(name)
        return self.estimates[name]

    # -- FROM ------------------------------------------------------------------------------------
    def _base(self, unit: BaseUnit, wanted=None, limited=False, with_locators=False) -> Planned:
        relation = unit.relation
        positions = {(relation.rel_id, i): i for i in range(relation.width)}
        if relation.derived is not None:
            return self._derived(relation, unit.filters, resolver(positions))
        columns = None if with_locators else scan_columns(self.needed, relation)
        path = choose_path(relation, unit.filters, self.catalog.indexes_of(relation.table.name),
                           self.table_rows(relation.table.name), resolver(positions),
                           wanted=wanted, limited=limited, with_locators=with_locators,
                           columns=columns,
                           extent=lambda candidate: self._extent(relation, candidate))
        node = path.node
        if self.outer:
            # A correlated level: an equality with the outer values may be probed in a hash
            # table built once per execution instead of scanning per outer row.
            node = hashed_scan(node, relation, unit.filters, self.statement_params,
                               resolver(positions)) or node
        return Planned(node, [relation], path.estimate, path.ordered)

    def _extent(self, relation: Relation, candidate) -> tuple | None:
        """(smallest, largest) value of the first column of a candidate key, or None."""
        if self.column_range is None:
            return None
        index = None if candidate.index is None else candidate.index.name
        key = (relation.table.name, index, candidate.columns[0])
        if key not in self._ranges:
            self._ranges[key] = self.column_range(*key)
        return self._ranges[key]

    def _derived(self, relation: Relation, filters: list[Expr], resolve) -> Planned:
        """A view or a subquery in FROM: its plan, renamed, with the pushed-down filters."""
        node = self.plan_query(relation.derived)
        output = tuple(OutputColumn(ref.name, ref.type, ref.nullable)
                       for ref in relation.columns())
        node = Project(node, node.fields(), output)
        if filters:
            node = Filter(node, make_and([resolve(cond) for cond in filters]), output)
        return Planned(node, [relation], DERIVED_ESTIMATE)

    def _join(self, left: Planned, right: Planned, conds: list[Expr], kind: str) -> Planned:
        keys = []
        residual = []
        for cond in conds:
            sides = equi_sides(cond, left.rels, right.rels)
            if sides is None:
                residual.append(cond)
            else:
                keys.append(sides)
        relations = left.relations + right.relations
        combined = Planned(None, relations, 0.0)
        resolve = resolver(combined.positions())
        output = tuple(left.node.output) + tuple(
            OutputColumn(c.name, c.type, True if kind == "left" else c.nullable)
            for c in right.node.output)
        predicate = make_and([resolve(c) for c in residual])
        if keys:
            node = HashJoin(left.node, right.node,
                            tuple(resolver(left.positions())(a) for a, _ in keys),
                            tuple(resolver(right.positions())(b) for _, b in keys),
                            predicate, kind, output,
                            build_left=kind == "inner" and left.estimate < right.estimate)
            estimate = max(left.estimate, right.estimate)
        else:
            node = NestedLoopJoin(left.node, right.node, predicate, kind, output)
            estimate = left.estimate * right.estimate * (0.3 if predicate is not None else 1.0)
        if kind == "left":
            estimate = max(estimate, left.estimate)
        return Planned(node, relations, max(estimate, 1.0))

    def _unit(self, unit, wanted=None, limited=False) -> Planned:
        if isinstance(unit, BaseUnit):
            return self._base(unit, wanted, limited)
        assert isinstance(unit, LeftUnit)
        left = self._graph(unit.left)
        right = self._graph(unit.right)
        joined = self._join(left, right, unit.on, "left")
        if unit.filters:
            resolve = resolver(joined.positions())
            joined.node = Filter(joined.node, make_and([resolve(c) for c in unit.filters]),
                                 joined.node.output)
        return joined

    def _graph(self, graph: Graph, wanted=None, limited=False) -> Planned:
        if len(graph.units) == 1:
            planned = self._unit(graph.units[0], wanted, limited)
            leftover = graph.conds
        else:
            plans = [self._unit(unit) for unit in graph.units]
            planned, leftover = greedy(plans, graph.conds, self._join)
        if leftover:
            resolve = resolver(planned.positions())
            planned.node = Filter(planned.node, make_and([resolve(c) for c in leftover]),
                                  planned.node.output)
        return planned

    # -- queries ---------------------------------------------------------------------------------
    def plan_query(self, query: Query) -> PlanNode:
        if isinstance(query, SetOperation):
            return self._set_operation(query)
        return self.plan_select(query)

    def _set_operation(self, query: SetOperation) -> PlanNode:
        output = tuple(OutputColumn(name, sql_type, nullable) for name, sql_type, nullable
                       in zip(query.names, query.types, query.nullables))
        sides = []
        for side in (query.left, query.right):
            node = self.plan_query(side)
            exprs = tuple(Cast(field, sql_type) if field.type is not None and
                          sql_type is not None and field.type != sql_type else field
                          for field, sql_type in zip(node.fields(), query.types))
            if any(isinstance(expr, Cast) for expr in exprs):
                node = Project(node, exprs, tuple(
                    OutputColumn(column.name, expr.type, column.nullable)
                    for column, expr in zip(node.output, exprs)))
            sides.append(node)
        node = SetOp(query.op, query.all, sides[0], sides[1], output)
        return self._sort_and_limit(node, query.order_by, query.limit, query.offset, output)

    @staticmethod
    def _sort_and_limit(node: PlanNode, order: list[OrderItem], limit, offset,
                        output: tuple[OutputColumn, ...]) -> PlanNode:
        """ORDER BY output positions, then LIMIT / OFFSET, over ``node`` (whose output is
        ``output``)."""
        if order:
            limit_rows = None
            if limit is not None:
                limit_rows = limit if offset is None else \
                    Arith("+", limit, offset, SqlType.INTEGER)
            keys = tuple(SortKey(Field(item.output, output[item.output].type,
                                       output[item.output].nullable,
                                       output[item.output].name),
                                 item.descending, item.nulls_first) for item in order)
            node = Sort(node, keys, output, limit_rows)
        if limit is not None or offset is not None:
            node = Limit(node, limit, offset, output)
        return node

    # -- SELECT ----------------------------------------------------------------------------------
    def plan_select(self, block: QueryBlock) -> PlanNode:
        block = self.prepare_block(block)
        note_columns(self.needed, block)
        wanted = self._wanted_order(block)
        limited = block.limit is not None
        if not block.from_items:
            source = Planned(Values(((),), ()), [], 1.0)
            if block.where is not None:
                source.node = Filter(source.node, block.where, ())
        else:
            graph = build_graph(block.from_items, block.where)
            push_down(graph)
            source = self._graph(graph, wanted, limited)
        resolve = resolver(source.positions())
        node = source.node
        select = list(block.select)
        order = [item for item in block.order_by]
        if block.aggregated:
            node, select, order, having = self._aggregate(block, node, resolve)
            if having is not None:
                node = Filter(node, having, node.output)
            ordered = False
        else:
            select = [resolve(e) for e in select]
            order_exprs = [None if item.expr is None else resolve(item.expr) for item in order]
            order = [(item, expr) for item, expr in zip(order, order_exprs)]
            ordered = source.ordered and wanted is not None
        if block.aggregated:
            order = [(item, expr) for item, expr in order]
        output = tuple(OutputColumn(name, expr.type, expr.nullable)
                       for name, expr in zip(block.names, select))
        limit_rows = None
        if block.limit is not None:
            limit_rows = block.limit if block.offset is None else \
                Arith("+", block.limit, block.offset, SqlType.INTEGER)
        if block.distinct:
            node = Project(node, tuple(select), output)
            node = Distinct(node, output)
            return self._sort_and_limit(node, [item for item, _ in order], block.limit,
                                        block.offset, output)
        if order and not ordered:
            keys = tuple(SortKey(select[item.output] if item.output is not None else expr,
                                 item.descending, item.nulls_first) for item, expr in order)
            node = Sort(node, keys, node.output, limit_rows)
        if block.limit is not None or block.offset is not None:
            node = Limit(node, block.limit, block.offset, node.output)
        identity = len(select) == len(node.output) and all(
            isinstance(e, Field) and e.index == i for i, e in enumerate(select))
        if identity and [c.name for c in node.output] == [c.name for c in output]:
            return node
        return Project(node, tuple(select), output)

    def _wanted_order(self, block: QueryBlock) -> list[WantedKey] | None:
        """The ORDER BY as table columns, when it can come from a single table's scan."""
        if not block.order_by or block.aggregated or block.distinct or \
                len(block.relations) != 1 or len(block.from_items) != 1:
            return None
        wanted = []
        for item in block.order_by:
            expr = block.select[item.output] if item.output is not None else item.expr
            if not isinstance(expr, ColumnRef):
                return None
            wanted.append(WantedKey(expr.column, item.descending, item.nulls_first,
                                    expr.nullable))
        return wanted

    def _aggregate(self, block: QueryBlock, node: PlanNode, resolve):
        groups = list(block.group_by)
        calls: list[AggCall] = []

        def collect(expr: Expr) -> None:
            for sub in walk(expr):
                if isinstance(sub, AggCall) and sub not in calls:
                    calls.append(sub)
        for expr in block.select:
            collect(expr)
        if block.having is not None:
            collect(block.having)
        for item in block.order_by:
            if item.expr is not None:
                collect(item.expr)
        width = len(groups)
        output = tuple(OutputColumn(expr_sql(g), g.type, g.nullable) for g in groups) + \
            tuple(OutputColumn(expr_sql(c), c.type, c.nullable) for c in calls)

        def rewrite(expr: Expr) -> Expr:
            def fn(sub: Expr):
                if isinstance(sub, AggCall):
                    index = width + calls.index(sub)
                    return Field(index, sub.type, sub.nullable, expr_sql(sub))
                if sub in groups:
                    index = groups.index(sub)
                    return Field(index, sub.type, sub.nullable, expr_sql(sub))
                if isinstance(sub, ColumnRef):
                    raise ProgrammingError(f'column "{sub.name}" must appear in the GROUP BY '
                                           "clause or be used in an aggregate function",
                                           sqlstate=GROUPING_ERROR)
                return None
            return transform(expr, fn)
        specs = tuple(AggSpec(c.func, None if c.arg is None else resolve(c.arg), c.distinct,
                              c.type) for c in calls)
        aggregate = Aggregate(node, tuple(resolve(g) for g in groups), specs, output)
        select = [rewrite(e) for e in block.select]
        having = None if block.having is None else rewrite(block.having)
        order = [(item, None if item.expr is None else rewrite(item.expr))
                 for item in block.order_by]
        return aggregate, select, order, having

    # -- UPDATE / DELETE sources -----------------------------------------------------------------
    def plan_target_scan(self, relation: Relation, where: Expr | None) -> PlanNode:
        """The (locator, row) source of an UPDATE or DELETE of one table (``where`` has had
        its subqueries planned by ``prepare_expr``)."""
        graph = build_graph([], where)
        unit = BaseUnit(relation, [])
        graph.units.append(unit)
        push_down(graph)
        planned = self._base(unit, with_locators=True)
        node = planned.node
        if graph.conds:
            positions = planned.positions()
            predicate = make_and([resolver(positions)(c) for c in graph.conds])
            node = _with_filter(node, predicate)
        return node


def _with_filter(node, predicate):
    import dataclasses
    if node.filter is None:
        return dataclasses.replace(node, filter=predicate)
    return dataclasses.replace(node, filter=make_and([node.filter, predicate]))

