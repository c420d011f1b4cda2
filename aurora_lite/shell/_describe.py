"""Showing the schema: the relation list (``\\d``, ``.tables``) and one relation (``\\d NAME``,
``.schema NAME``), laid out as psql lays them out::

    Table "accounts"
     Column  |  Type   | Nullable | Default
    ---------+---------+----------+---------
     id      | integer | not null |
     owner   | text    |          | 'ann'
    Indexes:
        PRIMARY KEY (id)
        "accounts_owner" (owner DESC)

The table part follows the output mode (csv, json, ...); the title and the index list are for
people and are printed as they are.
"""

from __future__ import annotations

from aurora_lite.shell._formats import render
from aurora_lite.shell._introspect import Introspector, RelationInfo, fold_name

KIND_TITLES = {"table": "Table", "view": "View"}


def relation_list(introspector: Introspector, mode: str, kinds: tuple[str, ...]) -> list[str]:
    """``\\d`` (tables and views), ``\\dt``, ``\\dv``, ``\\di``. Raises ``Unavailable``."""
    relations = [relation for relation in introspector.relations() if relation.kind in kinds]
    if not relations:
        return ["Did not find any relations."]
    title = "List of relations"
    if kinds == ("index",):
        return [title] + render(mode, ["Name", "Type", "Table"],
                                [(r.name, r.kind, r.table or "") for r in relations])
    return [title] + render(mode, ["Name", "Type"], [(r.name, r.kind) for r in relations])


def describe_relation(introspector: Introspector, name: str, mode: str) -> list[str] | None:
    """``\\d NAME``; None when there is no such relation. Raises ``Unavailable``."""
    info = introspector.describe(fold_name(name))
    if info is None:
        return None
    return describe_info(info, mode)


def describe_info(info: RelationInfo, mode: str) -> list[str]:
    lines = [f'{KIND_TITLES.get(info.kind, "Relation")} "{info.name}"']
    if info.complete:
        rows = [(column.name, column.type, "not null" if column.not_null else "",
                 column.default or "") for column in info.columns]
        lines += render(mode, ["Column", "Type", "Nullable", "Default"], rows, footer=False)
    else:
        rows = [(column.name, column.type) for column in info.columns]
        lines += render(mode, ["Column", "Type"], rows, footer=False)
        if lines[-1] == "":
            lines.pop()  # the note belongs right under the table
        lines.append("(only names and types: this connection offers no catalog for "
                     "nullability, defaults and indexes)")
    index_lines = []
    if info.primary_key:
        index_lines.append(f"    PRIMARY KEY ({', '.join(info.primary_key)})")
    for index in info.indexes:
        if index.definition is not None:
            index_lines.append(f'    "{index.name}" {index.definition}')
            continue
        kind = "UNIQUE CONSTRAINT " if index.constraint else "UNIQUE " if index.unique else ""
        index_lines.append(f'    "{index.name}" {kind}({", ".join(index.columns)})')
    if index_lines:
        if lines[-1] == "":
            lines.pop()  # the index list belongs right under the table
        lines += ["Indexes:", *index_lines, ""]
    if info.view_sql:
        if lines[-1] == "":
            lines.pop()
        lines += ["View definition:", f"    {info.view_sql.strip()}", ""]
    return lines
