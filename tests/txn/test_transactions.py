"""Transactions: commit, rollback, statement atomicity, isolation, locking, DDL rollback."""

from __future__ import annotations

import threading

import pytest

from aurora_lite.errors import IntegrityError, OperationalError, ProgrammingError
from aurora_lite.page import OFF_META_NEXT_PAGE, read_u64

from tests.txn.conftest import make_table, rows_of


def insert(session, rows, name="t"):
    with session.statement(writes=True):
        return session.table(name).insert(rows)


def test_commit_and_rollback(database):
    session = database.session()
    make_table(session)
    session.commit()
    insert(session, [(1, "a", 1.0), (2, "b", 2.0)])
    session.rollback()
    assert rows_of(session) == []
    insert(session, [(3, "c", None)])
    session.commit()
    assert rows_of(session) == [(3, "c", None)]
    assert database.statistics()["commits"] >= 2


def test_failed_statement_leaves_nothing_behind(database):
    session = database.session()
    session.autocommit = True
    make_table(session)
    insert(session, [(0, "zero", 0.0)])
    meta = database.pool.get(0).image.data
    high_water = read_u64(meta, OFF_META_NEXT_PAGE)
    # Thousands of rows split pages and allocate new ones before the duplicate fails.
    batch = [(i, "x" * 200, float(i)) for i in range(1, 3000)] + [(0, "dup", 0.0)]
    with pytest.raises(IntegrityError) as info:
        insert(session, batch)
    assert info.value.sqlstate == "23505"
    assert rows_of(session) == [(0, "zero", 0.0)]
    assert read_u64(database.pool.get(0).image.data, OFF_META_NEXT_PAGE) == high_water
    # The table still works and its tree is sound after the VOID.
    insert(session, [(1, "one", 1.0)])
    assert [row[0] for row in rows_of(session)] == [0, 1]


def test_statement_rollback_inside_transaction_keeps_earlier_statements(database):
    session = database.session()
    make_table(session, unique=[("name",)])
    insert(session, [(1, "a", 1.0)])
    with pytest.raises(IntegrityError):
        insert(session, [(2, "b", 2.0), (3, "a", 3.0)])
    insert(session, [(4, "d", 4.0)])
    session.commit()
    assert [row[0] for row in rows_of(session)] == [1, 4]


def test_not_null_and_primary_key(database):
    session = database.session()
    session.autocommit = True
    make_table(session)
    with pytest.raises(IntegrityError) as info:
        insert(session, [(None, "x", 1.0)])
    assert info.value.sqlstate == "23502"
    insert(session, [(1, "x", 1.0)])
    with pytest.raises(IntegrityError):
        insert(session, [(1, "y", 1.0)])


def test_readers_see_committed_snapshots_only(database):
    writer = database.session()
    reader = database.session()
    writer.autocommit = True
    make_table(writer)
    insert(writer, [(i, "old", 0.0) for i in range(500)])
    writer.autocommit = False
    reader.begin()
    before = rows_of(reader)
    insert(writer, [(i, "new", 1.0) for i in range(500, 1500)])
    with writer.statement(writes=True):
        table = writer.table("t")
        view = writer.read_view()
        changes = [(loc, (row[0], "changed", 2.0)) for batch in table.scan_with_locators(view)
                   for loc, row in batch if row[0] < 100]
        table.update(changes)
    assert rows_of(reader) == before            # uncommitted: invisible
    writer.commit()
    assert rows_of(reader) == before            # committed later than the snapshot: invisible
    reader.commit()
    after = rows_of(reader)                       # a new transaction sees it
    assert len(after) == 1500 and after[0] == (0, "changed", 2.0)


def test_reader_does_not_block_writer_and_vice_versa(database):
    writer = database.session()
    writer.autocommit = True
    make_table(writer)
    insert(writer, [(i, "v", 0.0) for i in range(2000)])
    reader = database.session()
    reader.begin()
    seen = []
    with reader.statement(writes=False):
        scan = reader.table("t").scan(reader.read_view())
        seen.extend(next(scan))                   # a scan is open at a read point...
        done = threading.Event()

        def write():
            insert(writer, [(i, "w", 1.0) for i in range(2000, 4000)])   # ...the writer goes on
            done.set()
        thread = threading.Thread(target=write)
        thread.start()
        assert done.wait(30), "writer blocked by an open reader"
        thread.join()
        for batch in scan:
            seen.extend(batch)
    assert len(seen) == 2000 and all(row[1] == "v" for row in seen)
    reader.commit()
    assert len(rows_of(reader)) == 4000


def test_second_writer_times_out(database):
    first = database.session()
    second = database.session()
    make_table(first)
    first.commit()
    insert(first, [(1, "a", 1.0)])
    with pytest.raises(OperationalError) as info:
        insert(second, [(2, "b", 2.0)])
    assert info.value.sqlstate == "55P03"
    first.commit()
    insert(second, [(2, "b", 2.0)])
    second.commit()


def test_write_after_stale_read_is_a_serialization_failure(database):
    setup = database.session()
    setup.autocommit = True
    make_table(setup)
    stale = database.session()
    stale.begin()
    rows_of(stale)
    insert(setup, [(1, "a", 1.0)])
    with pytest.raises(OperationalError) as info:
        insert(stale, [(2, "b", 2.0)])
    assert info.value.sqlstate == "40001"
    stale.rollback()


def test_ddl_rolls_back(database):
    session = database.session()
    make_table(session, "kept")
    session.commit()
    make_table(session, "dropped_by_rollback")
    insert(session, [(1, "a", 1.0)], "dropped_by_rollback")
    with session.statement(writes=True):
        session.drop_table("kept")
    session.rollback()
    assert "kept" in session.catalog.tables
    assert "dropped_by_rollback" not in session.catalog.tables
    with pytest.raises(ProgrammingError):
        session.table("dropped_by_rollback")


def test_indexes_follow_updates_and_deletes(database):
    session = database.session()
    session.autocommit = True
    make_table(session)
    with session.statement(writes=True):
        session.create_index("by_name", "t", ("name", "score"), (False, True))
    insert(session, [(i, f"n{i % 7}", float(i)) for i in range(300)])
    with session.statement(writes=True):
        table = session.table("t")
        view = session.read_view()
        doomed = [loc for batch in table.scan_with_locators(view) for loc, row in batch
                  if row[0] % 3 == 0]
        table.delete(doomed)
        changes = [(loc, (row[0], "moved", row[2])) for batch in table.scan_with_locators(view)
                   for loc, row in batch if row[0] % 3 == 1]
        table.update(changes)
    with session.statement(writes=False):
        view = session.read_view()
        table = session.table("t")
        by_index = [row for batch in table.index_scan(view, "by_name", ("n2",), ("n2",))
                    for row in batch]
        expected = sorted((row for row in rows_of(session) if row[1] == "n2"),
                          key=lambda row: -row[2])
        assert by_index == expected
        moved = [row for batch in table.index_scan(view, "by_name", ("moved",), ("moved",))
                 for row in batch]
        assert len(moved) == 100
