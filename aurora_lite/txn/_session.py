"""Sessions: transactions, statement atomicity, DDL, and the read view of each statement.

One ``Session`` per connection implements aurora_lite.txn.Session:

* A transaction starts at a read point (the newest published durable transaction end) and
  reads a snapshot there. Its first write takes the database's write lock; if another
  transaction committed after this one already read, the write fails with 40001 (the snapshot
  it read is stale, and serializability forbids writing on top of it).
* Statement atomicity: every statement starts at a savepoint (the writer's last LSN). A
  statement that fails after writing is undone by a VOID record back to the savepoint; the
  pages it changed are dropped from the pool and read again from storage once the VOID is
  durable. Nothing it did survives: rows, index entries, page allocations, catalog changes.
* Commit issues a COMMIT record, releases the write lock at once (early lock release), then
  waits without holding anything until VDL covers the commit (Invariant 2) and publishes the
  new read point. Rollback issues a VOID back to the transaction's start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Iterator

from aurora_lite.btree import BTree, LatestView
from aurora_lite.catalog import Catalog, ColumnDef, IndexDef, TableDef, ViewDef
from aurora_lite.errors import (
    IntegrityError, InternalError, OperationalError, ProgrammingError, QueryCanceledError,
    StaleEpochError,
)


@dataclasses.dataclass
class _Transaction:
    view: object                     # the registered snapshot this transaction reads
    catalog: Catalog
    explicit: bool
    writer: bool = False
    start_lsn: int = 0               # the writer's last LSN before this transaction wrote
    did_read: bool = False
    failed: bool = False


class Session:
    """A connection's transactions. Not to be shared between threads (except ``interrupt``)."""

    def __init__(self, database) -> None:
        self.database = database
        self.autocommit = False
        self._txn: _Transaction | None = None
        self._interrupted = threading.Event()
        self.closed = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._txn is not None:
            return self._txn.catalog
        return self.database.published_catalog

    @property
    def in_transaction(self) -> bool:
        return self._txn is not None

    @property
    def in_explicit_transaction(self) -> bool:
        """True inside BEGIN ... COMMIT/ROLLBACK (not an implicit PEP 249 transaction)."""
        return self._txn is not None and self._txn.explicit

    @property
    def in_write_transaction(self) -> bool:
        return self._txn is not None and self._txn.writer

    def read_view(self):
        txn = self._txn
        if txn is None:
            return self.database.snapshot()
        if txn.writer:
            return LatestView(self.database.pool)
        return txn.view

    def interrupt(self) -> None:
        """Ask the running statement to stop (safe from any thread)."""
        self._interrupted.set()

    def check_interrupt(self) -> None:
        if self._interrupted.is_set():
            self._interrupted.clear()
            raise QueryCanceledError("canceling statement due to user request")

    # -- transactions ----------------------------------------------------------------------------
    def _start(self, explicit: bool) -> _Transaction:
        database = self.database
        if database.closed:
            raise OperationalError("the database is closed")
        view = database.snapshot()
        self._txn = _Transaction(view=view, catalog=database.published_catalog,
                                 explicit=explicit)
        return self._txn

    def begin(self) -> None:
        if self._txn is not None:
            if self._txn.explicit:
                raise ProgrammingError("there is already a transaction in progress",
                                       sqlstate="25001")
            self._txn.explicit = True
            return
        self._start(explicit=True)

    def _become_writer(self, txn: _Transaction) -> None:
        database = self.database
        database.acquire_write_lock(self)
        if txn.did_read and database.last_commit_lsn > txn.view.read_point:
            database.release_write_lock(self)
            raise OperationalError("could not serialize access due to a concurrent update",
                                   sqlstate="40001")
        txn.writer = True
        txn.start_lsn = database.ctx.last_lsn
        # The writer works on the newest schema (a reader's snapshot may be older only when
        # nothing was read yet, in which case the newest one is what it should see anyway).
        txn.catalog = database.latest_catalog

    @contextlib.contextmanager
    def statement(self, *, writes: bool) -> Iterator[None]:
        txn = self._txn
        implicit = txn is None
        if implicit:
            txn = self._start(explicit=False)
        elif txn.failed:
            raise InternalError("current transaction is aborted, commands ignored until end of "
                                "transaction block", sqlstate="25P02")
        self._interrupted.clear()
        try:
            if writes and not txn.writer:
                self._become_writer(txn)
        except BaseException:
            if implicit:
                self._finish(txn)
            raise
        ctx = self.database.ctx
        savepoint = ctx.last_lsn
        catalog_before = txn.catalog
        try:
            yield
        except BaseException:
            # In autocommit mode the statement is the whole transaction: one VOID ends both.
            whole = implicit and self.autocommit
            if txn.writer and ctx.last_lsn > savepoint:
                try:
                    void_lsn = self._void(savepoint, txn_end=whole)
                    txn.catalog = catalog_before
                    if whole:
                        self.database.pool.end_epoch(void_lsn)
                        self.database.rollbacks += 1
                except BaseException:
                    txn.failed = True
                    if whole:
                        self._finish(txn)
                    raise
            if whole:
                self._finish(txn)
            raise
        txn.did_read = True
        if implicit and self.autocommit:
            self.commit()

    def commit(self) -> None:
        txn = self._txn
        if txn is None:
            return
        database = self.database
        if txn.failed:
            self.rollback()
            raise OperationalError("the transaction was rolled back because a statement could "
                                   "not be undone", sqlstate="40000")
        if not txn.writer:
            self._finish(txn)
            return
        ctx = database.ctx
        if ctx.last_lsn == txn.start_lsn:
            self._finish(txn)
            return
        database.last_txn_id += 1
        try:
            commit_lsn = database.write_commit(database.last_txn_id)
        except BaseException:
            txn.failed = True
            raise
        database.latest_catalog = txn.catalog
        database.last_commit_lsn = commit_lsn
        database.pool.end_epoch(commit_lsn)
        # Early lock release: the next writer may go on while this commit waits for storage.
        self._finish(txn)
        try:
            database.volume.wait_durable(commit_lsn, timeout=database.commit_timeout)
        except StaleEpochError:
            raise
        except OperationalError as error:
            raise OperationalError(f"commit not confirmed durable: {error.message}",
                                   sqlstate="08006") from None
        database.commits += 1
        database.publish(commit_lsn, txn.catalog)

    def rollback(self) -> None:
        txn = self._txn
        if txn is None:
            return
        try:
            if txn.writer and self.database.ctx.last_lsn > txn.start_lsn:
                void_lsn = self._void(txn.start_lsn, txn_end=True)
                self.database.pool.end_epoch(void_lsn)
                self.database.rollbacks += 1
        finally:
            self._finish(txn)

    def _finish(self, txn: _Transaction) -> None:
        if txn.writer:
            txn.writer = False
            self.database.release_write_lock(self)
        self._txn = None
        txn.view = None

    def _void(self, savepoint: int, *, txn_end: bool) -> int:
        """Undo every record after ``savepoint`` (Invariant 3: nobody sees them)."""
        database = self.database
        ctx = database.ctx
        with ctx.mtr(txn_end=txn_end) as mtr:
            for anchor in database.volume.protection_group_anchors():
                mtr.void(anchor, savepoint)
        ctx.flush()
        database.volume.wait_durable(mtr.last_lsn, timeout=database.commit_timeout)
        database.pool.discard_above(savepoint)
        database.forget_row_ids()
        return mtr.last_lsn

    def close(self) -> None:
        if not self.closed:
            try:
                self.rollback()
            finally:
                self.closed = True

    # -- tables and DDL ----------------------------------------------------------------------------
    def table(self, name: str):
        catalog = self.catalog
        if name not in catalog.tables:
            raise ProgrammingError(f'relation "{name}" does not exist', sqlstate="42P01")
        return self.database.table_handle(catalog, name)

    def _writer_txn(self) -> _Transaction:
        txn = self._txn
        if txn is None or not txn.writer:
            raise InternalError("DDL must run inside a writing statement")
        return txn

    def _replace_catalog(self, txn: _Transaction, tables=None, indexes=None, views=None) -> None:
        old = txn.catalog
        txn.catalog = Catalog(tables=old.tables if tables is None else tables,
                              indexes=old.indexes if indexes is None else indexes,
                              views=old.views if views is None else views,
                              version=self.database.next_catalog_version())

    def _check_new_relation(self, catalog: Catalog, name: str) -> None:
        if name in catalog.tables or name in catalog.views or name in catalog.indexes:
            raise ProgrammingError(f'relation "{name}" already exists', sqlstate="42P07")

    def create_table(self, name: str, columns: list[ColumnDef], primary_key: tuple[str, ...],
                     unique: list[tuple[str, ...]] = (), *, if_not_exists: bool = False
                     ) -> TableDef:
        txn = self._writer_txn()
        if if_not_exists and name in txn.catalog.tables:
            return txn.catalog.tables[name]
        self._check_new_relation(txn.catalog, name)
        names = [column.name for column in columns]
        for column_name in names:
            if names.count(column_name) > 1:
                raise ProgrammingError(f'column "{column_name}" specified more than once',
                                       sqlstate="42701")
        if not columns:
            raise ProgrammingError("a table needs at least one column", sqlstate="42601")
        for key_column in list(primary_key) + [c for group in unique for c in group]:
            if key_column not in names:
                raise ProgrammingError(f'column "{key_column}" named in key does not exist',
                                       sqlstate="42703")
        columns = [dataclasses.replace(column, not_null=True)
                   if column.name in primary_key else column for column in columns]
        ctx = self.database.ctx
        with ctx.mtr() as mtr:
            tree_id = ctx.allocate_tree_id(mtr)
        tree = BTree.create(ctx, tree_id)
        definition = TableDef(name, tuple(columns), tuple(primary_key), tree_id, tree.root)
        self.database.catalog_store.put(ctx, definition)
        tables = dict(txn.catalog.tables)
        tables[name] = definition
        self._replace_catalog(txn, tables=tables)
        for group in unique:
            if tuple(group) == tuple(primary_key):
                continue
            index_name = f"{name}_{'_'.join(group)}_key"
            suffix = 1
            while index_name in txn.catalog.indexes:
                suffix += 1
                index_name = f"{name}_{'_'.join(group)}_key{suffix}"
            self.create_index(index_name, name, tuple(group), (False,) * len(group),
                              unique=True, constraint=True)
        return definition

    def drop_table(self, name: str, *, if_exists: bool = False) -> None:
        txn = self._writer_txn()
        definition = txn.catalog.tables.get(name)
        if definition is None:
            if if_exists:
                return
            raise ProgrammingError(f'table "{name}" does not exist', sqlstate="42P01")
        _refuse_if_depended_on(txn.catalog, "table", name)
        ctx = self.database.ctx
        store = self.database.catalog_store
        indexes = dict(txn.catalog.indexes)
        for index in txn.catalog.indexes_of(name):
            BTree(self.database.pool, index.root_page, index.tree_id).destroy(ctx)
            store.remove(ctx, index)
            del indexes[index.name]
        BTree(self.database.pool, definition.root_page, definition.tree_id).destroy(ctx)
        store.remove_serials(ctx, LatestView(self.database.pool), definition)
        store.remove(ctx, definition)
        tables = dict(txn.catalog.tables)
        del tables[name]
        self._replace_catalog(txn, tables=tables, indexes=indexes)

    def next_serial(self, table: str, column: str, count: int = 1) -> int:
        """The first of ``count`` new values of the SERIAL column ``table.column`` (values
        are never handed out twice: a rollback does not give them back, as in PostgreSQL)."""
        txn = self._writer_txn()
        definition = txn.catalog.tables.get(table)
        if definition is None:
            raise ProgrammingError(f'relation "{table}" does not exist', sqlstate="42P01")
        return self.database.catalog_store.next_serial(
            self.database.ctx, LatestView(self.database.pool), definition, column, count)

    def create_index(self, name: str, table: str, columns: tuple[str, ...],
                     descending: tuple[bool, ...], *, unique: bool = False,
                     if_not_exists: bool = False, constraint: bool = False) -> IndexDef:
        txn = self._writer_txn()
        if if_not_exists and name in txn.catalog.indexes:
            return txn.catalog.indexes[name]
        self._check_new_relation(txn.catalog, name)
        definition = txn.catalog.tables.get(table)
        if definition is None:
            raise ProgrammingError(f'relation "{table}" does not exist', sqlstate="42P01")
        for column in columns:
            if column not in definition.column_names:
                raise ProgrammingError(f'column "{column}" does not exist', sqlstate="42703")
        if len(descending) != len(columns):
            raise InternalError("one direction per index column is needed")
        ctx = self.database.ctx
        with ctx.mtr() as mtr:
            tree_id = ctx.allocate_tree_id(mtr)
        tree = BTree.create(ctx, tree_id)
        index = IndexDef(name, table, tuple(columns), tuple(descending), unique, tree_id,
                         tree.root, constraint)
        from aurora_lite.txn._table import _Index
        handle = _Index(index, definition, self.database.pool)
        source = self.database.table_handle(txn.catalog, table)
        view = LatestView(self.database.pool)
        for batch in source.scan_with_locators(view):
            for locator, row in batch:
                self.check_interrupt()
                prefix = handle.encode(row)
                if unique and all(row[p] is not None for p in handle.positions) \
                        and tree.has_prefix(view, prefix):
                    raise IntegrityError(f'could not create unique index "{name}": key '
                                         f"({', '.join(columns)}) is duplicated",
                                         sqlstate="23505")
                tree.insert(ctx, prefix + locator, locator)
        self.database.catalog_store.put(ctx, index)
        indexes = dict(txn.catalog.indexes)
        indexes[name] = index
        self._replace_catalog(txn, indexes=indexes)
        return index

    def drop_index(self, name: str, *, if_exists: bool = False) -> None:
        txn = self._writer_txn()
        index = txn.catalog.indexes.get(name)
        if index is None:
            if if_exists:
                return
            raise ProgrammingError(f'index "{name}" does not exist', sqlstate="42704")
        ctx = self.database.ctx
        BTree(self.database.pool, index.root_page, index.tree_id).destroy(ctx)
        self.database.catalog_store.remove(ctx, index)
        indexes = dict(txn.catalog.indexes)
        del indexes[name]
        self._replace_catalog(txn, indexes=indexes)

    def create_view(self, view: ViewDef, *, if_not_exists: bool = False) -> None:
        txn = self._writer_txn()
        if if_not_exists and view.name in txn.catalog.views:
            return
        self._check_new_relation(txn.catalog, view.name)
        self.database.catalog_store.put(self.database.ctx, view)
        views = dict(txn.catalog.views)
        views[view.name] = view
        self._replace_catalog(txn, views=views)

    def drop_view(self, name: str, *, if_exists: bool = False) -> None:
        txn = self._writer_txn()
        view = txn.catalog.views.get(name)
        if view is None:
            if if_exists:
                return
            raise ProgrammingError(f'view "{name}" does not exist', sqlstate="42P01")
        _refuse_if_depended_on(txn.catalog, "view", name)
        self.database.catalog_store.remove(self.database.ctx, view)
        views = dict(txn.catalog.views)
        del views[name]
        self._replace_catalog(txn, views=views)


def _refuse_if_depended_on(catalog: Catalog, kind: str, name: str) -> None:
    """A view's table or view stays while the view does (PostgreSQL's 2BP01; the frontend
    reports it first, this guards other callers). DROP ... CASCADE is not supported."""
    dependents = catalog.dependent_views(name)
    if dependents:
        raise InternalError(f"cannot drop {kind} {name} because other objects depend on it: "
                            + ", ".join(f"view {view}" for view in dependents),
                            sqlstate="2BP01")
