"""Table access: rows over a clustered B-tree plus its secondary index trees.

A table is a B-tree keyed by the memcomparable encoding of its primary key (or of a hidden
64-bit row id) whose values are encoded rows (aurora_lite.values.RowCodec). A secondary index is
a B-tree keyed by the index columns (ASC/DESC) followed by the row's clustered key, whose value
is that clustered key (the row's *locator*). A unique index rejects a second entry with the same
index-column prefix unless a column is NULL (NULLs are distinct, as in PostgreSQL).

Constraint checks run before any page changes where they can, so a failing row usually costs no
rollback at all; whatever a failing statement did write is voided by the session.
"""

from __future__ import annotations

import itertools
import struct
from typing import Iterable, Iterator

from aurora_lite.btree import BTree, DuplicateKeyError, LatestView
from aurora_lite.catalog import IndexDef, TableDef
from aurora_lite.errors import IntegrityError
from aurora_lite.txn._pagedecode import make_page_decoder
from aurora_lite.values import (
    RowCodec, SqlType, coerce, decode_key, encode_key, encode_value, make_key_encoder,
    prefix_successor,
)

_ROWID_TYPES = (SqlType.INTEGER,)
ROWS_PER_MTR = 32
# Without unique secondary indexes rows go in chunks this large (bounded in bytes too, so a
# chunk of wide rows stays a modest MTR).
BULK_ROWS_PER_MTR = 256
BULK_BYTES_PER_MTR = 1 << 20


def _first(entry: tuple) -> bytes:
    return entry[0]


class _Index:
    __slots__ = ("definition", "tree", "encode", "positions", "types", "descending")

    def __init__(self, definition: IndexDef, table: TableDef, pool) -> None:
        self.definition = definition
        self.tree = BTree(pool, definition.root_page, definition.tree_id)
        self.positions = tuple(table.column_index(name) for name in definition.columns)
        self.types = tuple(table.columns[p].type for p in self.positions)
        self.descending = definition.descending
        self.encode = make_key_encoder(self.types, self.descending, self.positions)


_FIXED_KEY_LENGTHS = {SqlType.INTEGER: 9, SqlType.REAL: 9, SqlType.DATE: 9,
                      SqlType.TIMESTAMP: 9, SqlType.BOOLEAN: 2}
_OVERFLOW_REF = struct.Struct("<II")


def _fixed_key_length(types) -> int | None:
    """The length of every key of a tree with these key types, when it is fixed."""
    if all(t in _FIXED_KEY_LENGTHS for t in types):
        return sum(_FIXED_KEY_LENGTHS[t] for t in types)
    return None


