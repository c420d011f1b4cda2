"""Binding of schema statements: CREATE/DROP TABLE, INDEX and VIEW -> DDL plan nodes.

Column types go through ``values.parse_type_name``; constraints are PRIMARY KEY (column or
table, several columns), NOT NULL, UNIQUE (column or table) and DEFAULT (a constant or an
expression, stored as SQL text and evaluated for every inserted row). SERIAL / BIGSERIAL /
SMALLSERIAL make a NOT NULL integer column whose default is the next value of its own
counter (``ColumnDef.serial``; see ``catalog._store`` for how the counter is kept). Anything else sqlglot
parses (CHECK, REFERENCES, GENERATED, ...) is NotSupportedError naming it.

CREATE VIEW binds its SELECT at once (so a view over a missing table or column fails now, as
in PostgreSQL) and stores the SELECT's text as written; reading the view binds it again.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from aurora_lite.catalog import Catalog, ColumnDef, ViewDef
from aurora_lite.errors import InternalError, ProgrammingError
from aurora_lite.exec import (
    CreateIndex, CreateTable, CreateView, DropIndex, DropTable, DropView, Param, PlanNode, walk,
)
from aurora_lite.frontend._bind_expr import ExprBinder, identifier, sql_type_of
from aurora_lite.frontend._bind_select import SelectBinder
from aurora_lite.frontend._errors import (
    DEPENDENT_OBJECTS, DUPLICATE_COLUMN, SYNTAX, not_supported,
)
from aurora_lite.frontend._parse import tokenize
from aurora_lite.frontend._scope import Scope
from aurora_lite.frontend._typing import assignment
from aurora_lite.values import SqlType

SERIAL_TYPES = {"SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8"}

_CONSTRAINT_NAMES = {
    "CheckColumnConstraint": "CHECK constraints", "Reference": "REFERENCES (foreign keys)",
    "ForeignKey": "FOREIGN KEY constraints", "GeneratedAsIdentityColumnConstraint":
    "identity columns", "GeneratedAsRowColumnConstraint": "generated columns",
    "CollateColumnConstraint": "COLLATE", "ComputedColumnConstraint": "generated columns",
    "AutoIncrementColumnConstraint": "AUTO_INCREMENT", "CommentColumnConstraint": "COMMENT",
}


def _name(node, binder: ExprBinder) -> str:
    if isinstance(node, exp.Table):
        if node.args.get("catalog") or (node.args.get("db") and
                                        identifier(node.args["db"]) != "public"):
            raise not_supported("schema-qualified names", binder.position(node))
        return identifier(node.this)
    return identifier(node)


def _unsupported_constraint(kind, binder: ExprBinder):
    name = type(kind).__name__
    what = _CONSTRAINT_NAMES.get(name, name.replace("ColumnConstraint", "").upper() or name)
    return not_supported(what, binder.position(kind))


def bind_create(node: exp.Create, catalog: Catalog, params: list, parsed) -> PlanNode:
    binder = ExprBinder(Scope([]), params, parsed)
    kind = (node.args.get("kind") or "").upper()
    for key in ("replace", "refresh", "properties", "indexes", "no_schema_binding", "begin",
                "clone", "concurrently", "clustered", "with_"):
        value = node.args.get(key)
        if value not in (None, False, []):
            raise not_supported(f"CREATE {kind} with {key.upper().rstrip('_')}",
                                binder.position(value) if hasattr(value, "walk") else None)
    if kind == "TABLE":
        return _create_table(node, binder)
    if kind == "INDEX":
        return _create_index(node, binder)
    if kind == "VIEW":
        return _create_view(node, catalog, params, parsed, binder)
    raise not_supported(f"CREATE {kind}")


def _view_text(parsed) -> str:
    """The SELECT of ``CREATE VIEW name [(columns)] AS select``, as the user wrote it."""
    sql = parsed.sql[parsed.base:]
    depth = 0
    for token in tokenize(sql):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif token.token_type == TokenType.ALIAS and depth == 0:
            return sql[token.end + 1:].strip().rstrip(";").strip()
    raise ProgrammingError("syntax error: CREATE VIEW needs AS", sqlstate=SYNTAX)


def _create_view(node: exp.Create, catalog: Catalog, params: list, parsed,
                 binder: ExprBinder) -> PlanNode:
    if parsed.param_count:
        raise ProgrammingError("there is no parameter $1 in a view definition",
                               sqlstate="42P02")
    target = node.this
    columns = None
    if isinstance(target, exp.Schema):
        columns = tuple(identifier(column) for column in target.expressions)
        target = target.this
    name = _name(target, binder)
    if name in catalog.tables or name in catalog.views or name in catalog.indexes:
        raise ProgrammingError(f'relation "{name}" already exists', sqlstate="42P07",
                               position=binder.position(target))
    query = SelectBinder(catalog, params, parsed).bind_query(node.args["expression"])
    names = list(query.names)
    if columns:
        if len(columns) > len(names):
            raise ProgrammingError("CREATE VIEW specifies more column names than columns",
                                   sqlstate=SYNTAX)
        names[:len(columns)] = columns
    for index, column_name in enumerate(names):
        if column_name in names[:index]:
            raise ProgrammingError(f'column "{column_name}" specified more than once',
                                   sqlstate=DUPLICATE_COLUMN)
    return CreateView(name, _view_text(parsed), columns,
                      _relations_read(node.args["expression"], catalog))


def _relations_read(query, catalog: Catalog) -> tuple[str, ...]:
    """The tables and views a view's SELECT names, anywhere in it (subqueries included)."""
    names = set()
    for table in query.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier):
            name = identifier(table.this)
            if name in catalog.tables or name in catalog.views:
                names.add(name)
    return tuple(sorted(names))


