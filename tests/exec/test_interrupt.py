"""A runaway query stops soon after ``interrupt()`` from another thread, whatever it is doing:
nested loop, hash join, sort, aggregate, set operation, correlated subquery; the session
then runs the next statement normally."""

from __future__ import annotations

import threading
import time

import pytest

from aurora_lite.errors import QueryCanceledError

ROWS = 3000
BOUND_SECONDS = 10.0

RUNAWAY = {
    "nested_loop": "SELECT count(*) FROM big a, big b, big c WHERE a.x + b.x < c.x",
    "hash_join_fan_out": "SELECT count(*) FROM big a JOIN big b ON a.g = b.g "
                         "JOIN big c ON b.g = c.g",
    "sort": "SELECT a.x, b.x FROM big a, big b, big c ORDER BY 1, 2",
    "group_by": "SELECT a.x, count(*) FROM big a, big b, big c WHERE a.x <> b.x GROUP BY a.x",
    "union": "SELECT a.x, b.x, c.x FROM big a, big b, big c UNION SELECT 1, 2, 3",
    "correlated_subquery": "SELECT (SELECT count(*) FROM big b, big c "
                           "WHERE b.x + c.x < a.x) FROM big a",
}


@pytest.fixture
def big(sql):
    sql("CREATE TABLE big (x INTEGER, g INTEGER)")
    sql("INSERT INTO big VALUES " + ", ".join(f"({i}, {i % 3})" for i in range(ROWS)))
    return sql


@pytest.mark.parametrize("name", sorted(RUNAWAY))
def test_interrupt_stops_a_runaway_query(big, session, name):
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            big(RUNAWAY[name])
            outcome["result"] = "finished"
        except BaseException as error:          # noqa: BLE001 - reported below
            outcome["result"] = error
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    time.sleep(0.3)
    deadline = time.monotonic() + BOUND_SECONDS
    # The flag is cleared when a statement starts; repeat until the worker is done.
    while worker.is_alive() and time.monotonic() < deadline:
        session.interrupt()
        worker.join(0.05)
    assert not worker.is_alive(), f"{name} ignored the interrupt for {BOUND_SECONDS} s"
    assert isinstance(outcome["result"], QueryCanceledError), outcome
    assert outcome["result"].sqlstate == "57014"
    assert big.one("SELECT count(*) FROM big") == ROWS


def test_connection_interrupt_through_the_driver(tmp_path):
    import aurora_lite
    connection = aurora_lite.connect(str(tmp_path / "db"), storage="local")
    try:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE big (x INTEGER, g INTEGER)")
        cursor.execute("INSERT INTO big VALUES " +
                       ", ".join(f"({i}, {i % 3})" for i in range(ROWS)))
        connection.commit()
        outcome = {}

        def run():
            try:
                cursor.execute(RUNAWAY["nested_loop"])
                outcome["result"] = cursor.fetchall()
            except BaseException as error:      # noqa: BLE001 - reported below
                outcome["result"] = error

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        time.sleep(0.3)
        deadline = time.monotonic() + BOUND_SECONDS
        while worker.is_alive() and time.monotonic() < deadline:
            connection.interrupt()
            worker.join(0.05)
        assert not worker.is_alive()
        assert isinstance(outcome["result"], QueryCanceledError), outcome
        connection.rollback()
        cursor.execute("SELECT count(*) FROM big")
        assert cursor.fetchall() == [(ROWS,)]
    finally:
        connection.close()
