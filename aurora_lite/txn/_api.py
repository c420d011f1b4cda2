"""The storage engine as the SQL layers see it: sessions, read views and table access.

This is the seam between ``exec``/``frontend`` (above) and ``catalog``/``txn``/``btree``
(below). Everything the executor does to data goes through these methods; the executor never
sees pages, keys or redo.

Conventions
-----------
* A row is a tuple of Python values in the table's column order (int, float, str, bool, bytes,
  datetime.date, datetime.datetime, or None). Values passed to ``insert``/``update`` are coerced
  to the column types (``aurora_lite.values.coerce``) and checked here.
* A *locator* is an opaque ``bytes`` naming one row of a table (its clustered key). Scans that
  feed UPDATE/DELETE return (locator, row) pairs.
* Scans yield rows in **batches** (lists), one B-tree leaf at a time, so per-row Python overhead
  is paid in tight loops. Batches may be empty.
* Bounds of a range scan are tuples of values: a prefix of the primary key (or of the index
  columns); ``None`` means unbounded on that side. A bound value None inside the tuple means
  SQL NULL (which sorts after every value, as in PostgreSQL).
* All errors are aurora_lite.errors exceptions: IntegrityError (unique / primary key / not null,
  SQLSTATE 23505 / 23502), DataError (bad value for a column), ProgrammingError (unknown table,
  already exists: 42P01 / 42P07), OperationalError (storage unavailable, lock timeout).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol

from aurora_lite.catalog._schema import Catalog, ColumnDef, IndexDef, TableDef, ViewDef


class ReadView(Protocol):
    """What a statement reads: a read point (a durable transaction end), or, inside the write
    transaction, the newest versions including the transaction's own changes."""

    read_point: int


class TableAccess(Protocol):
    definition: TableDef

    def estimated_rows(self) -> int:
        """A cheap estimate of the row count (for the planner)."""

    def scan(self, view: ReadView, lower: tuple | None = None, upper: tuple | None = None, *,
             lower_inclusive: bool = True, upper_inclusive: bool = True,
             reverse: bool = False) -> Iterator[list[tuple]]:
        """Rows in primary-key order (row-id order without a primary key), in batches."""

    def scan_with_locators(self, view: ReadView, lower: tuple | None = None,
                           upper: tuple | None = None, *, lower_inclusive: bool = True,
                           upper_inclusive: bool = True
                           ) -> Iterator[list[tuple[bytes, tuple]]]:
        """Like ``scan`` but each element is (locator, row)."""

    def lookup(self, view: ReadView, key: tuple) -> tuple | None:
        """The row whose full primary key equals ``key``, or None."""

    def index_scan(self, view: ReadView, index: str, lower: tuple | None = None,
                   upper: tuple | None = None, *, lower_inclusive: bool = True,
                   upper_inclusive: bool = True, reverse: bool = False,
                   with_locators: bool = False) -> Iterator[list]:
        """Rows in the order of index ``index`` (ASC/DESC per column as declared), in batches;
        with ``with_locators`` each element is (locator, row)."""

    def insert(self, rows: Iterable[tuple]) -> int:
        """Insert complete rows (defaults already filled in); return the count. Assigns the
        hidden row id when the table has no primary key. Atomic per call only together with
        the session's statement scope."""

    def update(self, changes: Iterable[tuple[bytes, tuple]]) -> int:
        """Replace the rows named by locators with new complete rows; return the count."""

    def delete(self, locators: Iterable[bytes]) -> int:
        """Delete the rows named by locators; return the count."""

    @property
    def last_row_id(self) -> int | None:
        """The hidden row id (or integer primary key) of the last inserted row."""


class Session(Protocol):
    """One connection's view of the database. Not shared between threads."""

    autocommit: bool

    @property
    def catalog(self) -> Catalog:
        """The schema as this session sees it (its own uncommitted DDL included)."""

    @property
    def in_transaction(self) -> bool: ...

    def begin(self) -> None:
        """Start an explicit transaction (BEGIN). Error if one is open."""

    def commit(self) -> None:
        """Commit; returns only when storage reports the commit durable (VDL >= commit LSN)."""

    def rollback(self) -> None: ...

    def statement(self, *, writes: bool):
        """Context manager around one statement: statement atomicity (a failing statement
        leaves nothing behind), an implicit transaction per PEP 249 when not in autocommit
        mode, and an automatic commit in autocommit mode. ``writes`` says whether the statement
        may change data or schema (it then takes the write lock)."""

    def read_view(self) -> ReadView:
        """The view the current statement reads."""

    def table(self, name: str) -> TableAccess:
        """Access to table ``name`` (ProgrammingError 42P01 if it does not exist)."""

    def create_table(self, name: str, columns: list[ColumnDef], primary_key: tuple[str, ...],
                     unique: list[tuple[str, ...]] = (), *, if_not_exists: bool = False
                     ) -> TableDef: ...

    def drop_table(self, name: str, *, if_exists: bool = False) -> None: ...

    def create_index(self, name: str, table: str, columns: tuple[str, ...],
                     descending: tuple[bool, ...], *, unique: bool = False,
                     if_not_exists: bool = False) -> IndexDef:
        """Create and fill an index (IntegrityError if ``unique`` and existing rows clash)."""

    def drop_index(self, name: str, *, if_exists: bool = False) -> None: ...

    def create_view(self, view: ViewDef, *, if_not_exists: bool = False) -> None: ...

    def drop_view(self, name: str, *, if_exists: bool = False) -> None: ...

    def check_interrupt(self) -> None:
        """Raise QueryCanceledError if the connection was interrupted; long loops call it."""
