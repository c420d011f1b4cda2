"""The cluster file (JSON) and its secret: who the storage nodes are and where they listen.

docs/formats/cluster.md documents both. The cluster file::

    {"format": 1, "cluster_id": "<32 hex digits>", "membership_epoch": 1, "pg_size": 4096,
     "nodes": [{"node_id": 1, "address": "127.0.0.1:7101", "data": "node-1"}, ...]}

``data`` is the node's data directory, relative to the cluster file's directory unless it is
absolute. The secret file sits next to it (``<stem>.secret``: 32 random bytes as 64 hex digits
and a newline, mode 0600); every connection proves knowledge of it (aurora_lite.wire HMAC), so a
secret that others can read is refused at load time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import uuid
from dataclasses import dataclass
from typing import Sequence

from aurora_lite.errors import OperationalError, ProgrammingError
from aurora_lite.membership._archive_settings import ArchiveSettings
from aurora_lite.membership._placement import (
    MIN_NODES, holds, page_range, pg_of, pgs_at, positions_of,
)

FORMAT = 1
DEFAULT_PG_SIZE = 4096
SECRET_BYTES = 32
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_SECRET_TEXT = re.compile(r"^[0-9a-f]{64}$")


def parse_address(text: str, *, any_port: bool = False) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) -> (host, port); port 0 only with
    ``any_port`` (listen on a free port)."""
    host, separator, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not separator or not host or not port.isdigit() or \
            not (0 if any_port else 1) <= int(port) < 65536:
        raise ProgrammingError(f"bad node address {text!r}: expected HOST:PORT")
    return host, int(port)


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class NodeInfo:
    """One storage node of the cluster file."""

    node_id: int
    address: str          # host:port
    data: str             # data directory, absolute once loaded

    @property
    def host(self) -> str:
        return parse_address(self.address)[0]

    @property
    def port(self) -> int:
        return parse_address(self.address)[1]


@dataclass(frozen=True)
class ClusterConfig:
    """A loaded cluster file: membership and PG placement (docs/protocols/quorum.md)."""

    path: str
    cluster_id: str                 # 32 hex digits (a UUID)
    membership_epoch: int
    pg_size: int
    nodes: tuple[NodeInfo, ...]
    archive: ArchiveSettings | None = None      # continuous archiving (None: off)

    @property
    def cluster_id_bytes(self) -> bytes:
        return bytes.fromhex(self.cluster_id)

    @property
    def secret_path(self) -> str:
        return secret_path(self.path)

    def node(self, node_id: int) -> NodeInfo:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise ProgrammingError(f"node {node_id} is not in cluster file {self.path} (nodes: "
                               f"{', '.join(str(n.node_id) for n in self.nodes)})")

    def position(self, node_id: int) -> int:
        return self.nodes.index(self.node(node_id))

    def pg_of(self, page_id: int) -> int:
        return pg_of(page_id, self.pg_size)

    def page_range(self, pg: int) -> tuple[int, int]:
        return page_range(pg, self.pg_size)

    def nodes_of(self, pg: int) -> tuple[NodeInfo, ...]:
        """The six nodes holding ``pg``, in placement order."""
        return tuple(self.nodes[p] for p in positions_of(pg, len(self.nodes)))

    def holds(self, node_id: int, pg: int) -> bool:
        return pg >= 0 and holds(self.position(node_id), pg, len(self.nodes))

    def pgs_of(self, node_id: int, pg_count: int) -> list[int]:
        """The PGs among ``0 .. pg_count-1`` that ``node_id`` holds."""
        return pgs_at(self.position(node_id), len(self.nodes), pg_count)

    def peers_of(self, node_id: int, pg: int) -> tuple[NodeInfo, ...]:
        """The other five nodes holding ``pg``."""
        return tuple(n for n in self.nodes_of(pg) if n.node_id != node_id)

    def to_json(self) -> str:
        base = os.path.dirname(os.path.abspath(self.path))
        head = {"format": FORMAT, "cluster_id": self.cluster_id,
                "membership_epoch": self.membership_epoch, "pg_size": self.pg_size}
        lines = [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items()]
        nodes = [json.dumps({"node_id": n.node_id, "address": n.address,
                             "data": _relative(n.data, base)}) for n in self.nodes]
        # One node per line: operators read and diff this file.
        text = "{\n" + "\n".join(lines) + '\n  "nodes": [\n    ' + ",\n    ".join(nodes) + \
            "\n  ]"
        if self.archive is not None:
            text += ',\n  "archive": ' + json.dumps(self.archive.to_document(base))
        return text + "\n}\n"


def secret_path(cluster_path: str | os.PathLike) -> str:
    stem, _ext = os.path.splitext(os.fspath(cluster_path))
    return stem + ".secret"


def _relative(path: str, base: str) -> str:
    relative = os.path.relpath(path, base)
    return path if relative.startswith("..") else relative


