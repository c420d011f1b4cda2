"""Schema objects: tables, columns, indexes and views, as frozen dataclasses.

Identifiers are stored case-folded the way PostgreSQL folds unquoted names (lower case); the
frontend folds before it looks anything up. The catalog B-tree stores these objects encoded by
``aurora_lite.catalog._store`` (docs/formats/catalog.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aurora_lite.values import SqlType


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: SqlType
    type_name: str                     # as declared, e.g. "VARCHAR(8)"
    not_null: bool = False
    default_sql: str | None = None     # SQL text of the DEFAULT expression, evaluated per row
    max_length: int | None = None      # VARCHAR(n) / CHAR(n) limit
    # SERIAL / BIGSERIAL: a missing value comes from the table's counter for this column
    # (``CatalogStore.next_serial``), PostgreSQL's nextval() of the column's sequence.
    serial: bool = False


@dataclass(frozen=True)
class IndexDef:
    name: str
    table: str
    columns: tuple[str, ...]
    descending: tuple[bool, ...]
    unique: bool
    tree_id: int = 0
    root_page: int = 0
    # True for the unique index that enforces a UNIQUE column/table constraint (dropped with it).
    constraint: bool = False


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...]       # empty: rows are keyed by a hidden 64-bit row id
    tree_id: int = 0
    root_page: int = 0

    def column_index(self, name: str) -> int:
        for index, column in enumerate(self.columns):
            if column.name == name:
                return index
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def types(self) -> tuple[SqlType, ...]:
        return tuple(column.type for column in self.columns)

    @property
    def primary_key_positions(self) -> tuple[int, ...]:
        return tuple(self.column_index(name) for name in self.primary_key)


@dataclass(frozen=True)
class ViewDef:
    name: str
    sql: str                                   # the defining SELECT, as written
    columns: tuple[str, ...] | None = None     # explicit column list, if any
    # The tables and views the SELECT reads (sorted names). None for a view stored before
    # dependencies were recorded: the frontend then reads them from ``sql``.
    depends_on: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Catalog:
    """An immutable snapshot of the schema. ``version`` changes with every DDL statement."""

    tables: dict[str, TableDef] = field(default_factory=dict)
    indexes: dict[str, IndexDef] = field(default_factory=dict)
    views: dict[str, ViewDef] = field(default_factory=dict)
    version: int = 0

    def table(self, name: str) -> TableDef | None:
        return self.tables.get(name)

    def indexes_of(self, table: str) -> list[IndexDef]:
        return [index for index in self.indexes.values() if index.table == table]

    def dependent_views(self, name: str) -> list[str]:
        """The views whose recorded dependencies name the table or view ``name`` (sorted)."""
        return sorted(view.name for view in self.views.values()
                      if view.depends_on and name in view.depends_on)
