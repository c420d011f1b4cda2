"""Binding and planning of INSERT, UPDATE and DELETE.

INSERT builds complete table rows: listed columns from the VALUES row or the SELECT output
(assignment-converted to the column type), the others from their DEFAULT expression or NULL,
evaluated for every row. UPDATE and DELETE read their targets through a scan with locators
(chosen like a SELECT's access path) and change them only after all are found.
"""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

from aurora_lite.catalog import Catalog, ColumnDef, TableDef
from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import (
    Const, Delete, Expr, Field, Insert, NextSerial, OutputColumn, PlanNode, Update, Values,
)
from aurora_lite.frontend._bind_expr import ExprBinder, identifier
from aurora_lite.frontend._bind_select import SelectBinder, check_clauses, table_relation
from aurora_lite.frontend._errors import DUPLICATE_COLUMN, SYNTAX, UNDEFINED_COLUMN, not_supported
from aurora_lite.frontend._parse import Parsed
from aurora_lite.frontend._planner import Planner, resolver
from aurora_lite.frontend._scope import Scope
from aurora_lite.frontend._typing import assignment
from aurora_lite.values import SqlType


@functools.lru_cache(maxsize=512)
def _default(default_sql: str | None, column: ColumnDef) -> Expr:
    if default_sql is None:
        return Const(None, column.type)
    tree = sqlglot.parse_one(default_sql, read="postgres")
    parsed = Parsed(default_sql, "default", tree)
    expr = ExprBinder(Scope([]), [], parsed).bind(tree, clause="DEFAULT")
    return assignment(expr, column.type, column.name, None)


def default_expr(column: ColumnDef) -> Expr:
    """The DEFAULT of ``column`` as an expression (NULL without one; for a SERIAL column a
    marker the executor replaces by the counter's next value)."""
    if column.serial:
        return Const(NextSerial(column.name), SqlType.INTEGER)
    return _default(column.default_sql, column)


def _serials(table: TableDef) -> tuple[tuple[int, str], ...]:
    return tuple((index, column.name) for index, column in enumerate(table.columns)
                 if column.serial)


def is_default(node) -> bool:
    """The DEFAULT keyword in VALUES or SET (sqlglot reads it as a Var or a bare column)."""
    if isinstance(node, exp.Var):
        return node.name.upper() == "DEFAULT"
    return isinstance(node, exp.Column) and not node.args.get("table") and \
        isinstance(node.this, exp.Identifier) and not node.this.quoted and \
        node.this.this.upper() == "DEFAULT"


def _target(node, catalog: Catalog, binder: ExprBinder):
    table_node = node.this
    if isinstance(table_node, exp.Schema):
        columns_nodes = table_node.expressions
        table_node = table_node.this
    else:
        columns_nodes = None
    if not isinstance(table_node, exp.Table):
        raise not_supported("this target", binder.position(node))
    return table_node, columns_nodes


def bind_insert(node: exp.Insert, catalog: Catalog, params: list, parsed,
                planner: Planner) -> PlanNode:
    binder = ExprBinder(Scope([]), params, parsed)
    check_clauses(node, {"this", "expression", "default"}, binder)
    table_node, column_nodes = _target(node, catalog, binder)
    relation = table_relation(table_node, catalog, 0, binder)
    table = relation.table
    if column_nodes is None:
        targets = list(range(len(table.columns)))
    else:
        targets = []
        for column_node in column_nodes:
            name = identifier(column_node)
            try:
                index = table.column_index(name)
            except KeyError:
                raise ProgrammingError(f'column "{name}" of relation "{table.name}" does not '
                                       "exist", sqlstate=UNDEFINED_COLUMN,
                                       position=binder.position(column_node)) from None
            if index in targets:
                raise ProgrammingError(f'column "{name}" specified more than once',
                                       sqlstate=DUPLICATE_COLUMN,
                                       position=binder.position(column_node))
            targets.append(index)
    source = node.args.get("expression")
    if node.args.get("default") or source is None:
        if source is not None:
            raise ProgrammingError("syntax error at or near \"DEFAULT\"", sqlstate=SYNTAX)
        rows = (tuple(default_expr(c) for c in table.columns),)
        return Insert(table.name, Values(rows, _output(table)), None, serial=_serials(table))
    if isinstance(source, exp.Values):
        binder.queries = SelectBinder(catalog, params, parsed)
        return Insert(table.name, _values(source, table, targets, binder, planner), None,
                      serial=_serials(table))
    if isinstance(source, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)):
        return _insert_select(source, table, targets, catalog, params, parsed, planner, binder)
    raise not_supported(f"INSERT from {type(source).__name__}", binder.position(source))


def _arity_error(values: int, targets: int, position: int | None) -> ProgrammingError:
    if values > targets:
        return ProgrammingError("INSERT has more expressions than target columns",
                                sqlstate=SYNTAX, position=position)
    return ProgrammingError("INSERT has more target columns than expressions",
                            sqlstate=SYNTAX, position=position)


def _output(table: TableDef) -> tuple[OutputColumn, ...]:
    return tuple(OutputColumn(c.name, c.type, True) for c in table.columns)


