"""Archive: continuous backup of the log (chunks) and the pages (snapshots) for PITR.

docs/formats/archive.md describes the objects and the layout; docs/operations.md how to run
it. The storage nodes write the archive (aurora_lite.segment._archiver); restore reads it
(aurora_lite.cluster._restore builds a volume from a plan made here).

Public surface:
  ArchiveStore, LocalArchive, open_archive, ArchiveObjectMissing
                         where objects live: a directory (atomic temp+fsync+rename) or
                         ``s3://bucket/prefix`` (S3Archive through boto3, the ``s3`` extra)
  encode_chunk, decode_chunk, ChunkHeader, ChunkIndex, record_headers, CHUNK_MAGIC
                         a PG's records over an LSN range (frontier), LZ4, CRC32C, index
  SnapshotWriter, decode_snapshot, snapshot_pages, SnapshotHeader, SNAPSHOT_MAGIC
                         a PG's page images at an LSN
  Descriptor, ChunkRef, SnapshotRef, chunk_name, snapshot_name, parse_name, DESCRIPTOR
                         object names: the listing is the manifest
  Catalog, VoidSet       a parsed listing with cached chunk indexes; commits by LSN and time
  RestoreWindow, RestorePlan, PgPlan, OutsideWindow, restore_window, plan_restore,
  format_time, parse_time
                         the restorable window and what a restore to a target replays
  replay_pg              one PG's pages at the restore point (numba materializer)
  retention_cut, expired what retention may delete
  check_archive, CheckReport
                         read and verify everything (``aurora-lite restore --check``)

This package imports only aurora_lite.page, aurora_lite.redo, aurora_lite.errors, the standard
library, numpy, lz4 and crc32c (boto3 lazily, for S3).
"""

from aurora_lite.archive._catalog import Catalog, ChunkInfo, SnapshotInfo, VoidSet
from aurora_lite.archive._check import CheckReport, check_archive
from aurora_lite.archive._chunk import (
    CHUNK_HEADER, CHUNK_MAGIC, CHUNK_VERSION, ChunkHeader, ChunkIndex, decode_chunk,
    encode_chunk, record_headers,
)
from aurora_lite.archive._names import (
    DESCRIPTOR, ChunkRef, Descriptor, SnapshotRef, chunk_name, parse_name, pg_prefix,
    snapshot_name,
)
from aurora_lite.archive._plan import (
    OutsideWindow, PgPlan, RestorePlan, RestoreWindow, format_time, parse_time, plan_pg,
    plan_restore, resolve_target, restore_window,
)
from aurora_lite.archive._replay import replay_pg
from aurora_lite.archive._retention import expired, retention_cut
from aurora_lite.archive._snapshot import (
    SNAPSHOT_HEADER, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotHeader, SnapshotWriter,
    decode_snapshot, snapshot_pages,
)
from aurora_lite.archive._stores import (
    ArchiveObjectMissing, ArchiveStore, LocalArchive, open_archive,
)

__all__ = [name for name in dir() if not name.startswith("_")]
