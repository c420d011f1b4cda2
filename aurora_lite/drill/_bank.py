"""The drill's workload: bank transfers over the PostgreSQL wire protocol, and readers.

Tables (created by ``create_schema`` on the writer)::

    accounts(id INTEGER PRIMARY KEY, balance INTEGER, ops INTEGER, received INTEGER)
    ledger(id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER, client INTEGER)

A transfer (one transaction): debit ``src`` (ops + 1), credit ``dst`` (ops + 1, received +
amount), insert the ledger row with the transfer's id, COMMIT. Each client thread holds one
connection to the current writer (``writer_address()``, re-read after every failure, so
clients follow a failover) and reports every outcome to the ``Checker``. Each reader thread
reads one target (the writer or a replica) in a single statement - one read point - and
checks S1-S3 (``_checker``). Threads are daemons and stop when ``stop`` is set; every wait on
the network is bounded by the server's own timeouts and the join timeout of ``Workload.stop``.

Test-only (``split_gap``, set by the drill's fault injection, never otherwise):
``split_one_transfer()`` makes client 1 commit its next transfer as two transactions,
``split_gap`` seconds apart - the debit, then the credit and the ledger row - so that readers
see a partial transfer, which the checker must report.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Callable

import aurora_lite
from aurora_lite.drill._checker import Checker, Transfer
from aurora_lite.errors import Error

SNAPSHOT_SQL = ("SELECT sum(balance), sum(ops), sum(received), (SELECT count(*) FROM ledger), "
                "(SELECT coalesce(sum(amount), 0) FROM ledger) FROM accounts")
RETRY_DELAY = 0.02        # between reconnection attempts of a client
USER = "drill"


def connect(address: str, *, autocommit: bool = False, timeout: float = 5.0):
    return aurora_lite.connect(f"postgresql://{USER}@{address}/drill", autocommit=autocommit,
                               connect_timeout=timeout)


def close_quietly(connection) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception:
            pass


def create_schema(address: str, accounts: int, initial: int) -> None:
    connection = connect(address, autocommit=True)
    try:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT "
                           "NULL, ops INTEGER NOT NULL, received INTEGER NOT NULL)")
        connection.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, "
                           "dst INTEGER NOT NULL, amount INTEGER NOT NULL, client INTEGER NOT "
                           "NULL)")
        connection.executemany("INSERT INTO accounts VALUES (?, ?, 0, 0)",
                               [(account, initial) for account in range(1, accounts + 1)])
    finally:
        close_quietly(connection)


def read_state(connection) -> tuple[dict, dict]:
    """(balances, ledger) at one read point: a read-only transaction of two statements is not
    guaranteed one snapshot everywhere, so the ledger is read with the accounts in one query."""
    rows = connection.execute(
        "SELECT 'a', id, balance, ops, received FROM accounts UNION ALL "
        "SELECT 'l', id, src, dst, amount FROM ledger").fetchall()
    balances = {row[1]: (row[2], row[3], row[4]) for row in rows if row[0] == "a"}
    ledger = {row[1]: (row[2], row[3], row[4]) for row in rows if row[0] == "l"}
    return balances, ledger


class Workload:
    """Transfer clients and readers running until ``stop()``."""

    def __init__(self, checker: Checker, *, seed: int, clients: int, accounts: int,
                 writer_address: Callable[[], str | None],
                 readers: dict[str, Callable[[], str | None]], read_interval: float = 0.1,
                 think_time: float = 0.0, split_gap: float | None = None) -> None:
        self.checker = checker
        self.seed = seed
        self.clients = clients
        self.accounts = accounts
        self.writer_address = writer_address
        self.readers = readers
        self.read_interval = read_interval
        self.think_time = think_time
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.split_gap = split_gap
        self._split = threading.Event()
        self.split_done = threading.Event()

    def start(self) -> "Workload":
        for client in range(1, self.clients + 1):
            self._spawn(self._client, client, f"drill-client-{client}")
        for where, address in self.readers.items():
            self._spawn(self._reader, (where, address), f"drill-reader-{where}")
        return self

    def _spawn(self, target, argument, name: str) -> None:
        thread = threading.Thread(target=target, args=(argument,), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop every thread; the names of those still running after ``timeout`` (stuck in a
        network call: they are daemons and die with the process)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [thread.name for thread in self._threads if thread.is_alive()]

    def split_one_transfer(self) -> None:
        """Test-only: client 1's next transfer is committed in two halves (module docstring)."""
        if self.split_gap is None:
            raise RuntimeError("this workload was not made with a split_gap (test-only)")
        self._split.set()

    def _next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    # -- clients -------------------------------------------------------------------------------
    def _client(self, client: int) -> None:
        rng = random.Random(self.seed * 1000 + client)
        connection = None
        while not self._stop.is_set():
            if connection is None:
                address = self.writer_address()
                try:
                    connection = connect(address) if address else None
                except Error:
                    connection = None
                if connection is None:
                    self._stop.wait(RETRY_DELAY)
                    continue
            src, dst = rng.sample(range(1, self.accounts + 1), 2)
            transfer = Transfer(self._next_id(), client, src, dst, rng.randint(1, 100))
            if client == 1 and self._split.is_set() and not self.split_done.is_set():
                transfer_ok = self._split_transfer(connection, transfer)
            else:
                transfer_ok = self._transfer(connection, transfer)
            if not transfer_ok:
                close_quietly(connection)
                connection = None
                self._stop.wait(RETRY_DELAY)
            elif self.think_time:
                self._stop.wait(self.think_time)
        close_quietly(connection)

    def _transfer(self, connection, transfer: Transfer) -> bool:
        """Run one transfer; False if the connection should be dropped."""
        checker = self.checker
        checker.begin(transfer)
        try:
            connection.execute("UPDATE accounts SET balance = balance - ?, ops = ops + 1 "
                               "WHERE id = ?", (transfer.amount, transfer.src))
            connection.execute("UPDATE accounts SET balance = balance + ?, ops = ops + 1, "
                               "received = received + ? WHERE id = ?",
                               (transfer.amount, transfer.amount, transfer.dst))
            connection.execute("INSERT INTO ledger VALUES (?, ?, ?, ?, ?)",
                               (transfer.id, transfer.src, transfer.dst, transfer.amount,
                                transfer.client))
        except Error as error:
            checker.failed(transfer, _describe(error))
            try:
                connection.rollback()
                return True
            except Error:
                return False
        checker.sending_commit(transfer)
        try:
            connection.commit()
        except Error as error:
            checker.in_doubt(transfer, _describe(error))
            return False
        checker.acknowledged(transfer)
        return True

    def _split_transfer(self, connection, transfer: Transfer) -> bool:
        """Test-only: the debit commits alone; the credit and the ledger row ``split_gap``
        seconds later. Readers in between see money missing (S1) and an account update
        without its ledger row (S2)."""
        checker = self.checker
        checker.begin(transfer)
        try:
            try:
                connection.execute("UPDATE accounts SET balance = balance - ?, ops = ops + 1 "
                                   "WHERE id = ?", (transfer.amount, transfer.src))
                connection.commit()
                self._stop.wait(self.split_gap)
                connection.execute("UPDATE accounts SET balance = balance + ?, ops = ops + 1, "
                                   "received = received + ? WHERE id = ?",
                                   (transfer.amount, transfer.amount, transfer.dst))
                connection.execute("INSERT INTO ledger VALUES (?, ?, ?, ?, ?)",
                                   (transfer.id, transfer.src, transfer.dst, transfer.amount,
                                    transfer.client))
                checker.sending_commit(transfer)
                connection.commit()
            except Error as error:
                checker.in_doubt(transfer, _describe(error))
                return False
            checker.acknowledged(transfer)
            return True
        finally:
            self.split_done.set()

    # -- readers -------------------------------------------------------------------------------
    def _reader(self, spec: tuple[str, Callable[[], str | None]]) -> None:
        where, address_of = spec
        connection = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    address = address_of()
                    if not address:
                        self._stop.wait(self.read_interval)
                        continue
                    connection = connect(address, autocommit=True)
                row = connection.execute(SNAPSHOT_SQL).fetchall()[0]
                if row[0] is not None:          # None: the accounts are not there yet
                    self.checker.snapshot(where, *row)
            except Error as error:
                self.checker.read_failed(where, _describe(error))
                close_quietly(connection)
                connection = None
            self._stop.wait(self.read_interval)
        close_quietly(connection)


def _describe(error: Error) -> str:
    state = getattr(error, "sqlstate", None)
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{state}: {text}" if state else text
