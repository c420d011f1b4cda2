"""Hashed lookups for correlated subqueries over tables without a usable index.

Inside a correlated subquery, ``inner.k = outer.a`` is an equality with a parameter that
changes with every outer row. With an index on ``k`` the access path is an index lookup per
run; without one, each run would scan the whole table. This rule replaces such a full scan by
a ``HashedScan``: the table is read once per statement execution and hashed on the columns
compared with parameters, and each run takes one bucket. Conjuncts that read no parameter
that changes between runs (only the statement's own parameters, fixed for an execution) are
applied while the table is read; the others to each run's rows.
"""

from __future__ import annotations

from aurora_lite.exec import (
    ColumnRef, Compare, Expr, HashedScan, Param, TableScan, is_constant, make_and, walk,
)
from aurora_lite.frontend._scope import Relation


def _params(expr: Expr) -> set[int]:
    return {node.index for node in walk(expr) if isinstance(node, Param)}


def _key(cond: Expr, relation: Relation, fixed: int):
    """(column, probe expression) when ``cond`` is ``column = f(changing parameters)``."""
    if not isinstance(cond, Compare) or cond.op != "=":
        return None
    for column, value in ((cond.left, cond.right), (cond.right, cond.left)):
        if isinstance(column, ColumnRef) and column.rel == relation.rel_id and \
                is_constant(value) and any(index >= fixed for index in _params(value)) and \
                value.type is not None and column.type == value.type:
            return column.column, value
    return None


def hashed_scan(node, relation: Relation, conds: list[Expr], fixed: int, resolve):
    """A HashedScan in place of ``node`` (a full TableScan of ``relation``), or None when no
    conjunct compares a column with parameters numbered ``fixed`` or above."""
    # A reverse scan was chosen for its order, which the buckets do not keep reversed.
    if not isinstance(node, TableScan) or node.lower or node.upper or node.with_locators \
            or node.reverse:
        return None
    keys = []
    build = []
    rest = []
    for cond in conds:
        found = _key(cond, relation, fixed)
        if found is not None and found[0] not in [column for column, _, _ in keys]:
            keys.append((found[0], found[1], cond))
        elif all(index < fixed for index in _params(cond)):
            build.append(cond)
        else:
            rest.append(cond)
    if not keys:
        return None
    return HashedScan(node.table, node.alias, node.output,
                      tuple(column for column, _, _ in keys),
                      tuple(resolve(value) for _, value, _ in keys),
                      make_and([resolve(cond) for cond in build]),
                      make_and([resolve(cond) for cond in rest]),
                      node.columns, tuple(resolve(cond) for _, _, cond in keys))
