"""Which read statements are short enough to run on the event loop instead of a worker thread.

A worker-thread round trip costs more than a primary-key lookup itself (about 0.1-0.2 ms
against 0.03 ms here), and the engine holds the GIL while it works either way, so a thread
buys nothing for a statement that takes microseconds. The server keeps a moving average of
each read statement's execution time, by SQL text; a statement whose average is under the
budget runs inline. The first run of a text always goes to a thread (its cost is unknown),
and one slow run pushes a text back to threads at once, since the average jumps by at least
a third of it.

Only statements that cannot wait on a lock or on storage durability qualify (plain reads),
so an inline statement never blocks the loop for longer than its own CPU time.
"""

from __future__ import annotations

INLINE_KEYWORDS = frozenset({"SELECT", "VALUES", "TABLE"})


class StatementCosts:
    def __init__(self, budget: float, capacity: int = 4096) -> None:
        self.budget = budget
        self.capacity = capacity
        self._average: dict[str, float] = {}

    def inline(self, sql: str, keyword: str) -> bool:
        if keyword not in INLINE_KEYWORDS or self.budget <= 0:
            return False
        average = self._average.get(sql)
        return average is not None and average < self.budget

    def record(self, sql: str, seconds: float) -> None:
        average = self._average
        old = average.get(sql)
        if old is None and len(average) >= self.capacity:
            average.clear()  # a crude bound; popular statements come back on their next run
        average[sql] = seconds if old is None else 0.7 * old + 0.3 * seconds
