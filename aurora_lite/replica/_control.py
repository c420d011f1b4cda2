"""A replica process's control endpoint: STATUS for tools, PROMOTE for ``aurora-lite failover``.

The endpoint speaks aurora_lite.wire frames with the HMAC handshake of the cluster secret
(role TOOL only: whoever can read the cluster's secret may promote a replica, exactly as they
could start a writer). Requests:

* STATUS (21) -> STATUS_REPLY (22): the process's statistics as JSON;
* PROMOTE (37) -> PROMOTED (38): become the writer (``promote(timeout)`` runs in a worker
  thread; it returns the new writer's addresses), or ERROR naming why not.

The client side, for tools, is ``_control_client`` (``request_promotion``, ``control_status``),
which does not import trio.
"""

from __future__ import annotations

import json
import logging
from typing import Callable

import trio

from aurora_lite.errors import Error as AuroraError
from aurora_lite.replica._channel import ChannelClosed, accept
from aurora_lite.replica._messages import Promote, Promoted
from aurora_lite.wire import Error, ErrorCode, ProtocolError, Role, Status, StatusReply

log = logging.getLogger("aurora_lite.replica")


class ControlServer:
    def __init__(self, secret: bytes, cluster_id: bytes, *, statistics: Callable[[], dict],
                 promote: Callable[[float], dict], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.secret = secret
        self.cluster_id = cluster_id
        self.statistics = statistics
        self.promote = promote
        self.host = host
        self.port = port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            channel = await accept(stream, self.secret, self.cluster_id, (Role.TOOL,))
            while True:
                request_id, message = await channel.receive()
                await channel.send(await self._answer(message), request_id)
        except (ChannelClosed, ProtocolError, trio.TooSlowError) as exc:
            log.info("control endpoint: connection ended: %s", exc)
        except Exception:  # noqa: BLE001 - one tool never takes the endpoint down
            log.exception("control endpoint: handler failed")
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    async def _answer(self, message: object) -> object:
        if isinstance(message, Status):
            stats = await trio.to_thread.run_sync(self.statistics)
            return StatusReply(json.dumps(stats, sort_keys=True, default=str))
        if isinstance(message, Promote):
            try:
                info = await trio.to_thread.run_sync(self.promote, message.timeout_ms / 1000)
            except AuroraError as exc:
                log.error("promotion failed: %s", exc)
                return Error(ErrorCode.INTERNAL, f"promotion failed: {exc.message}")
            return Promoted(json.dumps(info, sort_keys=True))
        return Error(ErrorCode.BAD_REQUEST, f"{type(message).__name__} is not served here")
