"""The storage node's control file ``NODE``: the volume epoch and the last truncation.

One file per node (not per segment) so that FENCE persists a new epoch with one atomic
replacement and one fsync whatever the number of PGs (recovery.md step 1, Invariant 6), and
so that segments created after a fence start fenced. docs/formats/cluster.md has this table
and a worked example; tests/segment/test_node_formats.py holds its golden bytes. Replaced
atomically (temporary file, fsync, rename, directory fsync: ``Disk.write_atomic``)::

    OFFSET SIZE FIELD
         0    4 magic             b"ALND"
         4    2 version           1
         6    2 size              64
         8    4 node_id           the node this data directory belongs to
        12    4 reserved          0
        16   16 cluster_id        the cluster's UUID: a directory of another cluster is refused
        32    8 epoch             highest volume epoch seen (older requests are refused)
        40    8 truncation_epoch  epoch of the last TRUNCATE applied (0: none)
        48    8 truncation_lsn    its LSN: every record above it was dropped then
        56    4 reserved          0
        60    4 crc               CRC32C of bytes [0, 60)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c as _crc32c

from aurora_lite.errors import CorruptionError

NODE_MAGIC = b"ALND"
NODE_VERSION = 1
NODE_CONTROL = struct.Struct("<4sHHI4x16sQQQ4xI")
assert NODE_CONTROL.size == 64
NODE_FILE = "NODE"


@dataclass(frozen=True)
class NodeControl:
    node_id: int
    cluster_id: bytes            # 16 bytes
    epoch: int = 0
    truncation_epoch: int = 0
    truncation_lsn: int = 0

    def pack(self) -> bytes:
        body = NODE_CONTROL.pack(NODE_MAGIC, NODE_VERSION, NODE_CONTROL.size, self.node_id,
                                 self.cluster_id, self.epoch, self.truncation_epoch,
                                 self.truncation_lsn, 0)
        return body[:-4] + struct.pack("<I", _crc32c.crc32c(body[:-4]))

    @classmethod
    def unpack(cls, data: bytes, where: str) -> "NodeControl":
        if len(data) != NODE_CONTROL.size:
            raise CorruptionError(f"{where}: node control file is {len(data)} bytes, expected "
                                  f"{NODE_CONTROL.size}")
        magic, version, size, node_id, cluster_id, epoch, t_epoch, t_lsn, crc = \
            NODE_CONTROL.unpack(data)
        if magic != NODE_MAGIC or version != NODE_VERSION or size != NODE_CONTROL.size:
            raise CorruptionError(f"{where} at offset 0: bad node control magic {magic!r}, "
                                  f"version {version} or size {size}")
        actual = _crc32c.crc32c(data[:-4])
        if actual != crc:
            raise CorruptionError(f"{where} at offset 60: node control CRC32C mismatch "
                                  f"(stored {crc:#010x}, computed {actual:#010x})")
        return cls(node_id, cluster_id, epoch, t_epoch, t_lsn)
