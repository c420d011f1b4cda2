"""An in-memory implementation of the engine API (aurora_lite.txn._api) for frontend/exec tests.

It follows the protocol docstrings: rows are coerced with ``values.coerce``; locators are the
memcomparable clustered keys (``values.encode_key``) of the primary key, or of a hidden row id;
scans return batches in key order; unique / primary key / NOT NULL violations raise
IntegrityError 23505 / 23502; a failing statement leaves nothing behind.

Simplifications (documented so nobody mistakes this for the real engine): one shared state for
every session of a database (no isolation between sessions: a reader sees other sessions'
uncommitted writes), and atomicity by an undo log (statement scope and transaction scope)
instead of read points and redo. A scan snapshots the keys of its range when it starts, so a
statement that modifies a table while it scans it does not loop forever.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
from typing import Iterable, Iterator

from aurora_lite.catalog import Catalog, ColumnDef, IndexDef, TableDef, ViewDef
from aurora_lite.errors import IntegrityError, ProgrammingError
from aurora_lite.values import SqlType, coerce, encode_key, make_key_encoder, prefix_successor

BATCH = 256


class _ReadView:
    __slots__ = ("read_point",)

    def __init__(self, read_point: int) -> None:
        self.read_point = read_point


def _key_space(types, descending, lower, upper, lower_inclusive, upper_inclusive):
    """Value-space bounds -> (low, high, low_inclusive, high_inclusive) in key bytes.

    As the real engine: a bound whose last column is DESC limits the other end of the key
    space; of two candidates for one end, the tighter wins."""
    low = high = None
    low_inc = high_inc = True
    for bound, is_lower, inclusive in ((lower, True, lower_inclusive),
                                       (upper, False, upper_inclusive)):
        if bound is None:
            continue
        bound = tuple(bound)
        encoded = encode_key(bound, types, descending)
        flipped = bool(descending and bound and descending[len(bound) - 1])
        if is_lower != flipped:
            candidate = encoded if inclusive else prefix_successor(encoded)
            if low is None or candidate > low:
                low = candidate
        else:
            candidate = prefix_successor(encoded) if inclusive else encoded
            if high is None or candidate < high:
                high = candidate
    return low, high


def _bounds(sorted_keys: list[bytes], low: bytes | None, high: bytes | None) -> tuple[int, int]:
    start = 0 if low is None else bisect.bisect_left(sorted_keys, low)
    end = len(sorted_keys) if high is None else bisect.bisect_left(sorted_keys, high)
    return start, max(start, end)


class _Index:
    """A secondary index: entries are index key + locator, mapped to the locator."""

    def __init__(self, definition: IndexDef, table: TableDef) -> None:
        self.definition = definition
        positions = [table.column_index(name) for name in definition.columns]
        self.types = [table.columns[p].type for p in positions]
        self.positions = positions
        self.encode = make_key_encoder(self.types, definition.descending, positions)
        self.entries: dict[bytes, bytes] = {}
        self.unique_keys: dict[bytes, bytes] = {}
        self._sorted: list[bytes] | None = []

    def sorted_entries(self) -> list[bytes]:
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        return self._sorted

    def check(self, row: tuple, locator: bytes, table_name: str) -> None:
        if not self.definition.unique or any(row[p] is None for p in self.positions):
            return  # NULLs never clash in a unique index, as in PostgreSQL
        owner = self.unique_keys.get(self.encode(row))
        if owner is not None and owner != locator:
            raise IntegrityError(
                f'duplicate key value violates unique constraint "{self.definition.name}"',
                sqlstate="23505")

    def add(self, row: tuple, locator: bytes) -> None:
        key = self.encode(row)
        self.entries[key + locator] = locator
        if self.definition.unique and not any(row[p] is None for p in self.positions):
            self.unique_keys[key] = locator
        self._sorted = None

    def remove(self, row: tuple, locator: bytes) -> None:
        key = self.encode(row)
        del self.entries[key + locator]
        if self.unique_keys.get(key) == locator:
            del self.unique_keys[key]
        self._sorted = None


class _TableData:
    def __init__(self, definition: TableDef) -> None:
        self.definition = definition
        self.rows: dict[bytes, tuple] = {}
        self._sorted: list[bytes] | None = []
        self.indexes: dict[str, _Index] = {}
        self.next_row_id = 1
        pk = definition.primary_key_positions
        if pk:
            self.key_of = make_key_encoder([definition.columns[p].type for p in pk], None, pk)
            self.pk_types = [definition.columns[p].type for p in pk]
        else:
            self.key_of = None
            self.pk_types = [SqlType.INTEGER]

    def sorted_keys(self) -> list[bytes]:
        if self._sorted is None:
            self._sorted = sorted(self.rows)
        return self._sorted

    def put(self, locator: bytes, row: tuple) -> None:
        for index in self.indexes.values():
            index.add(row, locator)
        if locator not in self.rows:
            self._sorted = None
        self.rows[locator] = row

    def remove(self, locator: bytes) -> tuple:
        row = self.rows.pop(locator)
        self._sorted = None
        for index in self.indexes.values():
            index.remove(row, locator)
        return row


class MemoryTableAccess:
    """TableAccess over one table of a MemoryDatabase, on behalf of one session."""

    def __init__(self, session: "MemorySession", data: _TableData) -> None:
        self._session = session
        self._data = data
        self.definition = data.definition
        self._last_row_id: int | None = None

    # -- reads -------------------------------------------------------------------------------
    def estimated_rows(self) -> int:
        return len(self._data.rows)

    def _key_range(self, lower, upper, lower_inclusive, upper_inclusive) -> list[bytes]:
        data = self._data
        keys = data.sorted_keys()
        low, high = _key_space(data.pk_types, None, lower, upper, lower_inclusive,
                               upper_inclusive)
        start, end = _bounds(keys, low, high)
        return keys[start:end]

    def scan(self, view, lower=None, upper=None, *, lower_inclusive=True, upper_inclusive=True,
             reverse=False, columns=None) -> Iterator[list[tuple]]:
        """Like the engine's scan: with ``columns``, the other columns come back as None (so
        a plan that prunes a column it reads fails here too)."""
        keys = self._key_range(lower, upper, lower_inclusive, upper_inclusive)
        if reverse:
            keys.reverse()
        rows = self._data.rows
        keep = None
        if columns is not None:
            wanted = set(columns)
            keep = [i in wanted for i in range(len(self.definition.columns))]
        for start in range(0, len(keys), BATCH):
            batch = [row for row in map(rows.get, keys[start:start + BATCH]) if row is not None]
            if keep is not None:
                batch = [tuple(v if k else None for v, k in zip(row, keep)) for row in batch]
            yield batch

    def scan_with_locators(self, view, lower=None, upper=None, *, lower_inclusive=True,
                           upper_inclusive=True) -> Iterator[list[tuple[bytes, tuple]]]:
        keys = self._key_range(lower, upper, lower_inclusive, upper_inclusive)
        rows = self._data.rows
        for start in range(0, len(keys), BATCH):
            chunk = keys[start:start + BATCH]
            yield [(key, row) for key, row in zip(chunk, map(rows.get, chunk))
                   if row is not None]

    def lookup(self, view, key: tuple) -> tuple | None:
        data = self._data
        if len(key) != len(data.definition.primary_key):
            raise ProgrammingError("lookup needs the full primary key")
        return data.rows.get(encode_key(key, data.pk_types))

    def index_scan(self, view, index: str, lower=None, upper=None, *, lower_inclusive=True,
                   upper_inclusive=True, reverse=False, with_locators=False,
                   columns=None) -> Iterator[list]:
        """Like the engine's index_scan; with ``columns`` the other columns come back None."""
        for batch in self._index_scan(index, lower, upper, lower_inclusive, upper_inclusive,
                                      reverse, with_locators):
            if columns is not None and not with_locators:
                wanted = set(columns)
                batch = [tuple(v if i in wanted else None for i, v in enumerate(row))
                         for row in batch]
            yield batch

    def _index_scan(self, index, lower, upper, lower_inclusive, upper_inclusive, reverse,
                    with_locators) -> Iterator[list]:
        found = self._data.indexes.get(index)
        if found is None:
            raise ProgrammingError(f'index "{index}" does not exist', sqlstate="42704")
        low, high = _key_space(found.types, found.definition.descending, lower, upper,
                               lower_inclusive, upper_inclusive)
        entries = found.sorted_entries()
        start, end = _bounds(entries, low, high)
        locators = [found.entries[entry] for entry in entries[start:end]]
        if reverse:
            locators.reverse()
        rows = self._data.rows
        for begin in range(0, len(locators), BATCH):
            chunk = locators[begin:begin + BATCH]
            if with_locators:
                yield [(loc, row) for loc, row in zip(chunk, map(rows.get, chunk))
                       if row is not None]
            else:
                yield [row for row in map(rows.get, chunk) if row is not None]

    # -- writes ------------------------------------------------------------------------------
    def _complete(self, row: tuple) -> tuple:
        definition = self.definition
        if len(row) != len(definition.columns):
            raise ProgrammingError(f"row has {len(row)} values, table {definition.name} has "
                                   f"{len(definition.columns)} columns")
        values = []
        for value, column in zip(row, definition.columns):
            value = coerce(value, column.type, column.name, column.max_length)
            if value is None and (column.not_null or column.name in definition.primary_key):
                raise IntegrityError(f'null value in column "{column.name}" of relation '
                                     f'"{definition.name}" violates not-null constraint',
                                     sqlstate="23502")
            values.append(value)
        return tuple(values)

    def _locator(self, row: tuple) -> bytes:
        data = self._data
        if data.key_of is None:
            row_id = data.next_row_id
            data.next_row_id += 1
            self._last_row_id = row_id
            return encode_key((row_id,), (SqlType.INTEGER,))
        pk = data.definition.primary_key_positions
        if len(pk) == 1 and data.definition.columns[pk[0]].type is SqlType.INTEGER:
            self._last_row_id = row[pk[0]]
        return data.key_of(row)

    def _check_unique(self, row: tuple, locator: bytes) -> None:
        data = self._data
        if locator in data.rows:
            raise IntegrityError(f'duplicate key value violates unique constraint '
                                 f'"{data.definition.name}_pkey"', sqlstate="23505")
        for index in data.indexes.values():
            index.check(row, locator, data.definition.name)

    def insert(self, rows: Iterable[tuple]) -> int:
        session = self._session
        session._require_write()
        data = self._data
        count = 0
        for row in rows:
            row = self._complete(tuple(row))
            locator = self._locator(row)
            self._check_unique(row, locator)
            data.put(locator, row)
            session._undo.append(lambda data=data, locator=locator: data.remove(locator))
            count += 1
        return count

    def update(self, changes: Iterable[tuple[bytes, tuple]]) -> int:
        session = self._session
        session._require_write()
        data = self._data
        count = 0
        for locator, row in changes:
            old = data.rows.get(locator)
            if old is None:
                continue
            row = self._complete(tuple(row))
            new_locator = data.key_of(row) if data.key_of is not None else locator
            data.remove(locator)
            try:
                self._check_unique(row, new_locator)
            except IntegrityError:
                data.put(locator, old)
                raise
            data.put(new_locator, row)

            def undo(data=data, locator=locator, new_locator=new_locator, old=old):
                data.remove(new_locator)
                data.put(locator, old)
            session._undo.append(undo)
            count += 1
        return count

    def delete(self, locators: Iterable[bytes]) -> int:
        session = self._session
        session._require_write()
        data = self._data
        count = 0
        for locator in locators:
            if locator not in data.rows:
                continue
            old = data.remove(locator)
            session._undo.append(lambda data=data, locator=locator, old=old:
                                 data.put(locator, old))
            count += 1
        return count

    @property
    def last_row_id(self) -> int | None:
        return self._last_row_id


