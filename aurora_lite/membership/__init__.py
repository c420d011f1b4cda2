"""Membership: the cluster file (nodes, addresses, data directories), its secret, and where
each protection group's six segments live (docs/formats/cluster.md, docs/protocols/quorum.md).

Public surface:
  ClusterConfig, NodeInfo         a loaded cluster file; ``pg_of``, ``nodes_of``, ``holds``,
                                  ``pgs_of``, ``peers_of``, ``node``, ``page_range``
  create_cluster_file, load       write a new cluster file + secret (0600); read one back
  load_secret, secret_path        the 32-byte secret; refused when others can read it
  parse_address, format_address   ``host:port``
  pg_of, positions_of, holds, pgs_at, page_range
                                  placement on node-list positions
  REPLICAS, WRITE_QUORUM, READ_QUORUM, DEFAULT_PG_SIZE, FORMAT
  ArchiveSettings, parse_duration the optional "archive" section (location, retention, cadence)

This package imports only aurora_lite.errors and the standard library (rank 3).
"""

from aurora_lite.membership._archive_settings import (
    DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_INTERVAL, DEFAULT_RETENTION, DEFAULT_SNAPSHOT_INTERVAL,
    ArchiveSettings, parse_duration,
)
from aurora_lite.membership._cluster_file import (
    DEFAULT_PG_SIZE, FORMAT, ClusterConfig, NodeInfo, create_cluster_file, format_address, load,
    load_secret, parse_address, secret_path,
)
from aurora_lite.membership._placement import (
    READ_QUORUM, REPLICAS, WRITE_QUORUM, holds, page_range, pg_of, pgs_at, positions_of,
)

__all__ = [name for name in dir() if not name.startswith("_")]
