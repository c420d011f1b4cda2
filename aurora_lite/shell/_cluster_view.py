"""``.cluster``: where the data lives and who follows it, as seen from this shell's connection.

* An embedded database on the six-segment cluster (its directory holds ``cluster.json``, or
  the writer's volume reports storage nodes): one row per storage node - node, pid, address,
  up, the writer's link to it, and each protection group's SCL as the node reports it - then
  the writer's VDL, VCL and epoch from ``connection.statistics()``.
* An embedded database on a local volume (one segment store inside this process): its SCL,
  VDL, materialized LSN and log size; there are no storage nodes and no quorum.
* A remote connection to an aurora_lite server (``server_version`` says so): the server's
  ``SHOW cluster_status`` (role, pid, data directory, and the same storage view as above,
  built from the server's writer), then ``SHOW replicas``. A read replica's server reports
  whom it follows and its lag instead. Other servers: the view says where to look.

Then the read replicas (``_replica_lines``): each replica following the writer's replication
endpoint with its address (the replica's connection as the writer sees it), read point, lag
in milliseconds and in LSNs. Embedded, the endpoint is the one DIR/writer.json names (started
by ``aurora-lite serve`` or ``aurora_lite.replica.start_publisher``), asked for its STATUS
over the wire with the cluster secret, as ``aurora-lite failover`` and the drill ask it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aurora_lite.shell._connect import Target
from aurora_lite.shell._formats import render

CLUSTER_FILE = "cluster.json"
REPLICA_HEADERS = ["address", "read point", "lag ms", "lag LSN"]
NONE_CONNECTED = "Replicas: none connected"
_STATUS_TIMEOUT = 5.0


def cluster_lines(target: Target, connection: Any, mode: str) -> list[str]:
    if target.kind == "remote":
        return _remote_lines(target, connection, mode)
    statistics = getattr(connection, "statistics", None)
    if target.kind != "embedded" or not callable(statistics):
        return [f"No storage view for {target.description}: only aurora_lite's embedded "
                "driver reports its volume."]
    stats = statistics()
    directory = os.path.abspath(target.location)
    cluster, notes = None, []
    if os.path.exists(os.path.join(directory, CLUSTER_FILE)):
        try:
            from aurora_lite.cluster import cluster_status

            cluster = cluster_status(directory)
        except Exception as exc:  # noqa: BLE001 - show what the writer knows instead
            notes.append(f"(the cluster file could not be read: {exc})")
    return storage_lines(directory, cluster, notes, stats, mode) + \
        _embedded_replica_lines(directory, stats, mode)


def storage_lines(directory: str, cluster: dict | None, notes: list[str], stats: dict,
                  mode: str) -> list[str]:
    """The storage view from a writer's ``statistics()`` and, for a cluster directory, the
    launcher's ``cluster_status`` (None when there is none)."""
    volume = stats.get("volume") or {}
    if cluster is not None or notes or "nodes" in volume:
        return _cluster_section(directory, cluster, notes, stats, volume, mode)
    return _local_section(directory, stats, volume, mode)


def _pg_list(scl: dict) -> str:
    """{"0": 120, "1": 118} -> "0:120 1:118" (JSON keys are strings; sort them as numbers)."""
    def order(key: object) -> tuple[int, str]:
        text = str(key)
        return (int(text), text) if text.isdigit() else (1 << 62, text)
    return " ".join(f"{pg}:{scl[pg]}" for pg in sorted(scl, key=order))


def _cluster_section(directory: str, cluster: dict | None, notes: list[str], stats: dict,
                     volume: dict, mode: str) -> list[str]:
    header = f"Storage: cluster in {directory}"
    segments: dict[int, dict] = {}
    if cluster is not None:
        segments = {int(segment["node"]): segment for segment in cluster["segments"]}
        header += (f" (cluster {cluster.get('cluster_id')}, protection groups of "
                   f"{cluster.get('pg_size')} pages)")
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
    lines = [f"Storage: local volume in {directory} (one segment store inside the writer's "
             "process: no storage nodes, no quorum)"]
    row = (stats.get("vdl"), volume.get("scl"), volume.get("materialized_lsn"),
           stats.get("epoch"), volume.get("log_records"), volume.get("log_bytes"),
           volume.get("fsyncs"))
    lines += render(mode, ["VDL", "SCL", "materialized LSN", "epoch", "log records",
                           "log bytes", "fsyncs"], [row], footer=False)
    lines.append(f"Writer: VDL {stats.get('vdl')}, read point {stats.get('read_point')}, "
                 f"commits {stats.get('commits')}")
    return lines


