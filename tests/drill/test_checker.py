"""The drill's invariant checker: it passes a consistent state and catches each kind of
violation (a partial read, a lost acknowledged transfer, a phantom, a restore that holds a
transfer committed after its target), on hand-made states and on a real local volume."""

from __future__ import annotations

import time

import aurora_lite
from aurora_lite.drill import Checker, Transfer
from aurora_lite.drill._bank import read_state


def _acknowledged(checker: Checker, transfer_id: int, src: int, dst: int, amount: int,
                  outcome: str = "acknowledged") -> Transfer:
    transfer = Transfer(transfer_id, 1, src, dst, amount)
    checker.begin(transfer)
    if outcome == "failed":
        checker.failed(transfer, "boom")
        return transfer
    checker.sending_commit(transfer)
    if outcome == "acknowledged":
        checker.acknowledged(transfer)
    elif outcome == "in-doubt":
        checker.in_doubt(transfer, "connection lost")
    return transfer


def _state(transfers: list[tuple[int, int, int, int]], accounts: int = 3, initial: int = 100):
    balances = {a: [initial, 0, 0] for a in range(1, accounts + 1)}
    ledger = {}
    for transfer_id, src, dst, amount in transfers:
        balances[src][0] -= amount
        balances[src][1] += 1
        balances[dst][0] += amount
        balances[dst][1] += 1
        balances[dst][2] += amount
        ledger[transfer_id] = (src, dst, amount)
    return {a: tuple(v) for a, v in balances.items()}, ledger


def _kinds(violations) -> list[str]:
    return sorted(v.kind for v in violations)


def test_a_consistent_snapshot_and_state_pass():
    checker = Checker(3, 100)
    _acknowledged(checker, 1, 1, 2, 30)
    _acknowledged(checker, 2, 2, 3, 5, outcome="in-doubt")
    _acknowledged(checker, 3, 3, 1, 7, outcome="failed")
    assert checker.snapshot("writer", 300, 2, 30, 1, 30) == []
    balances, ledger = _state([(1, 1, 2, 30), (2, 2, 3, 5)])   # the in-doubt one committed
    assert checker.check_state("writer", balances, ledger) == []
    balances, ledger = _state([(1, 1, 2, 30)])                 # ... or not
    assert checker.check_state("writer", balances, ledger) == []
    assert checker.violations == []
    assert checker.summary()["acknowledged"] == 1


def test_partial_reads_are_caught():
    checker = Checker(3, 100)
    # The debit without the credit (S1), the ledger row without the updates (S2), a credit of
    # another amount than the ledger row says (S3).
    assert _kinds(checker.snapshot("replica-1", 270, 1, 0, 0, 0)) == ["partial-read"] * 2
    assert _kinds(checker.snapshot("writer", 300, 0, 0, 1, 30)) == ["partial-read"] * 2
    assert _kinds(checker.snapshot("replica-2", 300, 2, 31, 1, 30)) == ["partial-read"]
    assert len(checker.violations) == 5
    assert {v.where for v in checker.violations} == {"writer", "replica-1", "replica-2"}


def test_lost_phantom_and_mismatched_balances_are_caught():
    checker = Checker(3, 100)
    _acknowledged(checker, 1, 1, 2, 30)
    _acknowledged(checker, 2, 2, 3, 5)
    _acknowledged(checker, 3, 3, 1, 7, outcome="failed")
    balances, ledger = _state([(1, 1, 2, 30)])                 # transfer 2 was acknowledged
    assert _kinds(checker.check_state("new writer", balances, ledger)) == ["lost-ack"]
    balances, ledger = _state([(1, 1, 2, 30), (2, 2, 3, 5), (3, 3, 1, 7)])
    assert _kinds(checker.check_state("new writer", balances, ledger)) == ["phantom"]
    balances, ledger = _state([(1, 1, 2, 30), (2, 2, 3, 5)])
    balances[1] = (balances[1][0] + 1,) + balances[1][1:]      # money from nowhere
    assert _kinds(checker.check_state("writer", balances, ledger)) == ["balance"]
    # Transfers acknowledged after the state was read are not required in it.
    balances, ledger = _state([(1, 1, 2, 30)])
    read_at = checker.transfers[2].ack_wall - 0.001
    assert checker.check_state("writer", balances, ledger, acknowledged_before=read_at) == []


def test_a_restore_must_hold_exactly_what_was_committed_by_its_time():
    checker = Checker(3, 100)
    _acknowledged(checker, 1, 1, 2, 30)
    time.sleep(0.01)
    target = time.time()
    time.sleep(0.01)
    _acknowledged(checker, 2, 2, 3, 5)
    balances, ledger = _state([(1, 1, 2, 30)])
    assert checker.check_state("restore", balances, ledger, acknowledged_before=target,
                               sent_after=target) == []
    balances, ledger = _state([(1, 1, 2, 30), (2, 2, 3, 5)])
    assert _kinds(checker.check_state("restore", balances, ledger, acknowledged_before=target,
                                      sent_after=target)) == ["restore"]
    balances, ledger = _state([])
    assert _kinds(checker.check_state("restore", balances, ledger, acknowledged_before=target,
                                      sent_after=target)) == ["lost-ack"]


def test_on_a_real_volume_an_update_outside_a_transfer_is_caught(tmp_path):
    connection = aurora_lite.connect(str(tmp_path / "bank"), storage="local", fsync=False,
                                     autocommit=True)
    try:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER, "
                           "ops INTEGER, received INTEGER)")
        connection.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, src INTEGER, "
                           "dst INTEGER, amount INTEGER, client INTEGER)")
        connection.executemany("INSERT INTO accounts VALUES (?, 100, 0, 0)", [(1,), (2,), (3,)])
        checker = Checker(3, 100)
        transfer = _acknowledged(checker, 1, 1, 3, 40)
        connection.execute("BEGIN")
        connection.execute("UPDATE accounts SET balance = balance - 40, ops = ops + 1 "
                           "WHERE id = 1")
        connection.execute("UPDATE accounts SET balance = balance + 40, ops = ops + 1, "
                           "received = received + 40 WHERE id = 3")
        connection.execute("INSERT INTO ledger VALUES (1, 1, 3, 40, 1)")
        connection.execute("COMMIT")
        assert transfer.outcome == "acknowledged"
        assert checker.check_state("writer", *read_state(connection)) == []
        # A debit committed without its credit and ledger row: what a partial transaction
        # would look like to a reader.
        connection.execute("UPDATE accounts SET balance = balance - 5, ops = ops + 1 "
                           "WHERE id = 2")
        balances, ledger = read_state(connection)
        assert _kinds(checker.check_state("writer", balances, ledger)) == ["balance"]
        row = connection.execute(
            "SELECT sum(balance), sum(ops), sum(received), (SELECT count(*) FROM ledger), "
            "(SELECT coalesce(sum(amount), 0) FROM ledger) FROM accounts").fetchall()[0]
        assert _kinds(checker.snapshot("writer", *row)) == ["partial-read"] * 2
    finally:
        connection.close()