def view_dependencies(view: ViewDef, catalog: Catalog) -> tuple[str, ...]:
    """What ``view`` reads: as recorded, or read from its SQL for a view stored before
    dependencies were recorded."""
    if view.depends_on is not None:
        return view.depends_on
    try:
        tree = sqlglot.parse_one(view.sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return ()
    return _relations_read(tree, catalog)


def _dependents(name: str, catalog: Catalog, dropping: tuple[str, ...]) -> list[str]:
    return sorted(view.name for view in catalog.views.values()
                  if view.name not in dropping and name in view_dependencies(view, catalog))


def _refuse_if_depended_on(kind: str, names: tuple[str, ...], catalog: Catalog,
                           dropping: tuple[str, ...]) -> None:
    """PostgreSQL's 2BP01: a table or view that a view reads cannot be dropped (CASCADE,
    which would drop the view too, is not supported). Views dropped by the same statement
    do not count."""
    for name in names:
        exists = name in (catalog.tables if kind == "table" else catalog.views)
        if not exists:
            continue
        dependents = _dependents(name, catalog, dropping)
        if dependents:
            error = InternalError(
                f"cannot drop {kind} {name} because other objects depend on it: "
                + ", ".join(f"view {view}" for view in dependents),
                sqlstate=DEPENDENT_OBJECTS)
            error.detail = "\n".join(f"view {view} depends on {kind} {name}"
                                      for view in dependents)
            error.hint = "Drop the dependent views first (DROP ... CASCADE is not supported)."
            raise error


def _dependents_first(names: tuple[str, ...], catalog: Catalog) -> tuple[str, ...]:
    """``names`` (views) ordered so that a view comes before the views it reads."""
    remaining = list(dict.fromkeys(names))
    ordered = []
    while remaining:
        for name in remaining:
            if not any(name in view_dependencies(catalog.views[other], catalog)
                       for other in remaining if other != name and other in catalog.views):
                break
        else:
            name = remaining[0]                 # a cycle cannot be built; never loop forever
        ordered.append(name)
        remaining.remove(name)
    return tuple(ordered)


def _create_table(node: exp.Create, binder: ExprBinder) -> PlanNode:
    if node.args.get("expression") is not None:
        raise not_supported("CREATE TABLE ... AS", binder.position(node.args["expression"]))
    schema = node.this
    if not isinstance(schema, exp.Schema):
        raise ProgrammingError('syntax error at end of input: a column list is needed',
                               sqlstate=SYNTAX)
    name = _name(schema.this, binder)
    columns: list[dict] = []
    primary_key: tuple[str, ...] | None = None
    unique: list[tuple[str, ...]] = []

    def set_primary_key(names: tuple[str, ...], position) -> None:
        nonlocal primary_key
        if primary_key is not None:
            raise ProgrammingError(f'multiple primary keys for table "{name}" are not allowed',
                                   sqlstate="42P16", position=position)
        primary_key = names

    for item in schema.expressions:
        position = binder.position(item)
        if isinstance(item, exp.ColumnDef):
            columns.append(_column(item, binder, set_primary_key, unique))
        elif isinstance(item, exp.PrimaryKey):
            set_primary_key(tuple(identifier(e if not isinstance(e, exp.Ordered) else e.this)
                                  for e in item.expressions), position)
        elif isinstance(item, exp.UniqueColumnConstraint):
            target = item.this
            if not isinstance(target, exp.Schema):
                raise not_supported("this UNIQUE form", position)
            unique.append(tuple(identifier(e) for e in target.expressions))
        elif isinstance(item, exp.Constraint):
            raise not_supported("named constraints (CONSTRAINT name ...)", position)
        else:
            raise _unsupported_constraint(item, binder)
    names = [column["name"] for column in columns]
    for index, column_name in enumerate(names):
        if column_name in names[:index]:
            raise ProgrammingError(f'column "{column_name}" specified more than once',
                                   sqlstate=DUPLICATE_COLUMN)
    for group in ([primary_key] if primary_key else []) + unique:
        for column_name in group:
            if column_name not in names:
                raise ProgrammingError(f'column "{column_name}" named in key does not exist',
                                       sqlstate="42703")
    primary_key = primary_key or ()
    definitions = tuple(
        ColumnDef(c["name"], c["type"], c["type_name"],
                  not_null=c["not_null"] or c["name"] in primary_key,
                  default_sql=c["default"], max_length=c["limit"], serial=c["serial"])
        for c in columns)
    unique = [group for group in dict.fromkeys(unique) if group != primary_key]
    return CreateTable(name, definitions, primary_key, tuple(unique),
                       bool(node.args.get("exists")))


def _column(item: exp.ColumnDef, binder: ExprBinder, set_primary_key, unique) -> dict:
    name = identifier(item.this)
    position = binder.position(item)
    kind = item.args.get("kind")
    if kind is None:
        raise ProgrammingError(f'column "{name}" needs a type', sqlstate=SYNTAX,
                               position=position)
    declared = kind.sql(dialect="postgres")
    serial = declared.upper() in SERIAL_TYPES
    if serial:
        # PostgreSQL's SERIAL: an integer column, NOT NULL, whose DEFAULT is the next value
        # of a counter of its own (aurora_lite's INTEGER is 64-bit, so all three are one).
        sql_type, limit = SqlType.INTEGER, None
    else:
        sql_type, limit, declared = sql_type_of(kind, position)
    column = {"name": name, "type": sql_type, "type_name": declared, "limit": limit,
              "not_null": serial, "default": None, "serial": serial}
    for constraint in item.args.get("constraints") or []:
        what = constraint.args.get("kind")
        if isinstance(what, exp.PrimaryKeyColumnConstraint):
            if what.args.get("desc"):
                raise not_supported("a DESC primary key", position)
            set_primary_key((name,), position)
        elif isinstance(what, exp.NotNullColumnConstraint):
            if what.args.get("allow_null"):
                if serial:
                    raise ProgrammingError(f'conflicting NULL/NOT NULL declarations for column '
                                           f'"{name}"', sqlstate=SYNTAX, position=position)
                column["not_null"] = False      # an explicit NULL
            else:
                column["not_null"] = True
        elif isinstance(what, exp.UniqueColumnConstraint):
            unique.append((name,))
        elif isinstance(what, exp.DefaultColumnConstraint):
            if serial:
                raise ProgrammingError(f'multiple default values specified for column "{name}"',
                                       sqlstate=SYNTAX, position=position)
            column["default"] = _default_sql(what.this, sql_type, name, binder)
        else:
            raise _unsupported_constraint(what, binder)
    return column


def _default_sql(node, sql_type, column: str, binder: ExprBinder) -> str:
    """Check a DEFAULT expression (no columns, assignable to the column) and keep its text."""
    try:
        expr = binder.bind(node, clause="DEFAULT")
    except ProgrammingError as error:
        if error.sqlstate in ("42703", "42P01"):
            raise not_supported("a column reference in DEFAULT", error.position) from None
        raise
    if any(isinstance(sub, Param) for sub in walk(expr)):
        raise not_supported("a parameter in DEFAULT", binder.position(node))
    assignment(expr, sql_type, column, binder.position(node))
    return node.sql(dialect="postgres")


def _create_index(node: exp.Create, binder: ExprBinder) -> PlanNode:
    index = node.this
    params = index.args.get("params")
    if params is None or not params.args.get("columns"):
        raise ProgrammingError("CREATE INDEX needs a column list", sqlstate=SYNTAX)
    for key in ("include", "partition_by", "tablespace", "where", "on", "with_storage"):
        value = params.args.get(key)
        if value not in (None, False, []):
            raise not_supported(f"CREATE INDEX with {key.upper()}",
                                binder.position(value) if hasattr(value, "walk") else None)
    using = params.args.get("using")
    if using is not None and identifier(using) != "btree":
        raise not_supported(f"index method {identifier(using)}", binder.position(using))
    table = _name(index.args["table"], binder)
    columns = []
    descending = []
    for ordered in params.args["columns"]:
        target = ordered.this if isinstance(ordered, exp.Ordered) else ordered
        if not isinstance(target, exp.Column) or target.args.get("table"):
            raise not_supported("an index on an expression", binder.position(ordered))
        desc = bool(ordered.args.get("desc")) if isinstance(ordered, exp.Ordered) else False
        nulls_first = ordered.args.get("nulls_first") if isinstance(ordered, exp.Ordered) \
            else None
        if nulls_first is not None and bool(nulls_first) != desc:
            raise not_supported("NULLS FIRST/LAST differing from the direction's default in "
                                "an index", binder.position(ordered))
        columns.append(identifier(target.this))
        descending.append(desc)
    name_node = index.this
    if name_node is None:
        name = f"{table}_{'_'.join(columns)}_idx"
    else:
        name = identifier(name_node)
    return CreateIndex(name, table, tuple(columns), tuple(descending),
                       bool(node.args.get("unique")), bool(node.args.get("exists")))


def bind_drop(node: exp.Drop, catalog: Catalog, params: list, parsed) -> PlanNode:
    binder = ExprBinder(Scope([]), params, parsed)
    kind = (node.args.get("kind") or "").upper()
    if node.args.get("cascade"):
        raise not_supported(f"DROP {kind} ... CASCADE")
    for key in ("temporary", "materialized", "constraints", "purge", "cluster", "concurrently",
                "sync", "iceberg", "force"):
        if node.args.get(key):
            raise not_supported(f"DROP {kind} with {key.upper()}")
    names = tuple(_name(table, binder) for table in node.args.get("tables") or [])
    if not names:
        raise ProgrammingError("DROP needs a name", sqlstate=SYNTAX)
    exists = bool(node.args.get("exists"))
    if kind == "TABLE":
        _refuse_if_depended_on("table", names, catalog, ())
        return DropTable(names, exists)
    if kind == "INDEX":
        return DropIndex(names, exists)
    if kind == "VIEW":
        _refuse_if_depended_on("view", names, catalog, names)
        return DropView(_dependents_first(names, catalog), exists)
    raise not_supported(f"DROP {kind}")
