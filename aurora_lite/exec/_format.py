"""Rendering of bound expressions as SQL-like text, for EXPLAIN and error messages."""

from __future__ import annotations

import datetime

from aurora_lite.exec._expr import (
    AggCall, And, Arith, Case, Cast, Coalesce, ColumnRef, Compare, Concat, Const, Expr, Field,
    Func, InList, IsDistinct, IsNull, Like, Negate, Not, Or, Param, Subquery,
)
from aurora_lite.values import type_display_name


def literal_sql(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bytes):
        return "'\\x" + value.hex() + "'"
    if isinstance(value, (datetime.date, datetime.datetime)):
        text = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else \
            value.isoformat()
        return f"'{text}'"
    return repr(value)


def expr_sql(expr: Expr) -> str:
    """A readable rendering; binary operators are parenthesised so precedence is explicit."""
    if isinstance(expr, Const):
        return literal_sql(expr.value)
    if isinstance(expr, Param):
        return f"${expr.index + 1}"
    if isinstance(expr, (Field, ColumnRef)):
        return expr.name or f"#{getattr(expr, 'index', '?')}"
    if isinstance(expr, Arith):
        return f"({expr_sql(expr.left)} {expr.op} {expr_sql(expr.right)})"
    if isinstance(expr, Concat):
        return f"({expr_sql(expr.left)} || {expr_sql(expr.right)})"
    if isinstance(expr, Negate):
        return f"(- {expr_sql(expr.arg)})"
    if isinstance(expr, Compare):
        return f"({expr_sql(expr.left)} {expr.op} {expr_sql(expr.right)})"
    if isinstance(expr, IsDistinct):
        op = "IS NOT DISTINCT FROM" if expr.negated else "IS DISTINCT FROM"
        return f"({expr_sql(expr.left)} {op} {expr_sql(expr.right)})"
    if isinstance(expr, And):
        return "(" + " AND ".join(expr_sql(arg) for arg in expr.args) + ")"
    if isinstance(expr, Or):
        return "(" + " OR ".join(expr_sql(arg) for arg in expr.args) + ")"
    if isinstance(expr, Not):
        return f"(NOT {expr_sql(expr.arg)})"
    if isinstance(expr, IsNull):
        return f"({expr_sql(expr.arg)} IS {'NOT ' if expr.negated else ''}NULL)"
    if isinstance(expr, InList):
        items = ", ".join(expr_sql(item) for item in expr.items)
        return f"({expr_sql(expr.arg)} {'NOT ' if expr.negated else ''}IN ({items}))"
    if isinstance(expr, Like):
        op = ("NOT " if expr.negated else "") + ("ILIKE" if expr.case_insensitive else "LIKE")
        return f"({expr_sql(expr.arg)} {op} {expr_sql(expr.pattern)})"
    if isinstance(expr, Case):
        parts = ["CASE"]
        if expr.operand is not None:
            parts.append(expr_sql(expr.operand))
        for condition, result in expr.whens:
            parts.append(f"WHEN {expr_sql(condition)} THEN {expr_sql(result)}")
        if expr.default is not None:
            parts.append(f"ELSE {expr_sql(expr.default)}")
        parts.append("END")
        return " ".join(parts)
    if isinstance(expr, Cast):
        name = expr.type_name or type_display_name(expr.type)
        return f"CAST({expr_sql(expr.arg)} AS {name})"
    if isinstance(expr, Coalesce):
        return "COALESCE(" + ", ".join(expr_sql(arg) for arg in expr.args) + ")"
    if isinstance(expr, Func):
        return f"{expr.name}(" + ", ".join(expr_sql(arg) for arg in expr.args) + ")"
    if isinstance(expr, Subquery):
        if expr.kind == "exists":
            return "EXISTS(SubPlan)"
        if expr.kind == "scalar":
            return "(SubPlan)"
        what = "IN" if expr.kind == "in" else f"{expr.op} {expr.kind.upper()}"
        return f"({expr_sql(expr.operand)} {what} (SubPlan))"
    if isinstance(expr, AggCall):
        if expr.func == "count_star":
            return "count(*)"
        distinct = "DISTINCT " if expr.distinct else ""
        return f"{expr.func}({distinct}{expr_sql(expr.arg)})"
    return type(expr).__name__
