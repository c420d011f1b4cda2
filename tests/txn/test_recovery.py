"""Restart and crash recovery of the local log: kill -9 mid-workload, reopen, check."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from aurora_lite.txn import Database

from tests.txn.conftest import make_table, rows_of

CHILD = textwrap.dedent("""
    import sys
    from aurora_lite.txn import Database
    from tests.txn.conftest import make_table
    db = Database.open(sys.argv[1], pool_pages=64)
    session = db.session()
    make_table(session)
    session.commit()
    batch = 0
    while True:
        with session.statement(writes=True):
            # ten rows per transaction, all with the same batch number
            session.table("t").insert([(batch * 10 + i, "b%d" % batch, float(batch))
                                       for i in range(10)])
        session.commit()
        print(batch, flush=True)
        batch += 1
""")


def test_restart_keeps_committed_data(tmp_path):
    db = Database.open(tmp_path / "db", pool_pages=64)
    session = db.session()
    make_table(session)
    with session.statement(writes=True):
        session.table("t").insert([(i, "x" * 50, float(i)) for i in range(5000)])
    session.commit()
    with session.statement(writes=True):
        session.table("t").insert([(i, "uncommitted", 0.0) for i in range(5000, 6000)])
    db.close()                      # closing without commit: the open transaction is lost
    db = Database.open(tmp_path / "db", pool_pages=64)
    rows = rows_of(db.session())
    assert len(rows) == 5000 and rows[-1][0] == 4999
    db.close()


def test_kill_9_loses_no_acknowledged_commit(tmp_path):
    directory = str(tmp_path / "db")
    child = subprocess.Popen([sys.executable, "-c", CHILD, directory], stdout=subprocess.PIPE,
                             text=True, cwd=os.path.dirname(os.path.dirname(
                                 os.path.dirname(os.path.abspath(__file__)))))
    acknowledged = []
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert len(acknowledged) >= 40, "the child did not get going"
    db = Database.open(directory, pool_pages=64)
    rows = rows_of(db.session())
    batches: dict[int, int] = {}
    for row in rows:
        batches[int(row[2])] = batches.get(int(row[2]), 0) + 1
    assert all(count == 10 for count in batches.values()), "a partial transaction survived"
    assert set(acknowledged) <= set(batches), "an acknowledged commit was lost"
    db.close()
