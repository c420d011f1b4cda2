"""The catalog's persistence: schema objects as rows of the system B-tree.

The catalog tree's root page is recorded in the meta page (``OFF_META_CATALOG_ROOT``). Each
entry (docs/formats/catalog.md)::

    key    1 byte kind (b"T" table, b"I" index, b"V" view) + the object's name in UTF-8
    value  JSON (UTF-8) of the object's fields, with "format": 1

JSON keeps the catalog readable with nothing but a hex dump, and it is tiny next to the data.

SERIAL counters live in the same tree but are not schema objects (a new value must not make
a new catalog version)::

    key    b"S" + the table's tree id (8 bytes, big-endian) + the column name in UTF-8
    value  JSON {"format": 1, "table": ..., "column": ..., "last_value": n}

``last_value`` is the largest value handed out that a committed transaction may have used.
Like PostgreSQL's sequences the counter does not go back on rollback: the store keeps the
largest value handed out in memory and writes it with every allocation, so a value used by a
committed transaction is never handed out again, in this process or after a restart. (A value
handed out only to transactions that rolled back may be handed out again after a restart, as
in PostgreSQL after a crash.)
"""

from __future__ import annotations

import json
import struct

from aurora_lite.btree import BTree, WriteContext
from aurora_lite.catalog._schema import Catalog, ColumnDef, IndexDef, TableDef, ViewDef
from aurora_lite.errors import CorruptionError
from aurora_lite.values import SqlType

CATALOG_FORMAT = 1
CATALOG_TREE_ID = 1
KIND_TABLE = b"T"
KIND_INDEX = b"I"
KIND_VIEW = b"V"
KIND_SERIAL = b"S"
_TREE_ID = struct.Struct(">Q")


def encode_entry(obj: TableDef | IndexDef | ViewDef) -> tuple[bytes, bytes]:
    if isinstance(obj, TableDef):
        body = {"format": CATALOG_FORMAT, "name": obj.name,
                "columns": [_column_body(c) for c in obj.columns],
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
        if obj.depends_on is not None:
            body["depends_on"] = list(obj.depends_on)
        kind = KIND_VIEW
    return kind + obj.name.encode("utf-8"), json.dumps(body, sort_keys=True).encode("utf-8")


def _column_body(column: ColumnDef) -> dict:
    body = {"name": column.name, "type": int(column.type), "type_name": column.type_name,
            "not_null": column.not_null, "default_sql": column.default_sql,
            "max_length": column.max_length}
    if column.serial:
        body["serial"] = True             # absent means false (catalogs written before)
    return body


def serial_key(tree_id: int, column: str) -> bytes:
    return KIND_SERIAL + _TREE_ID.pack(tree_id) + column.encode("utf-8")


def encode_serial(table: str, column: str, last_value: int) -> bytes:
    return json.dumps({"format": CATALOG_FORMAT, "table": table, "column": column,
                       "last_value": last_value}, sort_keys=True).encode("utf-8")


def decode_serial(key: bytes, value: bytes) -> int:
    try:
        body = json.loads(value.decode("utf-8"))
        if body.get("format") != CATALOG_FORMAT:
            raise ValueError(f"unknown catalog format {body.get('format')}")
        last = body["last_value"]
        if not isinstance(last, int):
            raise ValueError("last_value is not an integer")
        return last
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptionError(f"catalog entry {key!r} is damaged: {error}") from None


def decode_entry(key: bytes, value: bytes) -> TableDef | IndexDef | ViewDef:
    try:
        body = json.loads(value.decode("utf-8"))
        if body.get("format") != CATALOG_FORMAT:
            raise ValueError(f"unknown catalog format {body.get('format')}")
        kind = key[:1]
        if kind == KIND_TABLE:
            columns = tuple(ColumnDef(c["name"], SqlType(c["type"]), c["type_name"],
                                      c["not_null"], c["default_sql"], c["max_length"],
                                      bool(c.get("serial", False)))
                            for c in body["columns"])
            return TableDef(body["name"], columns, tuple(body["primary_key"]), body["tree_id"],
                            body["root_page"])
        if kind == KIND_INDEX:
            return IndexDef(body["name"], body["table"], tuple(body["columns"]),
                            tuple(body["descending"]), body["unique"], body["tree_id"],
                            body["root_page"], body.get("constraint", False))
        if kind == KIND_VIEW:
            columns = body["columns"]
            depends_on = body.get("depends_on")
            return ViewDef(body["name"], body["sql"],
                           tuple(columns) if columns is not None else None,
                           tuple(depends_on) if depends_on is not None else None)
        raise ValueError(f"unknown catalog entry kind {kind!r}")
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptionError(f"catalog entry {key!r} is damaged: {error}") from None


class CatalogStore:
    """Reads and writes schema objects in the system B-tree."""

    def __init__(self, tree: BTree) -> None:
        self.tree = tree
        # serial key -> the largest value handed out by this process (never lowered by a
        # rollback: see the module docstring).
        self._serials: dict[bytes, int] = {}

    def load(self, view, version: int = 0) -> Catalog:
        catalog = Catalog(version=version)
        for keys, values in self.tree.scan(view):
            for key, value in zip(keys, values):
                if key[:1] == KIND_SERIAL:
                    continue
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

    # -- SERIAL counters -------------------------------------------------------------------------
    def next_serial(self, ctx: WriteContext, view, table: TableDef, column: str,
                    count: int = 1) -> int:
        """Hand out ``count`` consecutive values of ``table``'s counter for ``column`` and
        return the first; the new largest value is written to the catalog tree at once (the
        caller holds the write lock, inside a writing statement)."""
        if count < 1:
            raise ValueError("count must be positive")
        key = serial_key(table.tree_id, column)
        last = self._serials.get(key)
        stored = self.tree.get(view, key)
        stored_last = decode_serial(key, stored) if stored is not None else 0
        last = stored_last if last is None else max(last, stored_last)
        first = last + 1
        last += count
        self._serials[key] = last
        self.tree.insert(ctx, key, encode_serial(table.name, column, last), overwrite=True)
        return first

    def remove_serials(self, ctx: WriteContext, view, table: TableDef) -> None:
        """Delete the counters of a table being dropped."""
        for column in table.columns:
            if column.serial:
                key = serial_key(table.tree_id, column.name)
                if self.tree.get(view, key) is not None:
                    self.tree.delete(ctx, key)
