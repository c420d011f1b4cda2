"""Failover: give a cluster directory a new writer after the old one failed.

    aurora-lite failover DIR [--replica HOST:PORT] [--timeout S] [--kill-old] [--json]

* ``--replica``: promote that replica (its SQL or control address; replicas record both in
  DIR/replicas/). Its process opens the writer itself: ClusterVolume recovery fences every
  segment with a new epoch (quorum read, truncate above the durable point, the epoch's VOID:
  docs/protocols/recovery.md), so the old writer, should it come back, is refused by storage
  (StaleEpochError, SQLSTATE 72000) and can never reach a write quorum again. Its clients
  keep their connections: each session becomes a writer session at its next statement.
* without ``--replica``: start a new writer process with the command recorded in
  DIR/writer.json by ``aurora-lite serve`` (same options), after checking that the old writer
  process is gone (``--kill-old`` sends it SIGKILL first: a hung writer holds DIR's writer
  lock).

Either way the new writer records its addresses and epoch in DIR/writer.json, where replicas
and tools find it, and the command returns once it accepts writes (recovery done).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from aurora_lite.errors import OperationalError
from aurora_lite.membership import load, load_secret

WRITER_LOG = os.path.join("logs", "writer.log")


def _control_address(directory: str, replica: str) -> str:
    """The control endpoint of the replica named by its SQL or control address."""
    from aurora_lite.replica import list_replicas
    for record in list_replicas(directory):
        if replica in (record.get("sql"), record.get("control")):
            return record["control"]
    return replica      # not recorded here (another host): take it as the control address


def promote_replica(directory: str, replica: str, *, timeout: float = 30.0) -> dict:
    from aurora_lite.replica import request_promotion
    config = load(os.path.join(directory, "cluster.json"))
    started = time.monotonic()
    info = request_promotion(_control_address(directory, replica), load_secret(config.path),
                             cluster_id=config.cluster_id_bytes, timeout=timeout)
    info.update(mode="promoted replica", replica=replica,
                elapsed_s=round(time.monotonic() - started, 3))
    return info


def _wait_gone(pid: int, timeout: float) -> bool:
    from aurora_lite.replica import alive
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 8192))
            return "\n".join(handle.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_writer(directory: str, *, timeout: float = 60.0, kill_old: bool = False) -> dict:
    """Start a new writer process with the command DIR/writer.json recorded; wait until it
    recorded itself (recovery done, accepting writes)."""
    from aurora_lite.replica import alive, read_writer
    record = read_writer(directory)
    if record is None or not record.get("argv"):
        raise OperationalError(f"{directory}/writer.json records no writer command: start the "
                               f"writer with 'aurora-lite serve {directory}', or promote a "
                               f"replica with --replica")
    old_pid, old_epoch = record.get("pid"), record.get("epoch") or 0
    if old_pid and old_pid != os.getpid() and alive(old_pid):
        if not kill_old:
            raise OperationalError(f"the writer of {directory} (pid {old_pid}) is still "
                                   f"running: stop it, use --kill-old, or promote a replica "
                                   f"with --replica (storage fences the old writer)")
        os.kill(old_pid, signal.SIGKILL)
        if not _wait_gone(old_pid, 10.0):
            raise OperationalError(f"the old writer (pid {old_pid}) did not exit")
    started = time.monotonic()
    log_path = os.path.join(directory, WRITER_LOG)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        process = subprocess.Popen(record["argv"], stdin=devnull, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   close_fds=True)
    deadline = started + timeout
    while time.monotonic() < deadline:
        current = read_writer(directory)
        if current is not None and current.get("pid") == process.pid and \
                (current.get("epoch") or 0) > old_epoch:
            current.update(mode="new writer process",
                           elapsed_s=round(time.monotonic() - started, 3))
            return current
        if process.poll() is not None:
            raise OperationalError(f"the new writer exited with status {process.returncode}; "
                                   f"{log_path} ends with:\n{_log_tail(log_path)}")
        time.sleep(0.02)
    raise OperationalError(f"the new writer (pid {process.pid}) did not record itself within "
                           f"{timeout:g} s; {log_path} ends with:\n{_log_tail(log_path)}")


def failover(directory: str | os.PathLike, *, replica: str | None = None,
             timeout: float = 30.0, kill_old: bool = False) -> dict:
    directory = os.path.abspath(os.fspath(directory))
    if not os.path.exists(os.path.join(directory, "cluster.json")):
        raise OperationalError(f"{directory} holds no cluster (cluster.json is missing)")
    if replica is not None:
        return promote_replica(directory, replica, timeout=timeout)
    return start_writer(directory, timeout=timeout, kill_old=kill_old)


# -- the command ---------------------------------------------------------------------------------
def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="the cluster directory")
    parser.add_argument("--replica", metavar="HOST:PORT", default=None,
                        help="promote this replica (its SQL or control address); without "
                             "it, start a new writer process with the recorded command")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--kill-old", action="store_true",
                        help="without --replica: SIGKILL the old writer if it still runs")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        info = failover(args.directory, replica=args.replica, timeout=args.timeout,
                        kill_old=args.kill_old)
    except (OperationalError, OSError, ValueError) as error:
        print(f"aurora-lite failover: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, sort_keys=True))
    else:
        print(f"{info['mode']}: writer epoch {info.get('epoch')}, pid {info.get('pid')}, "
              f"sql {info.get('sql')}, replication {info.get('replication')} "
              f"({info.get('elapsed_s')} s)")
    return 0
