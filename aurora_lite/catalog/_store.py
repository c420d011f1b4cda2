"""The catalog's persistence: schema objects as rows of the system B-tree.

The catalog tree's root page is recorded in the meta page (``OFF_META_CATALOG_ROOT``). Each
entry (docs/formats/catalog.md)::

    key    1 byte kind (b"T" table, b"I" index, b"V" view) + the object's name in UTF-8
    value  JSON (UTF-8) of the object's fields, with "format": 1

JSON keeps the catalog readable with nothing but a hex dump, and it is tiny next to the data.
"""

from __future__ import annotations

import json

from aurora_lite.btree import BTree, WriteContext
from aurora_lite.catalog._schema import Catalog, ColumnDef, IndexDef, TableDef, ViewDef
from aurora_lite.errors import CorruptionError
from aurora_lite.values import SqlType

CATALOG_FORMAT = 1
CATALOG_TREE_ID = 1
KIND_TABLE = b"T"
KIND_INDEX = b"I"
KIND_VIEW = b"V"


def encode_entry(obj: TableDef | IndexDef | ViewDef) -> tuple[bytes, bytes]:
    if isinstance(obj, TableDef):
        body = {"format": CATALOG_FORMAT, "name": obj.name,
                "columns": [{"name": c.name, "type": int(c.type), "type_name": c.type_name,
                             "not_null": c.not_null, "default_sql": c.default_sql,
                             "max_length": c.max_length} for c in obj.columns],
                "primary_key": list(obj.primary_key), "tree_id": obj.tree_id,
                "root_page": obj.root_page}
        kind = KIND_TABLE
    elif isinstance(obj, IndexDef):
        body = {"format": CATALOG_FORMAT, "name": obj.name, "table": obj.table,
                "columns": list(obj.columns), "descending": list(obj.descending),
                "unique": obj.unique, "tree_id": obj.tree_id, "root_page": obj.root_page,
                "constraint": obj.constraint}
        kind = KIND_INDEX
    else:
        body = {"format": CATALOG_FORMAT, "name": obj.name, "sql": obj.sql,
                "columns": list(obj.columns) if obj.columns is not None else None}
        kind = KIND_VIEW
    return kind + obj.name.encode("utf-8"), json.dumps(body, sort_keys=True).encode("utf-8")


def decode_entry(key: bytes, value: bytes) -> TableDef | IndexDef | ViewDef:
    try:
        body = json.loads(value.decode("utf-8"))
        if body.get("format") != CATALOG_FORMAT:
            raise ValueError(f"unknown catalog format {body.get('format')}")
        kind = key[:1]
        if kind == KIND_TABLE:
            columns = tuple(ColumnDef(c["name"], SqlType(c["type"]), c["type_name"],
                                      c["not_null"], c["default_sql"], c["max_length"])
                            for c in body["columns"])
            return TableDef(body["name"], columns, tuple(body["primary_key"]), body["tree_id"],
                            body["root_page"])
        if kind == KIND_INDEX:
            return IndexDef(body["name"], body["table"], tuple(body["columns"]),
                            tuple(body["descending"]), body["unique"], body["tree_id"],
                            body["root_page"], body.get("constraint", False))
        if kind == KIND_VIEW:
            columns = body["columns"]
            return ViewDef(body["name"], body["sql"],
                           tuple(columns) if columns is not None else None)
        raise ValueError(f"unknown catalog entry kind {kind!r}")
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptionError(f"catalog entry {key!r} is damaged: {error}") from None


class CatalogStore:
    """Reads and writes schema objects in the system B-tree."""

    def __init__(self, tree: BTree) -> None:
        self.tree = tree

    def load(self, view, version: int = 0) -> Catalog:
        catalog = Catalog(version=version)
        for keys, values in self.tree.scan(view):
            for key, value in zip(keys, values):
                obj = decode_entry(key, value)
                if isinstance(obj, TableDef):
                    catalog.tables[obj.name] = obj
                elif isinstance(obj, IndexDef):
                    catalog.indexes[obj.name] = obj
                else:
                    catalog.views[obj.name] = obj
        return catalog

    def put(self, ctx: WriteContext, obj: TableDef | IndexDef | ViewDef) -> None:
        key, value = encode_entry(obj)
        self.tree.insert(ctx, key, value, overwrite=True)

    def remove(self, ctx: WriteContext, obj: TableDef | IndexDef | ViewDef) -> None:
        key, _value = encode_entry(obj)
        self.tree.delete(ctx, key)
