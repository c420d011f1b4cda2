"""Cluster: launching and inspecting a local storage cluster (docs/formats/cluster.md).

Public surface:
  ensure_cluster(DIR) / connect(DIR) -> ClusterHandle
                      attach to the cluster running in DIR, or create and start it (six nodes
                      on free loopback ports by default); stops what it started on close/exit
  attach(DIR)         a handle without starting anything
  ClusterHandle       config, secret, ``node_process(node_id)``, start/stop/status/close
  NodeProcess         one node's process: start, wait_ready, kill (-9), stop, restart, wipe
  create_cluster, stop_cluster, cluster_status, free_ports
  configure_cluster_command, run_cluster_command   ``aurora-lite cluster`` (aurora_lite.cli)
  restore(ARCHIVE, TARGET, to_lsn=|to_time=)       point-in-time restore into a new directory
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Loaded on first use (PEP 562): ``aurora-lite failover`` imports aurora_lite.cluster._failover
# the moment a writer died, and should not wait for the launcher's and restore's imports
# (trio, numpy, the segment store).
_EXPORTS = {
    "configure_cluster_command": ("aurora_lite.cluster._cli", "configure"),
    "run_cluster_command": ("aurora_lite.cluster._cli", "run"),
    **{name: ("aurora_lite.cluster._launcher", name) for name in (
        "CLUSTER_FILE", "ClusterHandle", "attach", "cluster_status", "connect",
        "create_cluster", "ensure_cluster", "free_ports", "stop_cluster")},
    "NodeProcess": ("aurora_lite.cluster._process", "NodeProcess"),
    "RestoreResult": ("aurora_lite.cluster._restore", "RestoreResult"),
    "restore": ("aurora_lite.cluster._restore", "restore"),
}

if TYPE_CHECKING:
    from aurora_lite.cluster._cli import configure as configure_cluster_command
    from aurora_lite.cluster._cli import run as run_cluster_command
    from aurora_lite.cluster._launcher import (
        CLUSTER_FILE, ClusterHandle, attach, cluster_status, connect, create_cluster,
        ensure_cluster, free_ports, stop_cluster,
    )
    from aurora_lite.cluster._process import NodeProcess
    from aurora_lite.cluster._restore import RestoreResult, restore

__all__ = [
    "ensure_cluster", "connect", "attach", "ClusterHandle", "NodeProcess", "create_cluster",
    "stop_cluster", "cluster_status", "free_ports", "CLUSTER_FILE",
    "configure_cluster_command", "run_cluster_command", "restore", "RestoreResult",
]


def __getattr__(name: str):
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
