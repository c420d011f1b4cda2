"""The client of a replica's control endpoint (and of a writer's replication endpoint), for
tools: ``request_promotion`` (``aurora-lite failover``) and ``control_status`` (``.cluster``).

Blocking sockets, no trio: a failover starts the moment the writer died, and what it imports
is part of the time to the first accepted write. The server side is ``_control``.
"""

from __future__ import annotations

import json

from aurora_lite.replica._blocking import BlockingChannel, ChannelClosed
from aurora_lite.replica._messages import Promote, Promoted
from aurora_lite.wire import Status


def request_promotion(address: str, secret: bytes, *, cluster_id: bytes | None = None,
                      timeout: float = 30.0) -> dict:
    """Ask the replica whose control endpoint is ``address`` to become the writer; return
    the new writer's addresses and epoch (raises OperationalError when it could not)."""
    with BlockingChannel(address, secret, cluster_id=cluster_id, timeout=timeout) as channel:
        reply = channel.request(Promote(int(timeout * 1000)), timeout=timeout + 5)
    if not isinstance(reply, Promoted):
        raise ChannelClosed(f"{address} answered {type(reply).__name__} to PROMOTE")
    return json.loads(reply.json_text)


def control_status(address: str, secret: bytes, *, cluster_id: bytes | None = None,
                   timeout: float = 5.0) -> dict:
    """The STATUS of a replica's control endpoint (or of a writer's replication endpoint)."""
    with BlockingChannel(address, secret, cluster_id=cluster_id, timeout=timeout) as channel:
        reply = channel.request(Status(), timeout=timeout)
    return json.loads(reply.json_text)
