"""Binding of SELECT: FROM (tables, views, subqueries, joins), WHERE, GROUP BY, HAVING, the
select list, ORDER BY, LIMIT/OFFSET, DISTINCT -> a ``QueryBlock``.

Clauses sqlglot can represent but this engine does not run are rejected by name (the
``_ALLOWED`` check), so nothing is silently dropped. ``SelectBinder`` is the binder of a whole
statement's queries: set operations, views and subqueries are in ``_bind_query``.
"""

from __future__ import annotations

from sqlglot import exp

from aurora_lite.catalog import Catalog
from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import AggCall, Const, relations_of, walk
from aurora_lite.frontend._bind_expr import ExprBinder, identifier
from aurora_lite.frontend._bind_query import QueryBinder
from aurora_lite.frontend._errors import (
    INVALID_COLUMN_REFERENCE, SYNTAX, UNDEFINED_TABLE, not_supported,
)
from aurora_lite.frontend._pg_names import is_pg_function
from aurora_lite.frontend._logical import FromItem, FromJoin, FromTable, OrderItem, QueryBlock
from aurora_lite.frontend._scope import Relation, Scope
from aurora_lite.frontend._typing import convert_untyped, is_untyped
from aurora_lite.values import SqlType

_ALLOWED = {"expressions", "from_", "joins", "where", "group", "having", "order", "limit",
            "offset", "distinct"}
_CLAUSE_NAMES = {"with_": "WITH", "into": "SELECT INTO", "laterals": "LATERAL",
                 "windows": "WINDOW", "qualify": "QUALIFY", "locks": "FOR UPDATE/SHARE",
                 "sample": "TABLESAMPLE", "kind": "SELECT AS STRUCT", "hint": "hints",
                 "connect": "CONNECT BY", "prewhere": "PREWHERE", "pivots": "PIVOT",
                 "conflict": "INSERT ... ON CONFLICT", "returning": "RETURNING",
                 "using": "DELETE ... USING", "overwrite": "INSERT OVERWRITE"}


def _present(value) -> bool:
    return value is not None and value is not False and value != []


def check_clauses(node, allowed: set[str], binder: ExprBinder) -> None:
    for key, value in node.args.items():
        if key not in allowed and _present(value):
            name = _CLAUSE_NAMES.get(key, key.rstrip("_").upper())
            if key == "from_" and isinstance(node, exp.Update):
                name = "UPDATE ... FROM"
            raise not_supported(name, binder.position(value) if hasattr(value, "walk")
                                else None)


def relation_name(node: exp.Table, binder: ExprBinder, *, joins_read: bool = False) -> str:
    """The name a FROM-clause table reference names (``public.t`` accepted, other schemas
    are not)."""
    position = binder.position(node)
    if not joins_read and _present(node.args.get("joins")):
        raise not_supported("a join here", position)
    for key in ("laterals", "pivots", "hints", "system_time", "version", "sample",
                "partition", "changes", "rows_from", "ordinality", "indexed"):
        if _present(node.args.get(key)):
            raise not_supported(f"{_CLAUSE_NAMES.get(key, key.upper())} on a table reference",
                                position)
    if node.args.get("catalog"):
        raise not_supported("a catalog-qualified table name", position)
    schema = node.args.get("db")
    if schema is not None and identifier(schema) not in ("public",):
        raise ProgrammingError(f'schema "{identifier(schema)}" does not exist',
                               sqlstate="3F000", position=position)
    if not isinstance(node.this, exp.Identifier):
        call = binder.call_name(node.this) or binder._generated_call(node.this)
        name = node.this.name.lower() if isinstance(node.this, exp.Anonymous) else \
            call[0] if call else None
        if name and not is_pg_function(name):
            raise ProgrammingError(f"function {name} does not exist", sqlstate="42883",
                                   position=position)
        raise not_supported(f"the table function {name}" if name else "a table function",
                            position)
    return identifier(node.this)


def table_alias(node, default: str) -> tuple[str, tuple[str, ...] | None]:
    """(alias, column aliases) of a FROM item."""
    alias_node = node.args.get("alias")
    if alias_node is None:
        return default, None
    columns = alias_node.args.get("columns")
    names = tuple(identifier(column) for column in columns) if columns else None
    return identifier(alias_node.this) if alias_node.this is not None else default, names