class Table:
    """Implements aurora_lite.txn.TableAccess for one table within one database."""

    def __init__(self, database, definition: TableDef, indexes: list[IndexDef]) -> None:
        self.database = database
        self.definition = definition
        pool = database.pool
        self.tree = BTree(pool, definition.root_page, definition.tree_id)
        self.codec = RowCodec(definition.types)
        self.decode = self.codec.decode
        self.indexes = [_Index(index, definition, pool) for index in indexes]
        self.has_rowid = not definition.primary_key
        if self.has_rowid:
            self.key_types = _ROWID_TYPES
            self.encode_key = None
        else:
            positions = definition.primary_key_positions
            self.key_types = tuple(definition.columns[p].type for p in positions)
            self.encode_key = make_key_encoder(self.key_types, None, positions)
        pk = definition.primary_key
        self.integer_key_position = (definition.primary_key_positions[0]
                                     if len(pk) == 1 and definition.columns[
                                         definition.primary_key_positions[0]].type
                                     is SqlType.INTEGER else None)
        self._coercions = [(column.type, column.name, column.max_length,
                            column.not_null or column.name in pk)
                           for column in definition.columns]
        self._last_row_id: int | None = None
        self.key_length = _fixed_key_length(self.key_types)
        self._page_decoders: dict = {}

    # -- reads -------------------------------------------------------------------------------
    def estimated_rows(self) -> int:
        return self.database.estimated_rows(self)

    def _key_bounds(self, types, descending, lower, upper, lower_inclusive, upper_inclusive):
        """Translate value-space bounds into (low, high, low_inclusive, high_inclusive) bytes."""
        low = high = None
        low_inc = high_inc = True
        for bound, is_lower, inclusive in ((lower, True, lower_inclusive),
                                           (upper, False, upper_inclusive)):
            if bound is None:
                continue
            bound = tuple(bound)
            encoded = encode_key(bound, types, descending)
            # A bound on a DESC column limits the other end of the key space.
            flipped = bool(descending and bound and descending[len(bound) - 1])
            key_lower = is_lower != flipped
            if key_lower:
                candidate = (encoded, True) if inclusive else (prefix_successor(encoded), True)
                if low is None or candidate[0] > low:
                    low, low_inc = candidate
            else:
                candidate = (prefix_successor(encoded), False) if inclusive else (encoded, False)
                if high is None or candidate[0] < high:
                    high, high_inc = candidate
        return low, high, low_inc, high_inc

    def scan(self, view, lower=None, upper=None, *, lower_inclusive=True, upper_inclusive=True,
             reverse=False, columns: tuple[int, ...] | None = None) -> Iterator[list[tuple]]:
        """Rows in key order, one batch per leaf. With ``columns``, only those columns are
        decoded; the others are None in the rows."""
        low, high, low_inc, high_inc = self._key_bounds(
            self.key_types, None, lower, upper, lower_inclusive, upper_inclusive)
        decode = self.decode
        if reverse:
            for _keys, values in self.tree.scan_reverse(view, low, high,
                                                        lower_inclusive=low_inc,
                                                        upper_inclusive=high_inc):
                yield list(map(decode, values))
            return
        page_decode = self._page_decoder(columns)
        read_overflow = self.tree._read_overflow

        def slow(data, offset):
            head = data[offset] | data[offset + 1] << 8
            value = offset + 2 + (head & 0x7FFF)
            if head & 0x8000:
                return decode(read_overflow(view, *_OVERFLOW_REF.unpack_from(data, value)))
            return decode(memoryview(data)[value:])

        for image, start, stop in self.tree.leaf_ranges(view, low, high,
                                                         lower_inclusive=low_inc,
                                                         upper_inclusive=high_inc):
            yield page_decode(image.data, start, stop, slow)

    def _page_decoder(self, columns: tuple[int, ...] | None):
        key = None if columns is None else tuple(sorted(set(columns)))
        decoder = self._page_decoders.get(key)
        if decoder is None:
            decoder = self._page_decoders[key] = make_page_decoder(
                self.codec, self.key_length, key)
        return decoder

    def scan_with_locators(self, view, lower=None, upper=None, *, lower_inclusive=True,
                           upper_inclusive=True) -> Iterator[list[tuple[bytes, tuple]]]:
        low, high, low_inc, high_inc = self._key_bounds(
            self.key_types, None, lower, upper, lower_inclusive, upper_inclusive)
        decode = self.decode
        for keys, values in self.tree.scan(view, low, high, lower_inclusive=low_inc,
                                           upper_inclusive=high_inc):
            yield list(zip(keys, map(decode, values)))

    def lookup(self, view, key: tuple) -> tuple | None:
        value = self.tree.get(view, encode_key(key, self.key_types))
        return None if value is None else self.decode(value)

    def index_scan(self, view, index: str, lower=None, upper=None, *, lower_inclusive=True,
                   upper_inclusive=True, reverse=False, with_locators=False,
                   columns: tuple[int, ...] | None = None) -> Iterator[list]:
        """Rows in index order. With ``columns`` that the index covers (index columns and
        primary-key columns, see ``covers``), rows are decoded from the index keys alone
        and the other columns are None: an index-only scan, no table lookup per row."""
        handle = self._index(index)
        low, high, low_inc, high_inc = self._key_bounds(
            handle.types, handle.descending, lower, upper, lower_inclusive, upper_inclusive)
        walk = handle.tree.scan_reverse if reverse else handle.tree.scan
        from_keys = None
        if columns is not None and not with_locators and self.covers(index, columns):
            from_keys = self._index_row_decoder(handle)
        get = self.tree.get
        decode = self.decode
        for keys, locators in walk(view, low, high, lower_inclusive=low_inc,
                                   upper_inclusive=high_inc):
            if from_keys is not None:
                yield from_keys(keys)
                continue
            rows = [decode(get(view, locator)) for locator in locators]
            yield list(zip(locators, rows)) if with_locators else rows

    def covers(self, index: str, columns: tuple[int, ...]) -> bool:
        """Whether index ``index``'s keys hold all of ``columns`` (its own columns followed
        by the row's primary key)."""
        handle = self._index(index)
        held = set(handle.positions)
        if not self.has_rowid:
            held.update(self.definition.primary_key_positions)
        return set(columns) <= held

    def _index_row_decoder(self, handle: _Index):
        """``decode(keys) -> rows`` for index keys (index columns, then the primary key):
        one ``struct`` unpack per key when every key column is an ascending integer."""
        decoder = self._page_decoders.get(("index", handle.definition.name))
        if decoder is not None:
            return decoder
        positions = list(handle.positions)
        types = list(handle.types)
        descending = list(handle.descending)
        if not self.has_rowid:
            positions += self.definition.primary_key_positions
            types += [self.definition.columns[p].type
                      for p in self.definition.primary_key_positions]
            descending += [False] * len(self.definition.primary_key_positions)
        slots = {}
        for number, position in enumerate(positions):
            slots.setdefault(position, number)
        width = len(self.definition.columns)
        general = [f"v[{slots[i]}]" if i in slots else "None" for i in range(width)]
        namespace = {"decode_key": decode_key, "types": tuple(types),
                     "descending": tuple(descending)}
        lines = ["def decode(keys):"]
        if all(t is SqlType.INTEGER for t in types) and not any(descending):
            layout = struct.Struct(">" + "xQ" * len(types))
            namespace["unpack"] = layout.unpack
            fast = [f"v[{slots[i]}] - {1 << 63}" if i in slots else "None"
                    for i in range(width)]
            # A key with a NULL is shorter (a one-byte NULL tag): the general path.
            lines += [f"    return [({', '.join(fast)},) if len(k) == {layout.size} else "
                      f"({', '.join(general)},) for k in keys "
                      f"for v in [unpack(k) if len(k) == {layout.size} else "
                      f"decode_key(k, types, descending)]]"]
        else:
            lines += [f"    return [({', '.join(general)},) for v in "
                      f"(decode_key(k, types, descending) for k in keys)]"]
        exec(compile("\n".join(lines), f"<index decoder {handle.definition.name}>", "exec"),
             namespace)
        decoder = self._page_decoders[("index", handle.definition.name)] = namespace["decode"]
        return decoder

    def _index(self, name: str) -> _Index:
        for handle in self.indexes:
            if handle.definition.name == name:
                return handle
        raise KeyError(name)

    @property
    def last_row_id(self) -> int | None:
        return self._last_row_id

    # -- writes ------------------------------------------------------------------------------
    def _coerce_row(self, row: tuple) -> tuple:
        if len(row) != len(self._coercions):
            raise IntegrityError(f'table "{self.definition.name}" has {len(self._coercions)} '
                                 f"columns but {len(row)} values were given", sqlstate="42601")
        out = []
        for value, (sql_type, name, limit, not_null) in zip(row, self._coercions):
            if value is None:
                if not_null:
                    raise IntegrityError(f'null value in column "{name}" of relation '
                                         f'"{self.definition.name}" violates not-null '
                                         f"constraint", sqlstate="23502")
                out.append(None)
            else:
                out.append(coerce(value, sql_type, name, limit))
        return tuple(out)

    def _describe_key(self, index: _Index | None, row: tuple) -> str:
        if index is None:
            names = self.definition.primary_key
            values = [row[p] for p in self.definition.primary_key_positions]
        else:
            names = index.definition.columns
            values = [row[p] for p in index.positions]
        return f"Key ({', '.join(names)})=({', '.join(map(str, values))}) already exists."

    def _check_unique(self, view, row: tuple, locator: bytes | None) -> None:
        for index in self.indexes:
            if not index.definition.unique or any(row[p] is None for p in index.positions):
                continue
            prefix = index.encode(row)
            for key in index.tree.keys_with_prefix(view, prefix):
                if locator is None or key[len(prefix):] != locator:
                    raise IntegrityError(
                        f'duplicate key value violates unique constraint '
                        f'"{index.definition.name}" ({self._describe_key(index, row)})',
                        sqlstate="23505")

    def insert(self, rows: Iterable[tuple]) -> int:
        session = self.database.current_writer()
        ctx = self.database.ctx
        view = LatestView(self.database.pool)
        if any(index.definition.unique for index in self.indexes):
            return self._insert_each(session, ctx, view, rows)
        source = iter(rows)
        count = 0
        while True:
            # Rows are checked and encoded before the mini-transaction opens; without a unique
            # secondary index no row's checks depend on the rows before it in the chunk.
            entries: list[tuple[bytes, bytes, tuple]] = []
            size = 0
            last_row_id = None
            for raw in source:
                session.check_interrupt()
                row = self._coerce_row(tuple(raw))
                locator, last_row_id = self._locate(row, view)
                value = self.codec.encode(row)
                entries.append((locator, value, row))
                size += len(locator) + len(value)
                if len(entries) >= BULK_ROWS_PER_MTR or size >= BULK_BYTES_PER_MTR:
                    break
            if not entries:
                return count
            with ctx.mtr() as mtr:
                self._insert_entries(ctx, mtr, entries)
            self._last_row_id = last_row_id
            count += len(entries)

    def _locate(self, row: tuple, view) -> tuple[bytes, int | None]:
        """The row's locator (clustered key) and its row id, if it has one."""
        if self.has_rowid:
            row_id = self.database.next_row_id(self, view)
            return encode_value(row_id, SqlType.INTEGER), row_id
        row_id = row[self.integer_key_position] \
            if self.integer_key_position is not None else None
        return self.encode_key(row), row_id

    def _insert_entries(self, ctx, mtr, entries: list[tuple[bytes, bytes, tuple]]) -> None:
        """Insert a chunk of (locator, encoded row, row) into the table and its indexes, in
        key order so that neighbouring rows share a redo record (BTree.insert_new)."""
        entries.sort(key=_first)
        try:
            self.tree.insert_new(ctx, mtr, [(locator, value) for locator, value, _ in entries])
        except DuplicateKeyError as error:
            row = next(row for locator, _, row in entries if locator == error.key)
            raise IntegrityError(
                f'duplicate key value violates unique constraint '
                f'"{self.definition.name}_pkey" ({self._describe_key(None, row)})',
                sqlstate="23505") from None
        for index in self.indexes:
            index.tree.insert_new(ctx, mtr, sorted(
                (index.encode(row) + locator, locator) for locator, _, row in entries))

    def _insert_each(self, session, ctx, view, rows: Iterable[tuple]) -> int:
        """Row by row: a unique secondary index must see the rows before it in the chunk."""
        source = iter(rows)
        count = 0
        while True:
            chunk = list(itertools.islice(source, ROWS_PER_MTR))
            if not chunk:
                return count
            # Several rows share one mini-transaction: an MTR only has to be atomic, and a
            # bulk load spends much of its time opening and shipping MTRs otherwise.
            with ctx.mtr() as mtr:
                for raw in chunk:
                    session.check_interrupt()
                    self._insert_row(ctx, mtr, view, tuple(raw))
                    count += 1

    def _insert_row(self, ctx, mtr, view, raw: tuple) -> None:
        row = self._coerce_row(raw)
        locator, row_id = self._locate(row, view)
        if self.indexes:
            self._check_unique(view, row, None)
        try:
            self.tree.insert(ctx, locator, self.codec.encode(row), mtr=mtr)
        except DuplicateKeyError:
            raise IntegrityError(
                f'duplicate key value violates unique constraint '
                f'"{self.definition.name}_pkey" ({self._describe_key(None, row)})',
                sqlstate="23505") from None
        for index in self.indexes:
            index.tree.insert(ctx, index.encode(row) + locator, locator, mtr=mtr)
        self._last_row_id = row_id

    def update(self, changes: Iterable[tuple[bytes, tuple]]) -> int:
        session = self.database.current_writer()
        ctx = self.database.ctx
        view = LatestView(self.database.pool)
        count = 0
        for locator, raw in changes:
            session.check_interrupt()
            old_value = self.tree.get(view, locator)
            if old_value is None:
                continue
            old = self.decode(old_value)
            new = self._coerce_row(tuple(raw))
            new_locator = locator if self.has_rowid else self.encode_key(new)
            if self.indexes:
                self._check_unique(view, new, locator)
            if new_locator != locator:
                if self.tree.contains(view, new_locator):
                    raise IntegrityError(
                        f'duplicate key value violates unique constraint '
                        f'"{self.definition.name}_pkey" ({self._describe_key(None, new)})',
                        sqlstate="23505")
                self.tree.delete(ctx, locator)
            self.tree.insert(ctx, new_locator, self.codec.encode(new), overwrite=True)
            for index in self.indexes:
                old_key = index.encode(old) + locator
                new_key = index.encode(new) + new_locator
                if old_key != new_key:
                    index.tree.delete(ctx, old_key)
                    index.tree.insert(ctx, new_key, new_locator)
            count += 1
        return count

    def delete(self, locators: Iterable[bytes]) -> int:
        session = self.database.current_writer()
        ctx = self.database.ctx
        view = LatestView(self.database.pool)
        count = 0
        for locator in locators:
            session.check_interrupt()
            value = self.tree.get(view, locator)
            if value is None:
                continue
            row = self.decode(value)
            for index in self.indexes:
                index.tree.delete(ctx, index.encode(row) + locator)
            self.tree.delete(ctx, locator)
            count += 1
        return count