def create_cluster_file(path: str | os.PathLike, addresses: Sequence[str], *,
                        data_dirs: Sequence[str] | None = None,
                        node_ids: Sequence[int] | None = None,
                        pg_size: int = DEFAULT_PG_SIZE, membership_epoch: int = 1,
                        cluster_id: str | None = None,
                        archive: ArchiveSettings | None = None) -> ClusterConfig:
    """Write a new cluster file and its secret (mode 0600); refuse to overwrite either.

    Node ids default to 1..N and data directories to ``node-<id>`` beside the file.
    ``archive`` adds the archive section (a relative directory is taken relative to the file).
    """
    path = os.path.abspath(os.fspath(path))
    count = len(addresses)
    node_ids = list(node_ids) if node_ids is not None else list(range(1, count + 1))
    data_dirs = list(data_dirs) if data_dirs is not None else [f"node-{i}" for i in node_ids]
    if len(node_ids) != count or len(data_dirs) != count:
        raise ProgrammingError("addresses, node ids and data directories differ in number")
    base = os.path.dirname(path)
    config = ClusterConfig(
        path=path, cluster_id=cluster_id or uuid.uuid4().hex,
        membership_epoch=membership_epoch, pg_size=pg_size,
        nodes=tuple(NodeInfo(int(i), str(a), os.path.normpath(os.path.join(base, d)))
                    for i, a, d in zip(node_ids, addresses, data_dirs)),
        archive=None if archive is None else archive.resolved(base))
    _validate(config)
    for existing in (path, secret_path(path)):
        if os.path.exists(existing):
            raise OperationalError(f"{existing} already exists: not overwriting a cluster")
    os.makedirs(base, exist_ok=True)
    # The secret first: a cluster file never exists without its secret.
    _write_new(secret_path(path), secrets.token_bytes(SECRET_BYTES).hex() + "\n", 0o600)
    _write_new(path, config.to_json(), 0o644)
    return config


def _write_new(path: str, text: str, mode: int) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)         # the umask must not widen or narrow it
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)    # fails if another process created it meanwhile
    finally:
        os.unlink(temporary)
    directory = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load(path: str | os.PathLike) -> ClusterConfig:
    """Read and check a cluster file; relative data directories become absolute."""
    path = os.path.abspath(os.fspath(path))
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise OperationalError(f"cluster file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise OperationalError(f"cannot read cluster file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise OperationalError(f"cluster file {path}: expected a JSON object")
    if document.get("format") != FORMAT:
        raise OperationalError(f"cluster file {path}: format {document.get('format')!r} is not "
                               f"supported (expected {FORMAT})")
    base = os.path.dirname(path)
    try:
        nodes = tuple(NodeInfo(int(n["node_id"]), str(n["address"]),
                               os.path.normpath(os.path.join(base, str(n["data"]))))
                      for n in document["nodes"])
        archive = None
        if document.get("archive") is not None:
            archive = ArchiveSettings.from_document(document["archive"], base)
        config = ClusterConfig(path, str(document["cluster_id"]),
                               int(document["membership_epoch"]), int(document["pg_size"]),
                               nodes, archive)
    except (KeyError, TypeError, ValueError) as exc:
        raise OperationalError(f"cluster file {path}: missing or bad field ({exc!r})") from None
    except ProgrammingError as exc:
        raise OperationalError(f"cluster file {path}: {exc}") from None
    try:
        _validate(config)
    except ProgrammingError as exc:
        raise OperationalError(f"cluster file {path}: {exc}") from None
    return config


def _validate(config: ClusterConfig) -> None:
    if not _HEX_ID.match(config.cluster_id):
        raise ProgrammingError(f"cluster id {config.cluster_id!r} is not 32 lowercase hex "
                               f"digits")
    if config.pg_size < 1:
        raise ProgrammingError(f"pg_size must be positive, not {config.pg_size}")
    if config.membership_epoch < 0:
        raise ProgrammingError("membership_epoch cannot be negative")
    if len(config.nodes) < MIN_NODES:
        raise ProgrammingError(f"a cluster needs at least {MIN_NODES} nodes, not "
                               f"{len(config.nodes)}")
    ids = [n.node_id for n in config.nodes]
    if len(set(ids)) != len(ids) or min(ids) < 1:
        raise ProgrammingError(f"node ids must be distinct and positive: {ids}")
    addresses = [parse_address(n.address) for n in config.nodes]
    if len(set(addresses)) != len(addresses):
        raise ProgrammingError("two nodes share an address")
    datas = [n.data for n in config.nodes]
    if len(set(datas)) != len(datas):
        raise ProgrammingError("two nodes share a data directory")


def load_secret(cluster_path: str | os.PathLike) -> bytes:
    """The cluster secret; OperationalError if it is missing, malformed or readable by others."""
    path = secret_path(cluster_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise OperationalError(f"cluster secret {path} does not exist (it is created with the "
                               f"cluster file)") from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise OperationalError(f"cluster secret {path} has mode {mode:04o}: it must not be "
                                   f"readable by group or others (chmod 600 {path})")
        text = os.read(fd, 4096).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    if not _SECRET_TEXT.match(text):
        raise OperationalError(f"cluster secret {path} is not {SECRET_BYTES} bytes of hex")
    return bytes.fromhex(text)
