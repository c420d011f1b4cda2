"""Binding of whole queries: set operations, subqueries (in FROM and as values) and views.

``QueryBinder`` is the statement-wide part of the SELECT binder (``SelectBinder`` adds one
block's clauses): it hands out relation ids, unique within the statement, and binds

* ``UNION / INTERSECT / EXCEPT [ALL]`` into a ``SetOperation``: the same number of columns on
  both sides, each column's types unified as PostgreSQL does (integer and double make double;
  anything else that differs is 42804), ORDER BY by output name or position only;
* subqueries used as values (scalar, EXISTS, IN, op ANY/ALL) into ``Subquery`` nodes whose
  ``args`` are the outer columns they read (so they are correlated exactly when ``args`` is
  not empty);
* views, whose stored SELECT is parsed (cached by its text) and bound where they are read.

What PostgreSQL's grammar rejects but sqlglot accepts (an ORDER BY or LIMIT on a set
operation's operand without parentheses) is a syntax error here.
"""

from __future__ import annotations

import functools
import itertools

from sqlglot import exp

from aurora_lite.catalog import Catalog
from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import AggCall, Cast, Subquery, common_type, relations_of, walk
from aurora_lite.frontend._bind_expr import ExprBinder, identifier
from aurora_lite.frontend._errors import (
    DATATYPE_MISMATCH, INVALID_COLUMN_REFERENCE, SYNTAX, UNDEFINED_COLUMN, not_supported,
)
from aurora_lite.frontend._logical import (
    FromTable, OrderItem, Query, QueryBlock, SetOperation, block_expressions, outer_references,
)
from aurora_lite.frontend._parse import parse
from aurora_lite.frontend._scope import Relation, Scope
from aurora_lite.frontend._typing import (
    convert_untyped, is_untyped, type_name, unify_comparison,
)
from aurora_lite.values import SqlType

_SET_OPS = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}
_SET_OP_ALLOWED = {"this", "expression", "distinct", "order", "limit", "offset"}
MAX_VIEW_DEPTH = 32


@functools.lru_cache(maxsize=256)
def _parse_view(sql: str):
    return parse(sql)


