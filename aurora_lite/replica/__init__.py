"""Read replicas: the writer's redo stream, replicas that follow it, and promotion.

Public surface:

* writer side: ``Publisher`` / ``start_publisher(database_or_connection, host, port,
  directory=)`` serve the redo stream (docs/protocols/replication.md) to up to 15 replicas;
* replica side: ``Replica(cluster_file, writer=HOST:PORT)`` (``start()``, ``session()``,
  ``lag()``, ``statistics()``, ``wait_for(lsn)``, ``close()``) and ``ReplicaSession`` (an
  aurora_lite.txn session that raises ReadOnlyError on any write);
* ``ControlServer`` (a replica process's STATUS/PROMOTE endpoint), ``request_promotion`` and
  ``control_status`` (its client), ``open_writer`` / ``close_writer`` (become the writer of a
  cluster directory: recovery fences the old writer);
* ``record_writer``, ``read_writer``, ``record_replica``, ``forget_replica``,
  ``list_replicas``, ``alive``: DIR/writer.json and DIR/replicas/ (addresses for tools);
* the messages (``Subscribe``, ``StreamStart``, ``Redo``, ``ReadPoint``, ``Heartbeat``,
  ``Feedback``, ``Resync``, ``Promote``, ``Promoted``, ``ReplicationType``, ``StartMode``,
  ``decode_replication``: docs/formats/replication.md), ``SnapshotTooOld``.

This package may import every layer up to frontend, and cluster (same rank); the server
(``aurora-lite serve`` / ``aurora-lite replica``) imports it, never the reverse.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Loaded on first use (PEP 562): ``aurora-lite failover`` needs the registry and the control
# client the moment a writer died, not the replica's and the publisher's imports.
_MODULES = {
    "aurora_lite.replica._control": (
        "ControlServer",
    ),
    "aurora_lite.replica._control_client": (
        "control_status", "request_promotion",
    ),
    "aurora_lite.replica._messages": (
        "REPLICATION_MESSAGES", "Feedback", "Heartbeat", "Promote", "Promoted",
        "ReadPoint", "Redo", "ReplicationType", "Resync", "StartMode", "StreamStart",
        "Subscribe", "decode_replication",
    ),
    "aurora_lite.replica._promote": (
        "close_writer", "open_writer",
    ),
    "aurora_lite.replica._publisher": (
        "MAX_REPLICAS", "Publisher", "start_publisher",
    ),
    "aurora_lite.replica._registry": (
        "alive", "forget_replica", "list_replicas", "read_writer", "record_replica",
        "record_writer",
    ),
    "aurora_lite.replica._replica": (
        "Replica", "ReplicaSession",
    ),
    "aurora_lite.replica._storage": (
        "SnapshotTooOld",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

if TYPE_CHECKING:
    from aurora_lite.replica._control import ControlServer
    from aurora_lite.replica._control_client import control_status, request_promotion
    from aurora_lite.replica._messages import (
        REPLICATION_MESSAGES, Feedback, Heartbeat, Promote, Promoted, ReadPoint, Redo,
        ReplicationType, Resync, StartMode, StreamStart, Subscribe, decode_replication,
    )
    from aurora_lite.replica._promote import close_writer, open_writer
    from aurora_lite.replica._publisher import MAX_REPLICAS, Publisher, start_publisher
    from aurora_lite.replica._registry import (
        alive, forget_replica, list_replicas, read_writer, record_replica, record_writer,
    )
    from aurora_lite.replica._replica import Replica, ReplicaSession
    from aurora_lite.replica._storage import SnapshotTooOld

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
