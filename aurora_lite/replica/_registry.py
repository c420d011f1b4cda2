"""Where tools find the writer and the replicas of a cluster directory.

    DIR/writer.json                 the current writer: pid, epoch, its SQL (PostgreSQL wire)
                                    and replication addresses, how it was started (argv, for
                                    ``aurora-lite failover`` to start a new one), when
    DIR/replicas/replica-<pid>.json one running replica: pid, SQL and control addresses, the
                                    writer it follows

Files are replaced atomically (write, fsync, rename). A record is advice, not truth: a reader
checks that the PID still runs (``alive``), and a writer with an older epoch than the volume's
is fenced by storage whatever its record says (Invariant 6).
"""

from __future__ import annotations

import json
import os
import time

WRITER_FILE = "writer.json"
REPLICA_DIR = "replicas"


def _write_json(path: str, document: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def alive(pid: int | None) -> bool:
    """True if a process with this PID exists (and is not a zombie)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError, ValueError):
        return False
    return state != b"Z"


def record_writer(directory: str | os.PathLike, *, replication: str | None,
                  sql: str | None = None, epoch: int = 0, argv: list[str] | None = None,
                  pid: int | None = None, **extra) -> dict:
    """Record this process as the writer of ``directory`` (its addresses for tools)."""
    document = {"pid": pid or os.getpid(), "epoch": epoch, "replication": replication,
                "sql": sql, "argv": argv, "since": time.time()}
    previous = read_writer(directory)
    if argv is None and previous is not None and previous.get("argv"):
        document["argv"] = previous["argv"]          # how to start a writer again
    document.update(extra)
    _write_json(os.path.join(os.fspath(directory), WRITER_FILE), document)
    return document


def read_writer(directory: str | os.PathLike) -> dict | None:
    return _read_json(os.path.join(os.fspath(directory), WRITER_FILE))


def _replica_path(directory: str | os.PathLike, pid: int) -> str:
    return os.path.join(os.fspath(directory), REPLICA_DIR, f"replica-{pid}.json")


def record_replica(directory: str | os.PathLike, *, sql: str | None, control: str | None,
                   writer: str | None) -> str:
    path = _replica_path(directory, os.getpid())
    _write_json(path, {"pid": os.getpid(), "sql": sql, "control": control, "writer": writer,
                       "since": time.time()})
    return path


def forget_replica(directory: str | os.PathLike, pid: int | None = None) -> None:
    try:
        os.remove(_replica_path(directory, pid or os.getpid()))
    except OSError:
        pass


def list_replicas(directory: str | os.PathLike) -> list[dict]:
    """The records of replicas whose process still runs."""
    folder = os.path.join(os.fspath(directory), REPLICA_DIR)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in names:
        if name.endswith(".json"):
            document = _read_json(os.path.join(folder, name))
            if document is not None and alive(document.get("pid")):
                found.append(document)
    return found
