"""The blocking-socket client of the replication endpoints, and what both channel kinds share.

``BlockingChannel`` serves tools (``aurora-lite failover``, ``.cluster``, tests) without an
event loop, and without importing trio: a failover starts the moment a writer died, so its
imports are part of the time to the first accepted write. The handshake is the storage
nodes' (docs/formats/wire.md, "Authentication"); ``_channel`` has the trio side.
"""

from __future__ import annotations

import socket
from typing import Any

from aurora_lite.errors import OperationalError
from aurora_lite.membership import parse_address
from aurora_lite.replica._messages import decode_replication
from aurora_lite.wire import (
    Auth, AuthOk, Challenge, Error, FrameReader, MessageType, ProtocolError, Role, answer,
    encode_frame, verify_server,
)

_CHUNK = 1 << 16


class ChannelClosed(OperationalError):
    """The other side closed the connection (or it broke)."""


def _challenge(frame: tuple[int, int, bytes], where: str,
               cluster_id: bytes | None) -> Challenge:
    message_type, _rid, payload = frame
    if message_type != MessageType.CHALLENGE:
        raise ProtocolError(f"{where}: expected CHALLENGE, got message type {message_type}")
    challenge = Challenge.decode(payload)
    if cluster_id is not None and challenge.cluster_id != cluster_id:
        raise OperationalError(f"{where} belongs to cluster {challenge.cluster_id.hex()}, "
                               f"not {cluster_id.hex()}")
    return challenge


def _check_auth_ok(frame: tuple[int, int, bytes], where: str, secret: bytes,
                   challenge: Challenge, auth: Auth) -> None:
    message_type, _rid, payload = frame
    if message_type == MessageType.ERROR:
        error = Error.decode(payload)
        raise OperationalError(f"{where} refused the connection: {error.message}")
    if message_type != MessageType.AUTH_OK:
        raise ProtocolError(f"{where}: expected AUTH_OK, got message type {message_type}")
    verify_server(secret, challenge, auth, AuthOk.decode(payload))


class BlockingChannel:
    """A blocking-socket client of an endpoint (tools): ``request`` sends one message and
    returns the reply with the same request id; ERROR replies raise OperationalError."""

    def __init__(self, address: str | tuple[str, int], secret: bytes, *,
                 role: int = Role.TOOL, cluster_id: bytes | None = None,
                 timeout: float = 10.0) -> None:
        host, port = parse_address(address) if isinstance(address, str) else address
        self.where = f"{host}:{port}"
        self._reader = FrameReader()
        self._frames: list[tuple[int, int, bytes]] = []
        self._next_id = 1
        try:
            self._socket = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ChannelClosed(f"cannot connect to {self.where}: {exc}") from None
        try:
            challenge = _challenge(self._next_frame(), self.where, cluster_id)
            auth = answer(secret, challenge, role)
            self._socket.sendall(encode_frame(auth.TYPE, auth.encode()))
            _check_auth_ok(self._next_frame(), self.where, secret, challenge, auth)
        except BaseException:
            self.close()
            raise

    def _next_frame(self) -> tuple[int, int, bytes]:
        while not self._frames:
            try:
                data = self._socket.recv(_CHUNK)
            except OSError as exc:
                raise ChannelClosed(f"{self.where}: {exc}") from None
            if not data:
                raise ChannelClosed(f"{self.where} closed the connection")
            self._frames.extend(self._reader.feed(data))
        return self._frames.pop(0)

    def request(self, message: Any, timeout: float | None = None) -> Any:
        if timeout is not None:
            self._socket.settimeout(timeout)
        request_id = self._next_id
        self._next_id += 1
        try:
            self._socket.sendall(encode_frame(message.TYPE, message.encode(), request_id))
        except OSError as exc:
            raise ChannelClosed(f"{self.where}: {exc}") from None
        while True:
            message_type, reply_id, payload = self._next_frame()
            if reply_id == request_id:
                break
        reply = decode_replication(message_type, payload)
        if isinstance(reply, Error):
            raise OperationalError(f"{self.where}: {reply.message}")
        return reply

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> "BlockingChannel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["BlockingChannel", "ChannelClosed"]