def _check_alias_columns(names, width: int, alias: str, position) -> None:
    if names and len(names) > width:
        raise ProgrammingError(f'table "{alias}" has {width} columns available but '
                               f"{len(names)} columns specified", sqlstate="42P10",
                               position=position)


def table_relation(node: exp.Table, catalog: Catalog, rel_id: int, binder: ExprBinder,
                   *, joins_read: bool = False) -> Relation:
    """A table named in FROM or as the target of a change (not a view)."""
    position = binder.position(node)
    name = relation_name(node, binder, joins_read=joins_read)
    definition = catalog.tables.get(name)
    if definition is None:
        if name in catalog.views:
            raise not_supported(f'changing the view "{name}" (views are read-only)',
                                position)
        raise ProgrammingError(f'relation "{name}" does not exist', sqlstate=UNDEFINED_TABLE,
                               position=position)
    alias, names = table_alias(node, name)
    _check_alias_columns(names, len(definition.columns), alias, position)
    return Relation(rel_id, definition, alias, names=names)


class SelectBinder(QueryBinder):
    """Binds the queries of one statement against a catalog (``bind_query`` for any query,
    ``bind`` for one SELECT block)."""

    # -- FROM ------------------------------------------------------------------------------------
    def _relation(self, node, binder: ExprBinder, block: QueryBlock, pending: list
                  ) -> FromItem:
        if isinstance(node, exp.Table):
            # Its "joins", if any, are the rest of a parenthesized join: _chain reads them.
            relation = self._named_relation(node, binder)
            self._add_relation(relation, block, binder, node)
            return FromTable(relation)
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Table) and \
                not node.args.get("alias"):
            # A parenthesized join: ( a CROSS JOIN b ), ( a JOIN b ON ... ).
            inner = node.this
            items = self._chain(inner, inner.args.get("joins") or [], binder, block, pending)
            item = items[0]
            for other in items[1:]:
                item = FromJoin("inner", item, other, None)
            return item
        if isinstance(node, exp.Subquery):
            position = binder.position(node)
            if node.args.get("alias") is None:
                raise ProgrammingError("subquery in FROM must have an alias", sqlstate=SYNTAX,
                                       position=position)
            for key in ("pivots", "joins", "laterals", "sample"):
                if _present(node.args.get(key)):
                    raise not_supported(f"{key.upper()} on a subquery in FROM", position)
            # No LATERAL: the subquery sees enclosing queries, not its FROM siblings.
            query = self.bind_query(node.this, binder.scope.parent)
            alias, names = table_alias(node, "subquery")
            _check_alias_columns(names, len(query.names), alias, position)
            relation = Relation(self.new_rel_id(), None, alias, derived=query, names=names)
            self._add_relation(relation, block, binder, node)
            return FromTable(relation)
        what = {"Unnest": "unnest", "Lateral": "LATERAL", "Values": "VALUES"}.get(
            type(node).__name__, type(node).__name__)
        raise not_supported(f"{what} in FROM", binder.position(node))

    def _named_relation(self, node: exp.Table, binder: ExprBinder) -> Relation:
        name = relation_name(node, binder, joins_read=True)
        if name in self.catalog.views and name not in self.catalog.tables:
            position = binder.position(node)
            query = self.view_query(name, position)
            alias, names = table_alias(node, name)
            view = self.catalog.views[name]
            if view.columns:
                names = tuple(names or ()) + view.columns[len(names or ()):]
            _check_alias_columns(names, len(query.names), alias, position)
            return Relation(self.new_rel_id(), None, alias, derived=query, names=names)
        return table_relation(node, self.catalog, self.new_rel_id(), binder, joins_read=True)

    def _add_relation(self, relation: Relation, block: QueryBlock, binder: ExprBinder,
                      node) -> None:
        for other in block.relations:
            if other.alias == relation.alias:
                raise ProgrammingError(f'table name "{relation.alias}" specified more '
                                       "than once", sqlstate="42712",
                                       position=binder.position(node))
        block.relations.append(relation)

    def _chain(self, first, joins: list, binder: ExprBinder, block: QueryBlock,
               pending: list) -> list[FromItem]:
        """FROM items of ``first`` followed by ``joins``: explicit JOINs bind to the item
        before them, a comma starts a new item (PostgreSQL's precedence)."""
        items = [self._relation(first, binder, block, pending)]
        for join in joins:
            position = binder.position(join)
            side = (join.args.get("side") or "").upper()
            kind = (join.args.get("kind") or "").upper()
            method = (join.args.get("method") or "").upper()
            if "NATURAL" in (kind, method):
                raise not_supported("NATURAL JOIN", position)
            if _present(join.args.get("using")):
                raise not_supported("JOIN ... USING", position)
            for key in ("method", "global_", "hint", "match_condition", "expressions",
                        "pivots", "nearest", "directed"):
                if _present(join.args.get(key)):
                    raise not_supported(f"JOIN ... {key.upper().rstrip('_')}", position)
            if side in ("RIGHT", "FULL"):
                raise not_supported(f"{side} JOIN", position)
            if kind in ("SEMI", "ANTI", "ASOF", "STRAIGHT_JOIN", "APPLY") or \
                    kind == "OUTER" and side != "LEFT":
                raise not_supported(f"{kind} JOIN", position)
            right = self._relation(join.this, binder, block, pending)
            condition = join.args.get("on")
            if side == "LEFT":
                if condition is None:
                    raise ProgrammingError('syntax error at or near "LEFT"', sqlstate="42601",
                                           position=position)
                joined = FromJoin("left", items[-1], right, None)
                for relation in _relations_in(right):
                    relation.nullable = True
                items[-1] = joined
                pending.append((joined, condition))
            elif condition is not None or kind in ("CROSS", "INNER"):
                joined = FromJoin("inner", items[-1], right, None)
                items[-1] = joined
                if condition is not None:
                    pending.append((joined, condition))
            else:
                items.append(right)       # a comma: a new FROM item
        return items

    def _from(self, select: exp.Select, binder: ExprBinder, block: QueryBlock) -> None:
        source = select.args.get("from_")
        if source is None:
            if select.args.get("joins"):
                raise not_supported("JOIN without FROM")
            return
        pending = []             # (join item, ON node), bound once every name is known
        block.from_items = self._chain(source.this, select.args.get("joins") or [], binder,
                                       block, pending)
        local = {relation.rel_id for relation in block.relations}
        for joined, condition in pending:
            expr = binder.bind_condition(condition, "JOIN/ON")
            allowed = {relation.rel_id for relation in _relations_in(joined)}
            outside = (relations_of(expr) - allowed) & local
            if outside:
                bad = next(r for r in block.relations if r.rel_id in outside)
                raise ProgrammingError(f'invalid reference to FROM-clause entry for table '
                                       f'"{bad.alias}"', sqlstate=UNDEFINED_TABLE,
                                       position=binder.position(condition))
            joined.condition = expr

    # -- the block -------------------------------------------------------------------------------
    def bind(self, select: exp.Select, parent: Scope | None = None) -> QueryBlock:
        made = self.subqueries_made
        block = QueryBlock()
        scope = Scope(block.relations, parent)
        binder = self.expr_binder(scope)
        check_clauses(select, _ALLOWED, binder)
        distinct = select.args.get("distinct")
        if distinct is not None:
            if distinct.args.get("on") is not None:
                raise not_supported("DISTINCT ON", binder.position(distinct))
            block.distinct = True
        self._from(select, binder, block)
        where = select.args.get("where")
        if where is not None:
            block.where = binder.bind_condition(where.this, "WHERE")
        self._select_list(select, binder, block)
        self._group_by(select, binder, block)
        having = select.args.get("having")
        if having is not None:
            block.having = binder.bind_condition(having.this, "HAVING", aggregates=True)
        self._order_by(select, binder, block)
        block.aggregated = bool(block.group_by) or having is not None or any(
            isinstance(node, AggCall) for expr in block.select for node in walk(expr)) or any(
            isinstance(node, AggCall)
            for item in block.order_by if item.expr is not None for node in walk(item.expr))
        block.limit = self.count(select.args.get("limit"), "LIMIT", binder)
        block.offset = self.count(select.args.get("offset"), "OFFSET", binder)
        block.has_subqueries = self.subqueries_made != made
        return block

    def _select_list(self, select: exp.Select, binder: ExprBinder, block: QueryBlock) -> None:
        for node in select.expressions:
            target, alias = node, None
            if isinstance(node, exp.Alias):
                target, alias = node.this, identifier(node.args["alias"])
            if isinstance(target, exp.Star):
                for column in binder.scope.star(None, binder.position(node)):
                    block.select.append(column)
                    block.names.append(column.name.split(".", 1)[1])
                continue
            if isinstance(target, exp.Column) and isinstance(target.this, exp.Star):
                qualifier = identifier(target.args["table"])
                for column in binder.scope.star(qualifier, binder.position(node)):
                    block.select.append(column)
                    block.names.append(column.name.split(".", 1)[1])
                continue
            expr = binder.bind(target, clause="SELECT", aggregates=True)
            if is_untyped(expr):
                expr = convert_untyped(expr, SqlType.TEXT)
                if isinstance(expr, Const):
                    expr = Const(expr.value, SqlType.TEXT)
            block.select.append(expr)
            block.names.append(alias if alias is not None else output_name(target))

    def _output_reference(self, node, block: QueryBlock, prefer_output: bool,
                          binder: ExprBinder) -> int | None:
        """The select-list position a GROUP BY / ORDER BY item names, if it names one."""
        if isinstance(node, exp.Literal) and not node.is_string:
            if not node.this.isdigit():
                return None
            index = int(node.this)
            if not 1 <= index <= len(block.select):
                raise ProgrammingError(f"position {index} is not in select list",
                                       sqlstate=INVALID_COLUMN_REFERENCE,
                                       position=binder.position(node))
            return index - 1
        if isinstance(node, exp.Column) and not node.args.get("table") and \
                isinstance(node.this, exp.Identifier):
            name = identifier(node.this)
            if name in block.names and (prefer_output or not binder.scope.has_column(name)):
                return block.names.index(name)
        return None

    def _group_by(self, select: exp.Select, binder: ExprBinder, block: QueryBlock) -> None:
        group = select.args.get("group")
        if group is None:
            return
        for key in ("grouping_sets", "cube", "rollup", "totals", "all"):
            if _present(group.args.get(key)):
                raise not_supported(f"GROUP BY {key.upper()}", binder.position(group))
        for node in group.expressions:
            index = self._output_reference(node, block, False, binder)
            if index is not None:
                expr = block.select[index]
                if any(isinstance(n, AggCall) for n in walk(expr)):
                    raise ProgrammingError("aggregate functions are not allowed in GROUP BY",
                                           sqlstate="42803", position=binder.position(node))
            else:
                expr = binder.bind(node, clause="GROUP BY")
            if expr not in block.group_by:
                block.group_by.append(expr)

    def _order_by(self, select: exp.Select, binder: ExprBinder, block: QueryBlock) -> None:
        order = select.args.get("order")
        if order is None:
            return
        for node in order.expressions:
            if node.args.get("with_fill"):
                raise not_supported("WITH FILL", binder.position(node))
            descending = bool(node.args.get("desc"))
            nulls_first = node.args.get("nulls_first")
            nulls_first = descending if nulls_first is None else bool(nulls_first)
            index = self._output_reference(node.this, block, True, binder)
            if index is not None:
                block.order_by.append(OrderItem(None, index, descending, nulls_first))
                continue
            expr = binder.bind(node.this, clause="ORDER BY", aggregates=True)
            if block.distinct:
                if expr not in block.select:
                    raise ProgrammingError("for SELECT DISTINCT, ORDER BY expressions must "
                                           "appear in select list",
                                           sqlstate=INVALID_COLUMN_REFERENCE,
                                           position=binder.position(node))
                block.order_by.append(OrderItem(None, block.select.index(expr), descending,
                                                nulls_first))
                continue
            block.order_by.append(OrderItem(expr, None, descending, nulls_first))


def _relations_in(item: FromItem) -> list[Relation]:
    if isinstance(item, FromTable):
        return [item.relation]
    return _relations_in(item.left) + _relations_in(item.right)


def output_name(node) -> str:
    """The column name PostgreSQL gives a select-list expression without an alias."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return identifier(node.this)
    if isinstance(node, exp.Cast):
        inner = node.this
        if isinstance(inner, (exp.Column, exp.Cast)) or isinstance(inner, exp.Func) and \
                not isinstance(inner, exp.Cast):
            return output_name(inner)
        return node.args["to"].sql(dialect="postgres").lower().split("(")[0]
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, (exp.CurrentTimestamp,)):
        return "now" if not node.args else "current_timestamp"
    if isinstance(node, exp.Count):
        return "count"
    if isinstance(node, exp.StrPosition):
        return "strpos"
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return "?column?"

