"""What the shell can learn about the schema: relations, their columns, keys and indexes.

``introspector_for(connection)`` picks one of two ways, both behind the same interface:

* ``CatalogIntrospector`` (the embedded driver): reads the session's catalog snapshot
  (``connection._session.catalog``, an immutable ``aurora_lite.catalog.Catalog``). No SQL
  runs, so describing or completing never disturbs a transaction and always sees what the
  session sees, uncommitted DDL included.
* ``QueryIntrospector`` (any other connection: the remote driver, sqlite3): asks
  ``information_schema`` (PostgreSQL answers it; a server that does not is remembered and not
  asked again), and otherwise learns what it can: the columns and types of a named relation
  from ``SELECT * FROM name LIMIT 0``, and the names of tables that statements of this session
  created or used. It runs queries only outside a transaction, because on a PostgreSQL server
  a failing query would abort the user's transaction.

Names are folded as PostgreSQL folds them: unquoted to lower case, ``"Quoted"`` kept as is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_USED_NAME = re.compile(rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
                        rf"({_NAME})(?![A-Za-z0-9_$\"]|\s*\.)", re.I)
_DROPPED_NAME = re.compile(rf"^\s*DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?({_NAME})", re.I)
_DDL = re.compile(r"^\s*(?:CREATE|DROP|ALTER)\b", re.I)


def fold_name(text: str) -> str:
    """A name as typed -> as stored: ``Foo`` -> ``foo``, ``"Foo"`` -> ``Foo``."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text.lower()


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str                    # "table", "view" or "index"
    table: str | None = None     # for an index: its table


@dataclass(frozen=True)
class Column:
    name: str
    type: str                    # "" when unknown
    not_null: bool | None = None  # None: unknown
    default: str | None = None


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]     # "a", "b DESC"
    unique: bool
    constraint: bool = False     # enforces a UNIQUE constraint
    definition: str | None = None  # a server's own text of it (pg_indexes.indexdef)


@dataclass(frozen=True)
class RelationInfo:
    name: str
    kind: str                    # "table" or "view"
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()
    view_sql: str | None = None
    complete: bool = True        # False: only names and types were available


class Unavailable(Exception):
    """This connection cannot answer the question; the message says why."""


