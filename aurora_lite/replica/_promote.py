"""Opening the writer of a cluster directory in this process (a replica being promoted).

``open_writer(directory)`` attaches to (or starts) the directory's storage nodes and opens a
``Database`` on a ClusterVolume. Its recovery is what makes the failover safe
(recovery.md): it fences every segment it reaches with a new epoch, establishes the durable
point from a read quorum, truncates above it, and writes the epoch's VOID; the old writer's
requests then carry an older epoch and are refused (STALE_EPOCH: Invariant 6), so it can never
again reach a write quorum, alive or not.

DIR/writer.lock is taken when it is free. When the old writer's process still holds it (hung,
not dead), the new writer goes on without it: fencing, not the lock, keeps the volume safe.
"""

from __future__ import annotations

import fcntl
import logging
import os

from aurora_lite.errors import OperationalError

log = logging.getLogger("aurora_lite.replica")
WRITER_LOCK = "writer.lock"


def _try_lock(directory: str):
    handle = open(os.path.join(directory, WRITER_LOCK), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        log.warning("%s is held by process %s (the old writer?): promoting anyway; storage "
                    "fences it", os.path.join(directory, WRITER_LOCK), holder)
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def open_writer(directory: str | os.PathLike, *, fsync: bool = True, **options):
    """A writer ``Database`` for the cluster in ``directory`` (recovery fences the old one).
    The returned database has ``cluster`` and ``writer_lock`` attributes; ``close_writer``
    releases them."""
    from aurora_lite.cluster import ensure_cluster
    from aurora_lite.txn import Database
    from aurora_lite.volume import open_cluster_volume

    directory = os.path.abspath(os.fspath(directory))
    if not os.path.exists(os.path.join(directory, "cluster.json")):
        raise OperationalError(f"{directory} holds no cluster (cluster.json is missing)")
    lock = _try_lock(directory)
    handle = None
    try:
        handle = ensure_cluster(directory, node_args=None if fsync else ("--no-fsync",))
        database = Database.open(directory, volume=open_cluster_volume(directory), **options)
    except BaseException:
        if handle is not None:
            handle.close()
        if lock is not None:
            lock.close()
        raise
    database.cluster = handle
    database.writer_lock = lock
    return database


def close_writer(database) -> None:
    try:
        database.close()
    finally:
        for name in ("cluster", "writer_lock"):
            resource = getattr(database, name, None)
            if resource is not None:
                resource.close()
