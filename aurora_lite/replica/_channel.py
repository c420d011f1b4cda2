"""Authenticated, framed channels for the replication endpoints (trio and blocking sockets).

The writer's replication endpoint and a replica's control endpoint speak the storage nodes'
protocol: aurora_lite.wire frames, and the same HMAC challenge-response with the cluster
secret (docs/formats/wire.md, "Authentication"). The endpoint sends CHALLENGE (node id 0: it
is not a storage node); the client answers AUTH with its role; the endpoint checks the MAC and
the role and proves itself with AUTH_OK. A wrong MAC, a role the endpoint does not serve, or
anything but AUTH first gets ERROR(NOT_AUTHENTICATED) and the connection is closed.

``accept``/``connect`` give a ``Channel`` (trio); ``_blocking.BlockingChannel`` serves tools
(``aurora-lite failover``, tests) without an event loop or trio.
"""

from __future__ import annotations

from typing import Any, Iterable

import trio

from aurora_lite.membership import parse_address
from aurora_lite.replica._blocking import ChannelClosed, _challenge, _check_auth_ok
from aurora_lite.replica._messages import decode_replication
from aurora_lite.wire import (
    Auth, Error, ErrorCode, FrameReader, MessageType, ProtocolError, answer, encode_frame,
    new_challenge, verify_client,
)

ENDPOINT_NODE_ID = 0
_CHUNK = 1 << 16


class Channel:
    """One authenticated connection: whole messages in and out. ``send`` may be called from
    several tasks (a lock keeps frames whole); ``receive`` from one."""

    def __init__(self, stream: trio.SocketStream, reader: FrameReader, where: str,
                 role: int, pending: list | None = None) -> None:
        self.stream = stream
        self.where = where
        self.role = role
        self._reader = reader
        self._frames: list[tuple[int, int, bytes]] = list(pending or ())
        self._send_lock = trio.Lock()
        self.bytes_sent = 0

    async def send(self, message: Any, request_id: int = 0) -> None:
        await self.send_raw(encode_frame(message.TYPE, message.encode(), request_id))

    async def send_raw(self, data: bytes) -> None:
        """Send already encoded frames (the publisher encodes each stream entry once)."""
        async with self._send_lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                raise ChannelClosed(f"{self.where}: connection lost ({exc})") from None
        self.bytes_sent += len(data)

    async def receive(self) -> tuple[int, object]:
        """The next message as (request id, message)."""
        while not self._frames:
            try:
                data = await self.stream.receive_some(_CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                raise ChannelClosed(f"{self.where}: connection lost ({exc})") from None
            if not data:
                raise ChannelClosed(f"{self.where} closed the connection")
            self._frames.extend(self._reader.feed(data))
        message_type, request_id, payload = self._frames.pop(0)
        return request_id, decode_replication(message_type, payload)

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


async def _first_frame(stream: trio.SocketStream, reader: FrameReader, frames: list,
                       where: str) -> tuple[int, int, bytes]:
    while not frames:
        data = await stream.receive_some(_CHUNK)
        if not data:
            raise ChannelClosed(f"{where} closed the connection during authentication")
        frames.extend(reader.feed(data))
    return frames.pop(0)


async def accept(stream: trio.SocketStream, secret: bytes, cluster_id: bytes,
                 roles: Iterable[int], *, timeout: float = 10.0) -> Channel:
    """The endpoint's side of the handshake; raises ProtocolError/ChannelClosed on failure
    (the caller closes the stream)."""
    try:
        peer = stream.socket.getpeername()
        where = f"{peer[0]}:{peer[1]}"
    except OSError:
        where = "a client"
    reader = FrameReader()
    frames: list = []
    allowed = set(roles)
    with trio.fail_after(timeout):
        challenge = new_challenge(ENDPOINT_NODE_ID, cluster_id)
        await stream.send_all(encode_frame(challenge.TYPE, challenge.encode()))
        message_type, _rid, payload = await _first_frame(stream, reader, frames, where)
        try:
            if message_type != MessageType.AUTH:
                raise ProtocolError(f"{where}: expected AUTH, got message type {message_type}")
            auth = Auth.decode(payload)
            auth_ok = verify_client(secret, challenge, auth)
            if auth.role not in allowed:
                raise ProtocolError(f"{where}: role {auth.role} is not served here")
        except ProtocolError as exc:
            error = Error(ErrorCode.NOT_AUTHENTICATED, str(exc))
            try:
                await stream.send_all(encode_frame(error.TYPE, error.encode()))
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            raise
        await stream.send_all(encode_frame(auth_ok.TYPE, auth_ok.encode()))
    return Channel(stream, reader, where, auth.role, frames)


async def connect(address: str | tuple[str, int], secret: bytes, role: int, *,
                  cluster_id: bytes | None = None, timeout: float = 5.0) -> Channel:
    """The client's side: connect, authenticate with ``role``, check the endpoint's proof."""
    host, port = parse_address(address) if isinstance(address, str) else address
    where = f"{host}:{port}"
    reader = FrameReader()
    frames: list = []
    try:
        with trio.fail_after(timeout):
            stream = await trio.open_tcp_stream(host, port)
            try:
                challenge = _challenge(await _first_frame(stream, reader, frames, where),
                                       where, cluster_id)
                auth = answer(secret, challenge, role)
                await stream.send_all(encode_frame(auth.TYPE, auth.encode()))
                _check_auth_ok(await _first_frame(stream, reader, frames, where), where,
                               secret, challenge, auth)
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
    except trio.TooSlowError:
        raise ChannelClosed(f"{where} did not complete the handshake within {timeout:g} s") \
            from None
    except (OSError, trio.BrokenResourceError) as exc:
        raise ChannelClosed(f"cannot connect to {where}: {exc}") from None
    return Channel(stream, reader, where, role, frames)


