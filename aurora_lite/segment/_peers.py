"""Connections from one storage node to its peers (gossip and repair), opened on demand.

Each peer is reached with role PEER and this node's id (aurora_lite.wire._auth). A connection
that fails or times out is dropped and reopened by the next request; an ERROR reply leaves it
open (the peer is fine, it just could not serve that request).
"""

from __future__ import annotations

from typing import Any

import trio

from aurora_lite.errors import OperationalError
from aurora_lite.segment._client import NodeClient, RemoteError
from aurora_lite.segment._node import SegmentNode
from aurora_lite.wire import Role


class PeerPool:
    def __init__(self, node: SegmentNode, secret: bytes, *, connect_timeout: float = 2.0,
                 request_timeout: float = 10.0) -> None:
        self.node = node
        self.secret = secret
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self._clients: dict[int, NodeClient] = {}
        self._locks: dict[int, trio.Lock] = {}

    async def _client(self, node_id: int) -> NodeClient:
        lock = self._locks.setdefault(node_id, trio.Lock())
        async with lock:
            client = self._clients.get(node_id)
            if client is None or client.closed:
                info = self.node.config.node(node_id)
                client = await NodeClient.connect(
                    info.address, self.secret, role=Role.PEER, node_id=self.node.node_id,
                    cluster_id=self.node.config.cluster_id_bytes, timeout=self.connect_timeout)
                self._clients[node_id] = client
            return client

    async def request(self, node_id: int, message: Any, timeout: float | None = None) -> Any:
        client = await self._client(node_id)
        try:
            return await client.request(message, timeout or self.request_timeout)
        except RemoteError:
            raise
        except OperationalError:
            self._clients.pop(node_id, None)
            await client.aclose()
            raise

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
