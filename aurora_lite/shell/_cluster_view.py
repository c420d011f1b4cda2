"""``.cluster``: where the data lives, as seen from this shell's connection.

* An embedded database on the six-segment cluster (its directory holds ``cluster.json``, or
  the writer's volume reports storage nodes): one row per storage node - node, pid, address,
  up, the writer's link to it, and each protection group's SCL as the node reports it - then
  the writer's VDL, VCL and epoch from ``connection.statistics()``.
* An embedded database on a local volume (one segment store inside this process): its SCL,
  VDL, materialized LSN and log size; there are no storage nodes and no quorum.
* A remote connection: the server's address; the storage tier is the server's business, so
  the view says where to look instead.

Replica lag has a marked place (``_replica_lines``) for when read replicas exist.
"""

from __future__ import annotations

import os
from typing import Any

from aurora_lite.shell._connect import Target
from aurora_lite.shell._formats import render

CLUSTER_FILE = "cluster.json"


def cluster_lines(target: Target, connection: Any, mode: str) -> list[str]:
    if target.kind == "remote":
        return [f"Connected to {target.description}.",
                "The storage tier is the server's: run `aurora-lite cluster status DIR` (or "
                "`aurora-lite shell DIR` with the server stopped) on its data directory."]
    statistics = getattr(connection, "statistics", None)
    if target.kind != "embedded" or not callable(statistics):
        return [f"No storage view for {target.description}: only aurora_lite's embedded "
                "driver reports its volume."]
    stats = statistics()
    volume = stats.get("volume") or {}
    directory = os.path.abspath(target.location)
    has_cluster_file = os.path.exists(os.path.join(directory, CLUSTER_FILE))
    if has_cluster_file or "nodes" in volume:
        lines = _cluster_section(directory, has_cluster_file, stats, volume, mode)
    else:
        lines = _local_section(directory, stats, volume, mode)
    return lines + _replica_lines(stats)


def _pg_list(scl: dict) -> str:
    """{"0": 120, "1": 118} -> "0:120 1:118" (JSON keys are strings; sort them as numbers)."""
    def order(key: object) -> tuple[int, str]:
        text = str(key)
        return (int(text), text) if text.isdigit() else (1 << 62, text)
    return " ".join(f"{pg}:{scl[pg]}" for pg in sorted(scl, key=order))


def _cluster_section(directory: str, has_cluster_file: bool, stats: dict, volume: dict,
                     mode: str) -> list[str]:
    segments: dict[int, dict] = {}
    header = f"Storage: cluster in {directory}"
    notes: list[str] = []
    if has_cluster_file:
        try:
            from aurora_lite.cluster import cluster_status

            status = cluster_status(directory)
            segments = {int(segment["node"]): segment for segment in status["segments"]}
            header += (f" (cluster {status.get('cluster_id')}, protection groups of "
                       f"{status.get('pg_size')} pages)")
        except Exception as exc:  # noqa: BLE001 - show what the writer knows instead
            notes.append(f"(the cluster file could not be read: {exc})")
    links: dict[int, dict] = {int(node): link for node, link in
                              (volume.get("nodes") or {}).items()}
    rows = []
    for node in sorted(set(segments) | set(links)):
        segment = segments.get(node, {})
        link = links.get(node)
        pid = segment.get("pid") or (link or {}).get("pid")
        up = segment.get("up") if segment else None
        if link is None:
            writer_link = "-"
        else:
            writer_link = "connected" if link.get("connected") else "down"
        scl = segment.get("scl") or (link or {}).get("scl") or {}
        rows.append((node, pid, segment.get("address", ""), up, writer_link, _pg_list(scl)))
    lines = [header, *notes]
    lines += render(mode, ["node", "pid", "address", "up", "writer link", "SCL per PG"], rows)
    if links:
        vcl = volume.get("vcl")
        lines.append(f"Writer: VDL {stats.get('vdl')}, VCL {vcl if vcl is not None else '-'}, "
                     f"epoch {stats.get('epoch')}, read point {stats.get('read_point')}")
        pgcl = volume.get("pgcl") or {}
        if pgcl:
            lines.append(f"Writer: PGCL per PG {_pg_list(pgcl)}")
    else:
        lines.append(f"Writer: this connection writes to a local volume in {directory}, not "
                     f"to this cluster (VDL {stats.get('vdl')}, epoch {stats.get('epoch')})")
    return lines


def _local_section(directory: str, stats: dict, volume: dict, mode: str) -> list[str]:
    lines = [f"Storage: local volume in {directory} (one segment store in this process: no "
             "storage nodes, no quorum)"]
    row = (stats.get("vdl"), volume.get("scl"), volume.get("materialized_lsn"),
           stats.get("epoch"), volume.get("log_records"), volume.get("log_bytes"),
           volume.get("fsyncs"))
    lines += render(mode, ["VDL", "SCL", "materialized LSN", "epoch", "log records",
                           "log bytes", "fsyncs"], [row], footer=False)
    lines.append(f"Writer: VDL {stats.get('vdl')}, read point {stats.get('read_point')}, "
                 f"commits {stats.get('commits')}")
    return lines


def _replica_lines(stats: dict) -> list[str]:
    # REPLICA LAG - placeholder. The writer does not report its read replicas
    # (``aurora-lite replica``) in statistics() yet. When it does, list each replica here: its
    # address, its read point, and its lag behind the writer (stats["vdl"] - read point, in
    # LSNs and in milliseconds).
    return ["Replicas: not shown yet (replica lag will be listed here)"]