class CatalogIntrospector:
    """The embedded driver: the session's catalog."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def _catalog(self) -> Any:
        return self._session.catalog

    def relations(self) -> list[Relation]:
        catalog = self._catalog()
        found = [Relation(name, "table") for name in catalog.tables]
        found += [Relation(name, "view") for name in catalog.views]
        found += [Relation(index.name, "index", index.table)
                  for index in catalog.indexes.values()]
        return sorted(found, key=lambda relation: (relation.name, relation.kind))

    def describe(self, name: str) -> RelationInfo | None:
        catalog = self._catalog()
        table = catalog.tables.get(name)
        if table is not None:
            columns = tuple(Column(column.name, column.type_name.lower(), column.not_null,
                                   column.default_sql) for column in table.columns)
            indexes = tuple(
                Index(index.name, tuple(column + (" DESC" if descending else "") for
                                        column, descending in zip(index.columns,
                                                                  index.descending)),
                      index.unique, index.constraint)
                for index in sorted(catalog.indexes_of(name), key=lambda index: index.name))
            return RelationInfo(name, "table", columns, tuple(table.primary_key), indexes)
        view = catalog.views.get(name)
        if view is not None:
            columns = tuple(Column(column, "") for column in view.columns or ())
            return RelationInfo(name, "view", columns, view_sql=view.sql)
        return None

    def table_names(self) -> list[str]:
        catalog = self._catalog()
        return sorted([*catalog.tables, *catalog.views])

    def column_names(self, table: str) -> list[str]:
        catalog = self._catalog()
        definition = catalog.tables.get(table)
        if definition is not None:
            return list(definition.column_names)
        view = catalog.views.get(table)
        return list(view.columns or ()) if view is not None else []

    def observe(self, sql: str) -> None:
        """Nothing to learn: the catalog is always current."""


class QueryIntrospector:
    """Any other connection: information_schema when the server has it, else what the
    session's own statements and ``LIMIT 0`` queries reveal."""

    def __init__(self, connection: Any, in_transaction: Callable[[], bool]) -> None:
        self._connection = connection
        self._in_transaction = in_transaction
        self._catalog_views: bool | None = None    # None: not asked yet
        self._known: set[str] = set()               # table names seen in statements
        self._columns: dict[str, list[str]] = {}    # cache for completion

    # -- running queries ---------------------------------------------------------------------
    def _query(self, sql: str, parameters: tuple = ()) -> tuple[list[tuple], tuple]:
        if self._in_transaction():
            raise Unavailable("not inside a transaction block on this connection (a failed "
                              "catalog query would abort the transaction); COMMIT or ROLLBACK "
                              "first")
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, parameters) if parameters else cursor.execute(sql)
            description = tuple(cursor.description or ())
            return list(cursor.fetchall()) if cursor.description else [], description
        finally:
            try:
                cursor.close()
            except Exception:  # noqa: BLE001 - the answer (or its error) matters more
                pass
            self._end_implicit_transaction()

    def _end_implicit_transaction(self) -> None:
        if getattr(self._connection, "autocommit", False) is not True:
            try:
                self._connection.rollback()
            except Exception:  # noqa: BLE001
                pass

    def _has_catalog_views(self) -> bool:
        if self._catalog_views is None:
            try:
                self._query("SELECT table_name FROM information_schema.tables WHERE 1 = 0")
                self._catalog_views = True
            except Unavailable:
                raise
            except Exception:  # noqa: BLE001 - any failure means: this server has none
                self._catalog_views = False
        return self._catalog_views

    # -- the interface -------------------------------------------------------------------------
    def relations(self) -> list[Relation]:
        if not self._has_catalog_views():
            raise Unavailable("this server offers no catalog (information_schema); tables used "
                              "in this session: " + (", ".join(sorted(self._known)) or "none"))
        rows, _ = self._query(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema "
            "NOT IN ('pg_catalog', 'information_schema') ORDER BY table_name")
        found = [Relation(str(name), "view" if "VIEW" in str(kind).upper() else "table")
                 for name, kind in rows]
        try:
            rows, _ = self._query("SELECT indexname, tablename FROM pg_indexes WHERE schemaname "
                                  "NOT IN ('pg_catalog', 'information_schema')")
        except Exception:  # noqa: BLE001 - not PostgreSQL: no index list
            rows = []
        found += [Relation(str(name), "index", str(table)) for name, table in rows]
        return sorted(found, key=lambda relation: (relation.name, relation.kind))

    def describe(self, name: str) -> RelationInfo | None:
        if self._has_catalog_views():
            rows, _ = self._query(
                "SELECT column_name, data_type, is_nullable, column_default FROM "
                "information_schema.columns WHERE table_name = ? AND table_schema NOT IN "
                "('pg_catalog', 'information_schema') ORDER BY ordinal_position", (name,))
            if rows:
                columns = tuple(Column(str(column), str(kind), nullable == "NO", default)
                                for column, kind, nullable, default in rows)
                kinds, _ = self._query("SELECT table_type FROM information_schema.tables "
                                       "WHERE table_name = ?", (name,))
                if kinds and "VIEW" in str(kinds[0][0]).upper():
                    return RelationInfo(name, "view", columns)
                return RelationInfo(name, "table", columns, indexes=self._pg_indexes(name))
        try:
            _, description = self._query(f"SELECT * FROM {quote_name(name)} LIMIT 0")
        except Unavailable:
            raise
        except Exception:  # noqa: BLE001 - no such relation (or not readable): not found
            return None
        self._known.add(name)
        columns = tuple(Column(str(item[0]), str(item[1] or "")) for item in description)
        return RelationInfo(name, "table", columns, complete=False)

    def _pg_indexes(self, table: str) -> tuple[Index, ...]:
        try:
            rows, _ = self._query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename "
                                  "= ? ORDER BY indexname", (table,))
        except Exception:  # noqa: BLE001 - not PostgreSQL: indexes unknown
            return ()
        return tuple(Index(str(name), (), "UNIQUE" in str(text),
                           definition=_short_index_definition(str(text)))
                     for name, text in rows)

    def table_names(self) -> list[str]:
        names = set(self._known)
        try:
            names.update(relation.name for relation in self.relations())
        except Exception:  # noqa: BLE001 - completion falls back to what is known
            pass
        return sorted(names)

    def column_names(self, table: str) -> list[str]:
        if table not in self._columns:
            try:
                info = self.describe(table)
            except Exception:  # noqa: BLE001 - completion must never fail
                return []
            self._columns[table] = [column.name for column in info.columns] if info else []
        return self._columns[table]

    def observe(self, sql: str) -> None:
        """Learn from a statement that succeeded: the names it used, and forget cached
        columns after DDL."""
        if _DDL.match(sql):
            self._columns.clear()
        dropped = _DROPPED_NAME.match(sql)
        if dropped:
            self._known.discard(fold_name(dropped.group(1)))
            return
        for match in _USED_NAME.finditer(sql):
            self._known.add(fold_name(match.group(1)))


_INDEX_DEFINITION = re.compile(r"CREATE (UNIQUE )?INDEX .*? ON .*? USING (\w+) (\(.*\))(.*)$",
                               re.S)


def _short_index_definition(text: str) -> str:
    """pg_indexes.indexdef as psql shows it: ``UNIQUE, btree (owner)``."""
    match = _INDEX_DEFINITION.match(text)
    if not match:
        return text
    unique, method, columns, rest = match.groups()
    return f"{'UNIQUE, ' if unique else ''}{method} {columns}{rest}"


Introspector = CatalogIntrospector | QueryIntrospector


def introspector_for(connection: Any, in_transaction: Callable[[], bool]) -> Introspector:
    # The embedded driver keeps its session in ``_session``; its catalog is the cheapest and
    # most exact source there is, so the shell (the top layer) reads it directly.
    session = getattr(connection, "_session", None)
    if session is not None and hasattr(session, "catalog"):
        return CatalogIntrospector(session)
    return QueryIntrospector(connection, in_transaction)