def _values(source: exp.Values, table: TableDef, targets: list[int],
            binder: ExprBinder, planner: Planner) -> Values:
    if source.args.get("alias") is not None:
        raise not_supported("an alias on VALUES", binder.position(source))
    rows = []
    for row_node in source.expressions:
        cells = row_node.expressions if isinstance(row_node, exp.Tuple) else [row_node]
        if len(cells) != len(targets):
            raise _arity_error(len(cells), len(targets), binder.position(row_node))
        values = {}
        for cell, index in zip(cells, targets):
            column = table.columns[index]
            if is_default(cell):
                values[index] = default_expr(column)
                continue
            expr = planner.prepare_expr(binder.bind(cell, clause="VALUES"))
            values[index] = assignment(expr, column.type, column.name, binder.position(cell))
        rows.append(tuple(values[i] if i in values else default_expr(column)
                          for i, column in enumerate(table.columns)))
    return Values(tuple(rows), _output(table))


def _insert_select(source, table: TableDef, targets: list[int], catalog: Catalog,
                   params: list, parsed, planner: Planner, binder: ExprBinder) -> PlanNode:
    query = SelectBinder(catalog, params, parsed).bind_query(source)
    if len(query.names) != len(targets):
        raise _arity_error(len(query.names), len(targets), None)
    plan = planner.plan_query(query)
    by_target = {}
    for position, (index, column_output) in enumerate(zip(targets, plan.output)):
        column = table.columns[index]
        field = Field(position, column_output.type, column_output.nullable,
                      column_output.name)
        by_target[index] = assignment(field, column.type, column.name, None)
    row = tuple(by_target[i] if i in by_target else default_expr(column)
                for i, column in enumerate(table.columns))
    return Insert(table.name, plan, row, serial=_serials(table))


def bind_update(node: exp.Update, catalog: Catalog, params: list, parsed,
                planner: Planner) -> PlanNode:
    binder = ExprBinder(Scope([]), params, parsed)
    check_clauses(node, {"this", "expressions", "where"}, binder)
    if not isinstance(node.this, exp.Table):
        raise not_supported("this UPDATE target", binder.position(node))
    queries = SelectBinder(catalog, params, parsed)
    relation = table_relation(node.this, catalog, queries.new_rel_id(), binder)
    table = relation.table
    binder.scope = Scope([relation])
    binder.queries = queries
    assigned: dict[int, Expr] = {}
    for item in node.expressions:
        if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
            raise not_supported("this SET form", binder.position(item))
        column_node = item.this
        if column_node.args.get("table") is not None:
            qualifier = identifier(column_node.args["table"])
            if qualifier != relation.alias:
                raise ProgrammingError(f'column "{qualifier}" of relation "{table.name}" does '
                                       "not exist", sqlstate=UNDEFINED_COLUMN,
                                       position=binder.position(column_node))
        name = identifier(column_node.this)
        try:
            index = table.column_index(name)
        except KeyError:
            raise ProgrammingError(f'column "{name}" of relation "{table.name}" does not '
                                   "exist", sqlstate=UNDEFINED_COLUMN,
                                   position=binder.position(column_node)) from None
        if index in assigned:
            raise ProgrammingError(f'multiple assignments to same column "{name}"',
                                   sqlstate=SYNTAX, position=binder.position(column_node))
        column = table.columns[index]
        value_node = item.expression
        if is_default(value_node):
            assigned[index] = default_expr(column)
            continue
        expr = planner.prepare_expr(binder.bind(value_node, clause="UPDATE"))
        assigned[index] = assignment(expr, column.type, column.name,
                                     binder.position(value_node))
    where = node.args.get("where")
    condition = binder.bind_condition(where.this, "WHERE") if where is not None else None
    source = planner.plan_target_scan(relation, planner.prepare_expr(condition))
    positions = {(relation.rel_id, i): i for i in range(len(table.columns))}
    resolve = resolver(positions)
    row = tuple(resolve(assigned[i]) if i in assigned else
                Field(i, column.type, True, column.name)
                for i, column in enumerate(table.columns))
    names = tuple((i, table.columns[i].name) for i in sorted(assigned))
    serial = tuple((i, name) for i, name in _serials(table) if i in assigned)
    return Update(table.name, source, row, names, serial=serial)


def bind_delete(node: exp.Delete, catalog: Catalog, params: list, parsed,
                planner: Planner) -> PlanNode:
    binder = ExprBinder(Scope([]), params, parsed)
    check_clauses(node, {"this", "where"}, binder)
    if not isinstance(node.this, exp.Table):
        raise not_supported("this DELETE target", binder.position(node))
    queries = SelectBinder(catalog, params, parsed)
    relation = table_relation(node.this, catalog, queries.new_rel_id(), binder)
    binder.scope = Scope([relation])
    binder.queries = queries
    where = node.args.get("where")
    condition = binder.bind_condition(where.this, "WHERE") if where is not None else None
    return Delete(relation.table.name,
                  planner.plan_target_scan(relation, planner.prepare_expr(condition)))
