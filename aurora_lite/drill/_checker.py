"""The drill's invariant checker: what the bank-transfer clients were told, and what readers saw.

Every transfer has an id (the primary key of its ledger row) and one client-side outcome:

* **acknowledged** - COMMIT returned: it must be present everywhere from then on, on every
  writer after any failure, and in a restore to any time at or after its acknowledgement;
* **in doubt** - COMMIT was sent but no answer came (the connection broke, the writer said it
  could not confirm durability): it may be present or absent, but never partly;
* **failed** - a statement before COMMIT failed (nothing was committed): it must be absent.

A transfer moves ``amount`` from ``src`` to ``dst`` and, in the same transaction, adds 1 to
``ops`` of both accounts, ``amount`` to ``received`` of ``dst``, and inserts its ledger row. So
in any state that holds only whole transactions (Invariant 3):

* S1 ``sum(balance) == accounts * initial``             (money is conserved)
* S2 ``sum(ops) == 2 * count(ledger)``                   (no update without its ledger row)
* S3 ``sum(received) == sum(ledger.amount)``             (the ledger row matches the credit)

and, with the whole ledger at hand, each balance is ``initial + in - out`` (B1). A reader that
sees a violation of S1-S3 has seen a partial transaction. The checker is thread-safe: client
and reader threads report into it; steps read counters from it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    kind: str          # "partial-read", "lost-ack", "phantom", "balance", "restore"
    where: str         # the target ("writer", "replica-1", "restore", ...)
    detail: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class Transfer:
    id: int
    client: int
    src: int
    dst: int
    amount: int
    sent_wall: float | None = None      # time.time() just before COMMIT was sent
    ack_wall: float | None = None       # time.time() just after COMMIT returned
    ack_mono: float | None = None
    outcome: str = "pending"            # acknowledged | in-doubt | failed
    error: str = ""


class Checker:
    """Client outcomes, reader snapshots and the violations found (thread-safe)."""

    def __init__(self, accounts: int, initial: int) -> None:
        self.accounts = accounts
        self.initial = initial
        self.total = accounts * initial
        self._lock = threading.Lock()
        self.transfers: dict[int, Transfer] = {}
        self.violations: list[Violation] = []
        self.reads: Counter[str] = Counter()          # consistent snapshots per target
        self.read_errors: Counter[str] = Counter()
        self.last_read: dict[str, float] = {}         # target -> monotonic time of last read
        self.last_error: dict[str, str] = {}
        self.acks = 0
        self.last_ack_mono = 0.0
        self._ack_times: list[float] = []             # monotonic, in order

    # -- clients -------------------------------------------------------------------------------
    def begin(self, transfer: Transfer) -> None:
        with self._lock:
            self.transfers[transfer.id] = transfer

    def sending_commit(self, transfer: Transfer) -> None:
        transfer.sent_wall = time.time()

    def acknowledged(self, transfer: Transfer) -> None:
        now = time.monotonic()
        transfer.ack_wall = time.time()
        transfer.ack_mono = now
        with self._lock:
            transfer.outcome = "acknowledged"
            self.acks += 1
            self.last_ack_mono = now
            self._ack_times.append(now)

    def in_doubt(self, transfer: Transfer, error: str) -> None:
        with self._lock:
            transfer.outcome, transfer.error = "in-doubt", error

    def failed(self, transfer: Transfer, error: str) -> None:
        with self._lock:
            transfer.outcome, transfer.error = "failed", error

    def acks_between(self, start: float, end: float = float("inf")) -> int:
        """Acknowledgements received in [start, end) (monotonic times)."""
        import bisect
        with self._lock:
            times = self._ack_times
            return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)

    def first_ack_after(self, start: float) -> float | None:
        import bisect
        with self._lock:
            times = self._ack_times
            index = bisect.bisect_left(times, start)
            return times[index] if index < len(times) else None

    def outcomes(self) -> Counter[str]:
        with self._lock:
            return Counter(t.outcome for t in self.transfers.values())

    # -- readers -------------------------------------------------------------------------------
    def snapshot(self, where: str, balance_sum: int, ops_sum: int, received_sum: int,
                 ledger_count: int, ledger_sum: int) -> list[Violation]:
        """Check one consistent read (S1-S3); record and return the violations."""
        found = []
        if balance_sum != self.total:
            found.append(Violation("partial-read", where, f"S1: sum(balance) = {balance_sum}, "
                                   f"expected {self.total}"))
        if ops_sum != 2 * ledger_count:
            found.append(Violation("partial-read", where, f"S2: sum(ops) = {ops_sum} but "
                                   f"{ledger_count} ledger rows (expected {2 * ledger_count})"))
        if received_sum != ledger_sum:
            found.append(Violation("partial-read", where, f"S3: sum(received) = "
                                   f"{received_sum} but the ledger moved {ledger_sum}"))
        with self._lock:
            self.reads[where] += 1
            self.last_read[where] = time.monotonic()
            self.violations.extend(found)
        return found

    def read_failed(self, where: str, error: str) -> None:
        with self._lock:
            self.read_errors[where] += 1
            self.last_error[where] = error

    def reads_between(self, where: str, start: float) -> bool:
        with self._lock:
            return self.last_read.get(where, 0.0) >= start

    def report(self, violations: list[Violation]) -> list[Violation]:
        with self._lock:
            self.violations.extend(violations)
        return violations

    def violations_since(self, start: float) -> list[Violation]:
        with self._lock:
            return [v for v in self.violations if v.at >= start]

    # -- whole-state checks --------------------------------------------------------------------
    def check_state(self, where: str, balances: dict[int, tuple[int, int, int]],
                    ledger: dict[int, tuple[int, int, int]], *,
                    acknowledged_before: float | None = None,
                    sent_after: float | None = None) -> list[Violation]:
        """Check a whole state: ``balances`` {account: (balance, ops, received)}, ``ledger``
        {id: (src, dst, amount)} read at one read point.

        B1 every balance is initial + in - out of the ledger (and ops, received agree); every
        acknowledged transfer is present (only those acknowledged at or before
        ``acknowledged_before``, a wall time, if given: the time the state was read, or a
        restore's target); nothing failed or unknown is present, nor (with ``sent_after``) anything whose COMMIT was sent after that time.
        """
        found = []
        expected = {account: [self.initial, 0, 0] for account in balances}
        for transfer_id, (src, dst, amount) in ledger.items():
            for account in (src, dst):
                if account not in expected:
                    found.append(Violation("balance", where, f"ledger row {transfer_id} names "
                                           f"account {account}, which does not exist"))
                    expected[account] = [self.initial, 0, 0]
            expected[src][0] -= amount
            expected[src][1] += 1
            expected[dst][0] += amount
            expected[dst][1] += 1
            expected[dst][2] += amount
        if len(balances) != self.accounts:
            found.append(Violation("balance", where, f"{len(balances)} accounts, expected "
                                   f"{self.accounts}"))
        wrong = [(account, balances.get(account), tuple(values))
                 for account, values in sorted(expected.items())
                 if balances.get(account) != tuple(values)]
        if wrong:
            account, got, want = wrong[0]
            found.append(Violation("balance", where, f"B1: {len(wrong)} account(s) disagree "
                                   f"with the ledger, e.g. account {account}: (balance, ops, "
                                   f"received) = {got}, the ledger says {want}"))
        with self._lock:
            transfers = list(self.transfers.values())
        present = set(ledger)
        missing = sorted(t.id for t in transfers if t.outcome == "acknowledged" and
                         t.id not in present and
                         (acknowledged_before is None or t.ack_wall <= acknowledged_before))
        if missing:
            found.append(Violation("lost-ack", where, f"{len(missing)} acknowledged "
                                   f"transfer(s) missing, e.g. {missing[:5]}"))
        known = {t.id: t for t in transfers}
        # A transfer whose COMMIT is on its way may be anywhere; one that failed before COMMIT
        # (or was never sent, or is unknown) must be nowhere.
        phantoms = sorted(i for i in present
                          if i not in known or known[i].outcome == "failed" or
                          (known[i].outcome == "pending" and known[i].sent_wall is None))
        if phantoms:
            found.append(Violation("phantom", where, f"{len(phantoms)} transfer(s) present "
                                   f"that never committed (failed or not sent before COMMIT, "
                                   f"or unknown), e.g. {phantoms[:5]}"))
        if sent_after is not None:
            late = sorted(i for i in present if i in known and known[i].sent_wall is not None
                          and known[i].sent_wall > sent_after)
            if late:
                found.append(Violation("restore", where, f"{len(late)} transfer(s) committed "
                                       f"after the restore time are present, e.g. {late[:5]}"))
        return self.report(found)

    def summary(self) -> dict:
        outcomes = self.outcomes()
        with self._lock:
            return {"transfers": len(self.transfers), "acknowledged": outcomes["acknowledged"],
                    "in_doubt": outcomes["in-doubt"], "failed": outcomes["failed"],
                    "reads": dict(self.reads), "read_errors": dict(self.read_errors),
                    "violations": len(self.violations)}