class QueryBinder:
    """Binds queries of one statement; subclassed by ``SelectBinder`` (one block)."""

    def __init__(self, catalog: Catalog, params: list, parsed, *, ids=None,
                 views: tuple[str, ...] = ()) -> None:
        self.catalog = catalog
        self.params = params
        self.parsed = parsed
        self._ids = ids if ids is not None else itertools.count(1)
        self._views = views          # views being expanded, outermost first
        self.subqueries_made = 0

    def new_rel_id(self) -> int:
        return next(self._ids)

    def bind(self, select: exp.Select, parent: Scope | None = None) -> QueryBlock:
        raise NotImplementedError

    def expr_binder(self, scope: Scope) -> ExprBinder:
        binder = ExprBinder(scope, self.params, self.parsed)
        binder.queries = self
        return binder

    # -- queries -----------------------------------------------------------------------------
    def bind_query(self, node, parent: Scope | None = None) -> Query:
        """A SELECT, a set operation or a parenthesized query."""
        if isinstance(node, exp.Subquery):
            binder = self.expr_binder(Scope([], parent))
            if node.args.get("alias") is not None:
                raise not_supported("an alias here", binder.position(node))
            for key, value in node.args.items():
                if key not in ("this", "order", "limit", "offset") and \
                        value not in (None, False, []):
                    raise not_supported(f"{key.upper()} on a parenthesized query",
                                        binder.position(node))
            inner = self.bind_query(node.this, parent)
            if not any(node.args.get(key) is not None for key in ("order", "limit", "offset")):
                return inner
            return self._ordered(node, inner, binder)
        if isinstance(node, exp.Select):
            return self.bind(node, parent)
        if type(node) in _SET_OPS:
            return self._set_operation(node, parent)
        binder = self.expr_binder(Scope([], parent))
        raise not_supported(f"{type(node).__name__} as a query", binder.position(node))

    def _ordered(self, node, inner: Query, binder) -> QueryBlock:
        """``(query) ORDER BY ... LIMIT ...``: a block reading ``inner`` in order."""
        relation = Relation(self.new_rel_id(), None, "subquery", derived=inner)
        block = QueryBlock(relations=[relation], from_items=[FromTable(relation)],
                           select=list(relation.columns()), names=list(inner.names))
        self._set_order_by(node, binder, block)
        block.limit = self.count(node.args.get("limit"), "LIMIT", binder)
        block.offset = self.count(node.args.get("offset"), "OFFSET", binder)
        return block

    def _operand(self, node, parent: Scope | None, binder) -> Query:
        if isinstance(node, exp.Select) or type(node) in _SET_OPS:
            for key in ("order", "limit", "offset"):
                if node.args.get(key) is not None:
                    # PostgreSQL's grammar: ORDER BY / LIMIT end the whole set operation.
                    raise ProgrammingError(f"syntax error at or near \"{key.upper()}\": "
                                           "ORDER BY, LIMIT and OFFSET of an operand of "
                                           "UNION / INTERSECT / EXCEPT need parentheses",
                                           sqlstate=SYNTAX, position=binder.position(
                                               node.args[key]))
        return self.bind_query(node, parent)

    def _set_operation(self, node, parent: Scope | None) -> SetOperation:
        op = _SET_OPS[type(node)]
        binder = self.expr_binder(Scope([], parent))
        for key, value in node.args.items():
            if key not in _SET_OP_ALLOWED and value not in (None, False, []):
                raise not_supported(f"{op.upper()} with {key.upper().rstrip('_')}",
                                    binder.position(node))
        left = self._operand(node.this, parent, binder)
        right = self._operand(node.expression, parent, binder)
        what = op.upper()
        if len(left.names) != len(right.names):
            raise ProgrammingError(f"each {what} query must have the same number of columns",
                                   sqlstate=SYNTAX, position=binder.position(node.expression))
        types = []
        for a, b in zip(left.types, right.types):
            try:
                types.append(common_type([a, b]))
            except ValueError:
                raise ProgrammingError(f"{what} types {type_name(a)} and {type_name(b)} "
                                       "cannot be matched", sqlstate=DATATYPE_MISMATCH,
                                       position=binder.position(node.expression)) from None
        nullables = [a or b for a, b in zip(left.nullables, right.nullables)]
        result = SetOperation(op, not node.args.get("distinct"), left, right,
                              list(left.names), types, nullables)
        self._set_order_by(node, binder, result)
        result.limit = self.count(node.args.get("limit"), "LIMIT", binder)
        result.offset = self.count(node.args.get("offset"), "OFFSET", binder)
        return result

    def _set_order_by(self, node, binder, result: SetOperation | QueryBlock) -> None:
        order = node.args.get("order")
        if order is None:
            return
        for item in order.expressions:
            position = binder.position(item)
            target = item.this
            descending = bool(item.args.get("desc"))
            nulls_first = item.args.get("nulls_first")
            nulls_first = descending if nulls_first is None else bool(nulls_first)
            if isinstance(target, exp.Literal) and not target.is_string and \
                    target.this.isdigit():
                index = int(target.this)
                if not 1 <= index <= len(result.names):
                    raise ProgrammingError(f"ORDER BY position {index} is not in select list",
                                           sqlstate=INVALID_COLUMN_REFERENCE,
                                           position=position)
                result.order_by.append(OrderItem(None, index - 1, descending, nulls_first))
                continue
            if isinstance(target, exp.Column) and isinstance(target.this, exp.Identifier) \
                    and not target.args.get("table"):
                name = identifier(target.this)
                if name not in result.names:
                    raise ProgrammingError(f'column "{name}" does not exist',
                                           sqlstate=UNDEFINED_COLUMN, position=position)
                if result.names.count(name) > 1:
                    raise ProgrammingError(f'ORDER BY "{name}" is ambiguous',
                                           sqlstate="42702", position=position)
                result.order_by.append(OrderItem(None, result.names.index(name), descending,
                                                 nulls_first))
                continue
            raise not_supported("an expression in the ORDER BY of UNION / INTERSECT / EXCEPT "
                                "(only result column names or positions)", position)

    def count(self, node, what: str, binder) -> object:
        """A LIMIT or OFFSET value: an integer expression reading no column."""
        if node is None:
            return None
        for key in ("offset", "limit_options", "expressions"):
            if node.args.get(key) not in (None, False, []):
                raise not_supported(f"this form of {what}", binder.position(node))
        value_node = node.args.get("expression")
        empty = ExprBinder(Scope([]), self.params, self.parsed)
        try:
            expr = empty.bind(value_node, clause=what)
        except ProgrammingError as error:
            if error.sqlstate in ("42703", "42P01"):
                raise ProgrammingError(f"argument of {what} must not contain variables",
                                       sqlstate="42P10", position=error.position) from None
            raise
        if is_untyped(expr):
            expr = convert_untyped(expr, SqlType.INTEGER, binder.position(node))
        if expr.type is SqlType.REAL:
            expr = Cast(expr, SqlType.INTEGER)
        if expr.type not in (SqlType.INTEGER, None):
            raise ProgrammingError(f"argument of {what} must be type bigint, not type "
                                   f"{type_name(expr.type)}", sqlstate="42804",
                                   position=binder.position(node))
        return expr

    # -- views -------------------------------------------------------------------------------
    def view_query(self, name: str, position: int | None) -> Query:
        """The bound SELECT of view ``name`` (a fresh binding, with its own relation ids)."""
        view = self.catalog.views[name]
        if name in self._views or len(self._views) >= MAX_VIEW_DEPTH:
            raise ProgrammingError(f'infinite recursion detected in rules for relation "{name}"',
                                   sqlstate="42P17", position=position)
        parsed = _parse_view(view.sql)
        inner = type(self)(self.catalog, [], parsed, ids=self._ids,
                           views=self._views + (name,))
        try:
            return inner.bind_query(parsed.tree)
        except ProgrammingError as error:
            # The view's text is not the statement's: point at the view's name instead.
            error.position = position
            raise

    # -- subqueries as values ----------------------------------------------------------------
    def value_subquery(self, node, kind: str, binder, operand=None, op: str = "=",
                       position: int | None = None):
        """A ``Subquery`` expression for ``node`` (a Select, set operation or Subquery)
        read in ``binder``'s scope: ``kind`` scalar, exists, in, any or all."""
        self.subqueries_made += 1
        query = self.bind_query(node, binder.scope)
        _check_outer_aggregates(query, position)
        width = len(query.names)
        if kind != "exists" and width != 1:
            raise ProgrammingError("subquery must return only one column" if kind == "scalar"
                                   else "subquery has too many columns", sqlstate=SYNTAX,
                                   position=position)
        args = tuple(outer_references(query))
        if kind == "exists":
            return Subquery("exists", query, args, SqlType.BOOLEAN, False)
        if kind == "scalar":
            return Subquery("scalar", query, args, query.types[0], True)
        column = _OutputColumn(query.types[0], query.nullables[0])
        left, right = unify_comparison(op, operand, column, position)
        if right is not column:
            if not isinstance(query, QueryBlock) or not isinstance(right, Cast):
                raise not_supported("this comparison with a subquery", position)
            query.select[0] = Cast(query.select[0], right.type)
        return Subquery(kind, query, args, SqlType.BOOLEAN, True, left, op)


class _OutputColumn:
    """Stands for a subquery's output column while comparison types are unified."""

    untyped = False

    def __init__(self, sql_type, nullable: bool) -> None:
        self.type = sql_type
        self.nullable = nullable


def _check_outer_aggregates(query: Query, position: int | None) -> None:
    """An aggregate whose argument reads only outer columns belongs to the outer query in
    PostgreSQL; running it inside the subquery would give another answer."""
    if isinstance(query, SetOperation):
        _check_outer_aggregates(query.left, position)
        _check_outer_aggregates(query.right, position)
        return
    local = {relation.rel_id for relation in query.relations}
    for expr in block_expressions(query):
        for node in walk(expr):
            if isinstance(node, AggCall) and node.arg is not None:
                rels = relations_of(node.arg)
                if rels and not rels & local:
                    raise not_supported("an aggregate of an outer query's columns inside a "
                                        "subquery", position)
