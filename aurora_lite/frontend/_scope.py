"""Name resolution: the relations a query block reads and the columns they expose.

A ``Scope`` lists the FROM-clause relations of one query block in FROM order; its ``parent``
is the scope of the enclosing query when the block is a subquery, so a name not found here
resolves outward (a correlated reference). Identifiers arrive folded (lower case unless
quoted). Relation ids are unique within a statement, so a ``ColumnRef`` says by itself which
query level it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.catalog import TableDef
from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import ColumnRef
from aurora_lite.frontend._errors import AMBIGUOUS_COLUMN, UNDEFINED_COLUMN, UNDEFINED_TABLE


@dataclass
class Relation:
    """One occurrence of a table, a view or a subquery in FROM. ``nullable`` is set when it
    sits on the NULL-padded side of an outer join (its columns may then be NULL whatever
    their declaration). A view or a subquery has ``derived`` set to its logical query and no
    ``table``; ``names`` renames the columns (``AS alias (a, b)``) where given."""

    rel_id: int
    table: TableDef | None
    alias: str
    nullable: bool = False
    derived: object = None
    names: tuple[str, ...] | None = None
    types: tuple = ()
    not_null: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        table = self.table
        if table is not None:
            own = [column.name for column in table.columns]
            self.types = tuple(column.type for column in table.columns)
            self.not_null = tuple(column.not_null or column.name in table.primary_key
                                  for column in table.columns)
        else:
            own = list(self.derived.names)
            self.types = tuple(self.derived.types)
            self.not_null = tuple(not nullable for nullable in self.derived.nullables)
        if self.names:
            own[:len(self.names)] = self.names
        self.names = tuple(own)
        self.index_of = {}
        for i, name in enumerate(self.names):
            self.index_of.setdefault(name, i)

    @property
    def width(self) -> int:
        return len(self.names)

    def column(self, index: int) -> ColumnRef:
        return ColumnRef(self.rel_id, index, self.types[index],
                         self.nullable or not self.not_null[index],
                         f"{self.alias}.{self.names[index]}")

    def columns(self) -> list[ColumnRef]:
        return [self.column(i) for i in range(self.width)]


class Scope:
    def __init__(self, relations: list[Relation], parent: "Scope | None" = None) -> None:
        self.relations = relations
        self.parent = parent

    def relation(self, alias: str, position: int | None = None) -> Relation:
        for relation in self.relations:
            if relation.alias == alias:
                return relation
        if self.parent is not None:
            return self.parent.relation(alias, position)
        raise ProgrammingError(f'missing FROM-clause entry for table "{alias}"',
                               sqlstate=UNDEFINED_TABLE, position=position)

    def resolve(self, name: str, qualifier: str | None, position: int | None) -> ColumnRef:
        if qualifier is not None:
            relation = self.relation(qualifier, position)
            index = relation.index_of.get(name)
            if index is None:
                raise ProgrammingError(f'column {qualifier}.{name} does not exist',
                                       sqlstate=UNDEFINED_COLUMN, position=position)
            return relation.column(index)
        found = []
        for relation in self.relations:
            index = relation.index_of.get(name)
            if index is not None:
                found.append(relation.column(index))
        if len(found) > 1:
            raise ProgrammingError(f'column reference "{name}" is ambiguous',
                                   sqlstate=AMBIGUOUS_COLUMN, position=position)
        if found:
            return found[0]
        if self.parent is not None:
            return self.parent.resolve(name, qualifier, position)
        raise ProgrammingError(f'column "{name}" does not exist', sqlstate=UNDEFINED_COLUMN,
                               position=position)

    def has_column(self, name: str) -> bool:
        return any(name in relation.index_of for relation in self.relations)

    def star(self, qualifier: str | None, position: int | None) -> list[ColumnRef]:
        if qualifier is not None:
            return self.relation(qualifier, position).columns()
        if not self.relations:
            raise ProgrammingError("SELECT * with no tables specified is not valid",
                                   sqlstate="42601", position=position)
        out = []
        for relation in self.relations:
            out.extend(relation.columns())
        return out