# -- replicas --------------------------------------------------------------------------------------
def _replica_lines(rows: list[tuple], endpoint: str, mode: str) -> list[str]:
    """``rows``: (address, read point, lag ms, lag LSN) of each replica of ``endpoint``."""
    if not rows:
        return [f"{NONE_CONNECTED} (the writer's replication endpoint is {endpoint})"]
    count = f"{len(rows)} replica{'s' if len(rows) != 1 else ''}"
    return [f"Replicas: {count} following the writer's replication endpoint {endpoint}",
            *render(mode, REPLICA_HEADERS, rows)]


def _embedded_replica_lines(directory: str, stats: dict, mode: str) -> list[str]:
    volume = stats.get("volume") or {}
    if "nodes" not in volume:
        return [f"{NONE_CONNECTED} (a local volume serves no read replicas: replicas read "
                "the storage cluster)"]
    from aurora_lite.replica import alive, read_writer

    record = read_writer(directory) or {}
    endpoint = record.get("replication")
    if not endpoint or not alive(record.get("pid")):
        return [f"{NONE_CONNECTED} (no replication endpoint runs for {directory}: "
                "`aurora-lite serve DIR` or aurora_lite.replica.start_publisher starts one)"]
    try:
        status = publisher_status(directory, endpoint)
    except Exception as exc:  # noqa: BLE001 - the rest of the view stands
        return [f"Replicas: the replication endpoint {endpoint} (DIR/writer.json, pid "
                f"{record.get('pid')}) did not answer: {exc}"]
    rows = [(replica.get("address"), replica.get("read_point"), replica.get("lag_ms"),
             replica.get("lag_lsn")) for replica in status.get("replicas", [])]
    return _replica_lines(rows, endpoint, mode)


def publisher_status(directory: str, endpoint: str) -> dict:
    """The STATUS of the writer's replication endpoint (role TOOL, the cluster secret)."""
    from aurora_lite.membership import load, load_secret
    from aurora_lite.replica import control_status

    config = load(os.path.join(directory, CLUSTER_FILE))
    return control_status(endpoint, load_secret(config.path),
                          cluster_id=config.cluster_id_bytes, timeout=_STATUS_TIMEOUT)


# -- a remote server ---------------------------------------------------------------------------------
def _rows(connection: Any, sql: str) -> list[tuple]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _remote_lines(target: Target, connection: Any, mode: str) -> list[str]:
    parameters = getattr(connection, "parameters", None) or {}
    if "aurora_lite" not in str(parameters.get("server_version", "")):
        return [f"Connected to {target.description}.",
                "No storage view: this server is not aurora_lite's (it does not answer SHOW "
                "cluster_status)."]
    status = json.loads(_rows(connection, "SHOW cluster_status")[0][0])
    role = status.get("role", "writer")
    where = f"pid {status.get('pid')}, data directory {status.get('directory')}"
    if role == "replica":
        lag = status.get("lag") or {}
        return [f"Connected to {target.description}: a read replica ({where}).",
                f"Replica: following the writer's replication endpoint "
                f"{status.get('writer')} (SQL on {status.get('writer_sql')}), epoch "
                f"{status.get('epoch')}, read point {lag.get('read_point')} (the writer's "
                f"{lag.get('writer_read_point')}), lag {lag.get('lag_ms')} ms / "
                f"{lag.get('lag_lsn')} LSNs, "
                f"{'connected' if lag.get('connected') else 'not connected'}",
                "Replicas: this server is a read replica; `.cluster` on the writer lists the "
                "replicas"]
    lines = [f"Connected to {target.description}: the {role} ({where})."]
    notes = [f"(the server could not read its cluster file: {status['cluster_error']})"] \
        if status.get("cluster_error") else []
    lines += storage_lines(status.get("directory") or "?", status.get("cluster"), notes,
                           status.get("statistics") or {}, mode)
    endpoint = status.get("replication")
    if not endpoint:
        reason = "a local volume serves no read replicas" if status.get("storage") != \
            "cluster" else "the server runs without a replication endpoint (--no-replication)"
        return lines + [f"{NONE_CONNECTED} ({reason})"]
    rows = [(address, read_point, lag_ms, lag_lsn) for address, read_point, lag_lsn, lag_ms
            in _rows(connection, "SHOW replicas")]
    return lines + _replica_lines(rows, endpoint, mode)