class MemoryDatabase:
    """Tables and the catalog, shared by every session of this database."""

    def __init__(self) -> None:
        self.tables: dict[str, _TableData] = {}
        self.catalog = Catalog()
        self.commits = 0

    def session(self) -> "MemorySession":
        return MemorySession(self)

    def publish_catalog(self, tables=None, indexes=None, views=None) -> None:
        old = self.catalog
        self.catalog = Catalog(tables=dict(old.tables if tables is None else tables),
                               indexes=dict(old.indexes if indexes is None else indexes),
                               views=dict(old.views if views is None else views),
                               version=old.version + 1)


class MemorySession:
    """A Session of a MemoryDatabase. Atomicity by an undo log (see the module docstring)."""

    def __init__(self, database: MemoryDatabase) -> None:
        self.database = database
        self.autocommit = False
        self._in_transaction = False
        self._in_statement = False
        self._statement_writes = False
        self._undo: list = []
        self.interrupted = False
        self.statements = 0

    # -- transactions ------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self.database.catalog

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    def begin(self) -> None:
        if self._in_transaction:
            raise ProgrammingError("there is already a transaction in progress",
                                   sqlstate="25001")
        self._in_transaction = True
        self._undo = []

    def commit(self) -> None:
        self._in_transaction = False
        self._undo = []
        self.database.commits += 1

    def rollback(self) -> None:
        self._undo_to(0)
        self._in_transaction = False

    def _undo_to(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    def _require_write(self) -> None:
        if not self._in_statement or not self._statement_writes:
            raise ProgrammingError("memory engine: write outside a writing statement scope")

    @contextlib.contextmanager
    def statement(self, *, writes: bool):
        if self._in_statement:
            raise ProgrammingError("memory engine: statements may not nest")
        implicit = not self._in_transaction
        if implicit:
            self._in_transaction = True
            self._undo = []
        mark = len(self._undo)
        self._in_statement = True
        self._statement_writes = writes
        self.statements += 1
        self.interrupted = False          # as Session: an interrupt aims at a running statement
        try:
            yield
        except BaseException:
            self._undo_to(mark)
            if implicit and self.autocommit:
                self._in_transaction = False
                self._undo = []
            raise
        else:
            if implicit and self.autocommit:
                self.commit()
        finally:
            self._in_statement = False

    def read_view(self) -> _ReadView:
        return _ReadView(self.database.commits)

    def interrupt(self) -> None:
        """Ask the running statement to stop (from any thread), as Session.interrupt."""
        self.interrupted = True

    def check_interrupt(self) -> None:
        if self.interrupted:
            from aurora_lite.errors import QueryCanceledError
            self.interrupted = False
            raise QueryCanceledError("canceling statement due to user request")

    # -- tables and DDL ----------------------------------------------------------------------
    def table(self, name: str) -> MemoryTableAccess:
        data = self.database.tables.get(name)
        if data is None:
            raise ProgrammingError(f'relation "{name}" does not exist', sqlstate="42P01")
        return MemoryTableAccess(self, data)

    def _catalog_undo(self) -> None:
        database = self.database
        catalog = database.catalog
        tables = dict(database.tables)

        def undo():
            database.catalog = dataclasses.replace(catalog, version=database.catalog.version + 1)
            database.tables.clear()
            database.tables.update(tables)
        self._undo.append(undo)

    def create_table(self, name: str, columns: list[ColumnDef], primary_key: tuple[str, ...],
                     unique: list[tuple[str, ...]] = (), *, if_not_exists: bool = False
                     ) -> TableDef:
        self._require_write()
        database = self.database
        if name in database.tables or name in database.catalog.views:
            if if_not_exists:
                return database.catalog.tables.get(name)
            raise ProgrammingError(f'relation "{name}" already exists', sqlstate="42P07")
        names = [column.name for column in columns]
        for column_name in list(primary_key) + [c for cols in unique for c in cols]:
            if column_name not in names:
                raise ProgrammingError(f'column "{column_name}" named in key does not exist',
                                       sqlstate="42703")
        definition = TableDef(name=name, columns=tuple(columns), primary_key=tuple(primary_key),
                              tree_id=len(database.tables) + 1)
        self._catalog_undo()
        data = _TableData(definition)
        database.tables[name] = data
        indexes = dict(database.catalog.indexes)
        for cols in unique:
            index_name = f"{name}_{'_'.join(cols)}_key"
            index = IndexDef(name=index_name, table=name, columns=tuple(cols),
                             descending=(False,) * len(cols), unique=True, constraint=True)
            indexes[index_name] = index
            data.indexes[index_name] = _Index(index, definition)
        tables = dict(database.catalog.tables)
        tables[name] = definition
        database.publish_catalog(tables=tables, indexes=indexes)
        return definition

    def drop_table(self, name: str, *, if_exists: bool = False) -> None:
        self._require_write()
        database = self.database
        if name not in database.tables:
            if if_exists:
                return
            raise ProgrammingError(f'table "{name}" does not exist', sqlstate="42P01")
        self._catalog_undo()
        del database.tables[name]
        tables = {k: v for k, v in database.catalog.tables.items() if k != name}
        indexes = {k: v for k, v in database.catalog.indexes.items() if v.table != name}
        database.publish_catalog(tables=tables, indexes=indexes)

    def create_index(self, name: str, table: str, columns: tuple[str, ...],
                     descending: tuple[bool, ...], *, unique: bool = False,
                     if_not_exists: bool = False) -> IndexDef:
        self._require_write()
        database = self.database
        if name in database.catalog.indexes or name in database.tables:
            if if_not_exists:
                return database.catalog.indexes.get(name)
            raise ProgrammingError(f'relation "{name}" already exists', sqlstate="42P07")
        data = database.tables.get(table)
        if data is None:
            raise ProgrammingError(f'relation "{table}" does not exist', sqlstate="42P01")
        for column in columns:
            if column not in data.definition.column_names:
                raise ProgrammingError(f'column "{column}" does not exist', sqlstate="42703")
        definition = IndexDef(name=name, table=table, columns=tuple(columns),
                              descending=tuple(descending), unique=unique)
        index = _Index(definition, data.definition)
        for locator, row in data.rows.items():
            index.check(row, locator, table)
            index.add(row, locator)
        self._catalog_undo()
        data.indexes[name] = index
        indexes = dict(database.catalog.indexes)
        indexes[name] = definition
        database.publish_catalog(indexes=indexes)

        def undo(data=data, name=name):
            data.indexes.pop(name, None)
        self._undo.append(undo)
        return definition

    def drop_index(self, name: str, *, if_exists: bool = False) -> None:
        self._require_write()
        database = self.database
        definition = database.catalog.indexes.get(name)
        if definition is None:
            if if_exists:
                return
            raise ProgrammingError(f'index "{name}" does not exist', sqlstate="42704")
        data = database.tables[definition.table]
        index = data.indexes.pop(name)
        self._undo.append(lambda: data.indexes.__setitem__(name, index))
        self._catalog_undo()
        indexes = {k: v for k, v in database.catalog.indexes.items() if k != name}
        database.publish_catalog(indexes=indexes)

    def create_view(self, view: ViewDef, *, if_not_exists: bool = False) -> None:
        self._require_write()
        database = self.database
        if view.name in database.catalog.views or view.name in database.tables:
            if if_not_exists:
                return
            raise ProgrammingError(f'relation "{view.name}" already exists', sqlstate="42P07")
        self._catalog_undo()
        views = dict(database.catalog.views)
        views[view.name] = view
        database.publish_catalog(views=views)

    def drop_view(self, name: str, *, if_exists: bool = False) -> None:
        self._require_write()
        database = self.database
        if name not in database.catalog.views:
            if if_exists:
                return
            raise ProgrammingError(f'view "{name}" does not exist', sqlstate="42P01")
        self._catalog_undo()
        views = {k: v for k, v in database.catalog.views.items() if k != name}
        database.publish_catalog(views=views)
