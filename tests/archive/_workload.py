"""A seeded SQL workload that keeps an oracle of every committed transaction.

Each transaction inserts, updates and deletes rows of two tables (``notes`` bodies up to a few
KB, so the data spans several pages and, with a small pg_size, several protection groups),
sometimes hits a primary-key violation (the failing statement is voided; the transaction goes
on), sometimes rolls back, and half way creates a third table. After each COMMIT the oracle
records the commit's LSN, its commit time (read from the meta page, where the COMMIT record
put it) and the content of every table. ``expected_at(lsn)`` is the state after the last
commit at or below an LSN; ``check(connection, commit)`` compares a restored volume table by
table, row by row.
"""

from __future__ import annotations

import copy
import random
import string
import time
from dataclasses import dataclass

import aurora_lite
from aurora_lite.page import OFF_META_COMMIT_TIME, read_u64

TABLES = {
    "accounts": "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER)",
    "notes": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
}
LATE = ("events", "CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)")


@dataclass(frozen=True)
class Commit:
    index: int
    lsn: int
    time_us: int
    state: dict          # table -> sorted list of row tuples


class Workload:
    def __init__(self, connection, seed: int) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.rng = random.Random(seed)
        self.tables: dict[str, dict[int, tuple]] = {}
        self.commits: list[Commit] = []
        self.next_id = 1
        self.rollbacks = 0
        self.violations = 0
        # The volume's first transaction end (formatting it): no table yet.
        self._record()

    @property
    def database(self):
        return self.connection._database

    def setup(self) -> None:
        for name, ddl in TABLES.items():
            self.cursor.execute(ddl)
            self.tables[name] = {}
        self._commit()

    def run(self, transactions: int, *, pause: float = 0.0) -> None:
        for _ in range(transactions):
            self.transaction()
            if pause:
                time.sleep(pause)

    def transaction(self) -> None:
        rng = self.rng
        pending = copy.deepcopy(self.tables)
        if LATE[0] not in pending and len(self.commits) >= 12 and rng.random() < 0.3:
            self.cursor.execute(LATE[1])
            pending[LATE[0]] = {}
        for _ in range(rng.randint(1, 4)):
            self._statement(pending)
        if rng.random() < 0.15:
            self.connection.rollback()
            self.rollbacks += 1
            return
        self.tables = pending
        self._commit()

    def _statement(self, pending: dict) -> None:
        rng = self.rng
        roll = rng.random()
        accounts, notes = pending["accounts"], pending["notes"]
        if roll < 0.3 or not accounts:
            row = (self._id(), rng.choice(["ada", "bob", "cy", "di"]), rng.randint(0, 999))
            self.cursor.execute("INSERT INTO accounts VALUES (?, ?, ?)", row)
            accounts[row[0]] = row
        elif roll < 0.45:
            key = rng.choice(sorted(accounts))
            balance = rng.randint(-50, 5000)
            self.cursor.execute("UPDATE accounts SET balance = ? WHERE id = ?", (balance, key))
            accounts[key] = accounts[key][:2] + (balance,)
        elif roll < 0.52:
            key = rng.choice(sorted(accounts))
            self.cursor.execute("DELETE FROM accounts WHERE id = ?", (key,))
            del accounts[key]
        elif roll < 0.8:
            size = rng.choice([40, 300, 2500, 6000])
            row = (self._id(), "".join(rng.choices(string.ascii_letters, k=size)))
            self.cursor.execute("INSERT INTO notes VALUES (?, ?)", row)
            notes[row[0]] = row
        elif roll < 0.87 and notes:
            key = rng.choice(sorted(notes))
            self.cursor.execute("DELETE FROM notes WHERE id = ?", (key,))
            del notes[key]
        elif roll < 0.94:
            # A duplicate key: the statement fails and is voided; the transaction goes on.
            key = rng.choice(sorted(accounts))
            try:
                self.cursor.execute("INSERT INTO accounts VALUES (?, 'dup', 0)", (key,))
            except aurora_lite.IntegrityError:
                self.violations += 1
            else:
                raise AssertionError("a duplicate primary key was accepted")
        elif LATE[0] in pending:
            row = (self._id(), rng.choice(["open", "close", "move"]))
            self.cursor.execute("INSERT INTO events VALUES (?, ?)", row)
            pending[LATE[0]][row[0]] = row

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _commit(self) -> None:
        self.connection.commit()
        self._record()

    def _record(self) -> None:
        database = self.database
        lsn = database.read_point          # the commit just published (or the bootstrap)
        state = {name: sorted(rows.values()) for name, rows in self.tables.items()}
        if self.commits and self.commits[-1].lsn == lsn:
            # Nothing was written (or all of it voided): no COMMIT record was issued.
            assert self.commits[-1].state == state
            return
        meta = database.pool.read(0, lsn).data
        self.commits.append(Commit(len(self.commits), lsn,
                                   read_u64(meta, OFF_META_COMMIT_TIME), state))

    # -- checking -------------------------------------------------------------------------------
    def expected_at(self, lsn: int) -> Commit:
        return max((c for c in self.commits if c.lsn <= lsn), key=lambda c: c.lsn)

    def expected_at_time(self, time_us: int) -> Commit:
        return max((c for c in self.commits if c.time_us <= time_us), key=lambda c: c.lsn)


def table_contents(connection, names) -> dict:
    cursor = connection.cursor()
    contents = {}
    for name in names:
        cursor.execute(f"SELECT * FROM {name} ORDER BY id")
        contents[name] = [tuple(row) for row in cursor.fetchall()]
    return contents


def check(connection, commit: Commit) -> None:
    """The restored volume holds exactly ``commit``'s state: every table row for row, and no
    table created after it."""
    assert table_contents(connection, commit.state) == commit.state, \
        f"restored content differs from commit {commit.index} (lsn {commit.lsn})"
    for name in sorted({LATE[0], *TABLES} - set(commit.state)):
        try:
            connection.cursor().execute(f"SELECT count(*) FROM {name}")
        except aurora_lite.ProgrammingError:
            continue
        raise AssertionError(f"table {name} exists after restoring to commit {commit.index}, "
                             f"which precedes its creation")
