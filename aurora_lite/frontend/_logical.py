"""The bound, logical form of a query: what the binder produces and the planner consumes.

Expressions here are ``aurora_lite.exec`` IR with ``ColumnRef`` (relation, column) leaves,
``AggCall`` nodes and ``Subquery`` nodes whose ``query`` is itself logical; the planner fixes
row layouts and turns them into ``Field``s. A ``QueryBlock`` is one SELECT; a
``SetOperation`` combines two queries (UNION / INTERSECT / EXCEPT). Both expose the output
``names``, ``types`` and ``nullables``; ``Query`` is either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from aurora_lite.exec import ColumnRef, Expr, Subquery, walk
from aurora_lite.frontend._scope import Relation
from aurora_lite.values import SqlType


@dataclass
class FromTable:
    relation: Relation


@dataclass
class FromJoin:
    kind: str                    # "inner" or "left"
    left: "FromItem"
    right: "FromItem"
    condition: Expr | None


FromItem = FromTable | FromJoin


@dataclass
class OrderItem:
    expr: Expr | None            # over the query's input (ColumnRefs, AggCalls) ...
    output: int | None           # ... or a select-list position
    descending: bool = False
    nulls_first: bool = False


@dataclass
class QueryBlock:
    relations: list[Relation] = field(default_factory=list)
    from_items: list[FromItem] = field(default_factory=list)
    where: Expr | None = None
    group_by: list[Expr] = field(default_factory=list)
    having: Expr | None = None
    select: list[Expr] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    distinct: bool = False
    order_by: list[OrderItem] = field(default_factory=list)
    limit: Expr | None = None
    offset: Expr | None = None
    aggregated: bool = False
    # Whether binding this block made any Subquery node (else the planner's subquery pass,
    # which rebuilds every expression, has nothing to do unless the block is correlated).
    has_subqueries: bool = False

    @property
    def types(self) -> list[SqlType | None]:
        return [expr.type for expr in self.select]

    @property
    def nullables(self) -> list[bool]:
        return [expr.nullable for expr in self.select]


@dataclass
class SetOperation:
    """``left op right`` with ``op`` union, intersect or except (``all``: keep duplicates).
    ORDER BY items name output positions only; the output has the left side's names."""

    op: str
    all: bool
    left: "Query"
    right: "Query"
    names: list[str]
    types: list[SqlType | None]
    nullables: list[bool]
    order_by: list[OrderItem] = field(default_factory=list)
    limit: Expr | None = None
    offset: Expr | None = None


Query = QueryBlock | SetOperation


def from_conditions(items: list[FromItem]) -> Iterator[Expr]:
    for item in items:
        if isinstance(item, FromJoin):
            if item.condition is not None:
                yield item.condition
            yield from from_conditions([item.left, item.right])


def block_expressions(block: QueryBlock) -> Iterator[Expr]:
    """Every expression of one block (not of the queries nested in it)."""
    yield from from_conditions(block.from_items)
    for expr in (block.where, block.having, block.limit, block.offset):
        if expr is not None:
            yield expr
    yield from block.group_by
    yield from block.select
    for item in block.order_by:
        if item.expr is not None:
            yield item.expr


def outer_references(query: Query) -> list[ColumnRef]:
    """The columns of enclosing queries that ``query`` reads (a correlated subquery's
    parameters), each once, in the order first met. Subqueries nested in it contribute
    their own outer references (they are the ``args`` of their Subquery nodes)."""
    found: dict[tuple[int, int], ColumnRef] = {}
    _collect(query, found)
    return list(found.values())


def _collect(query: Query, found: dict) -> None:
    if isinstance(query, SetOperation):
        _collect(query.left, found)
        _collect(query.right, found)
        return
    local = {relation.rel_id for relation in query.relations}
    for relation in query.relations:
        if relation.derived is not None:
            inner: dict = {}
            _collect(relation.derived, inner)
            for key, ref in inner.items():
                if key[0] not in local:
                    found.setdefault(key, ref)
    for expr in block_expressions(query):
        for node in walk(expr):
            if isinstance(node, ColumnRef) and node.rel not in local:
                found.setdefault((node.rel, node.column), node)


def subqueries_in(expr: Expr) -> list[Subquery]:
    return [node for node in walk(expr) if isinstance(node, Subquery)]
