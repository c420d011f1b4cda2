"""A writer process for the kill -9 test: ``python -m tests.volume._writer_proc CLUSTER_DIR``.

Several threads commit transactions through the DB-API on a ClusterVolume; each transaction
inserts ``PARTS`` rows of table ``w`` and, once COMMIT returned (the commit is acknowledged,
VDL >= its LSN), prints ``ACK <txn>`` and flushes. The test kills this process with SIGKILL at
a random moment and checks the acknowledged transactions against what recovery finds.
"""

from __future__ import annotations

import itertools
import sys
import threading

from aurora_lite.dbapi import Connection
from aurora_lite.txn import Database
from aurora_lite.volume import ClusterVolume

PARTS = 3
THREADS = 4


def main(directory: str) -> None:
    database = Database.open(volume=ClusterVolume.from_directory(directory, open_timeout=20))
    setup = Connection(database, autocommit=True, owns_database=False)
    setup.execute("CREATE TABLE IF NOT EXISTS w (id INTEGER PRIMARY KEY, txn INTEGER, "
                  "part INTEGER)")
    print("READY", flush=True)
    counter = itertools.count(1)
    lock = threading.Lock()

    def work() -> None:
        connection = Connection(database, owns_database=False)
        cursor = connection.cursor()
        while True:
            txn = next(counter)
            for part in range(PARTS):
                cursor.execute("INSERT INTO w VALUES (?, ?, ?)", (txn * PARTS + part, txn, part))
            connection.commit()
            with lock:
                sys.stdout.write(f"ACK {txn}\n")
                sys.stdout.flush()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1])
