"""EXPLAIN: a plan tree as lines of text, in the shape PostgreSQL prints.

    Hash Join
      Hash Cond: (t1.a = t2.b)
      ->  Seq Scan on t1
            Filter: (t1.x > 5)
      ->  Seq Scan on t2

A node whose expressions contain subqueries lists each one's plan under a ``SubPlan`` line
(in the order the ``(SubPlan)`` markers appear in its details), saying what the subquery
computes and which outer values it is run for.
"""

from __future__ import annotations

import dataclasses

from aurora_lite.exec._expr import Expr, Subquery, walk
from aurora_lite.exec._format import expr_sql
from aurora_lite.exec._plan import PlanNode


def explain_lines(plan: PlanNode) -> list[str]:
    lines: list[str] = []
    _render(plan, 0, True, lines)
    return lines


def _render(plan: PlanNode, depth: int, top: bool, lines: list[str]) -> None:
    if top:
        head_indent = " " * depth
        detail_indent = head_indent + "  "
        lines.append(head_indent + plan.describe())
    else:
        head_indent = " " * depth + "->  "
        detail_indent = " " * (depth + 6)
        lines.append(head_indent + plan.describe())
    lines.extend(detail_indent + line for line in plan.details())
    for subquery in subqueries_of(plan):
        correlated = ""
        if subquery.args:
            correlated = " for " + ", ".join(expr_sql(arg) for arg in subquery.args)
        lines.append(f"{detail_indent}SubPlan ({subquery.kind}){correlated}")
        _render(subquery.query, len(detail_indent) + 2, False, lines)
    child_depth = depth + 2 if top else depth + 6
    for child in plan.inputs():
        _render(child, child_depth, False, lines)


def _expressions(value) -> list[Expr]:
    if isinstance(value, Expr):
        return [value]
    if isinstance(value, tuple):
        return [expr for item in value for expr in _expressions(item)]
    if dataclasses.is_dataclass(value) and not isinstance(value, (type, PlanNode)):
        return [expr for field in dataclasses.fields(value)
                for expr in _expressions(getattr(value, field.name))]
    return []


def subqueries_of(plan: PlanNode) -> list[Subquery]:
    """The subqueries in the expressions of one plan node (not of its inputs)."""
    found: list[Subquery] = []
    if not dataclasses.is_dataclass(plan):
        return found
    for field in dataclasses.fields(plan):
        for expr in _expressions(getattr(plan, field.name)):
            for node in walk(expr):
                if isinstance(node, Subquery) and all(node is not seen for seen in found):
                    found.append(node)
    return found
