"""Clients of a storage node: an authenticated, framed request/response channel.

``NodeClient`` (trio) is what peers use for gossip and repair, and what the writer's quorum
client may use; ``BlockingNodeClient`` (plain sockets) serves tools such as
``aurora-lite cluster status``. Both run the wire handshake (CHALLENGE -> AUTH -> AUTH_OK, with
the segment proving it knows the secret too: aurora_lite.wire._auth), then send requests with
increasing request ids. ``request`` waits for the matching reply; ``send``/``receive`` let a
caller keep several requests outstanding (pipelining). An ERROR reply raises: STALE_EPOCH as
``StaleEpochError``, anything else as ``RemoteError`` carrying its ``ErrorCode``.
"""

from __future__ import annotations

import socket
from typing import Any

import trio

from aurora_lite.errors import OperationalError, StaleEpochError
from aurora_lite.membership import parse_address
from aurora_lite.wire import (
    AuthOk, Challenge, Error, ErrorCode, FrameReader, MessageType, ProtocolError, Role, answer,
    decode_message, encode_frame, verify_server,
)

DEFAULT_TIMEOUT = 10.0
_CHUNK = 1 << 16


class RemoteError(OperationalError):
    """A storage node answered ERROR."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def error_from_reply(reply: Error, address: str) -> OperationalError:
    text = f"node {address}: {_code_name(reply.code)}: {reply.message}"
    if reply.code == ErrorCode.STALE_EPOCH:
        exc: OperationalError = StaleEpochError(text)
        exc.code = reply.code          # type: ignore[attr-defined]
        return exc
    return RemoteError(reply.code, text)


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"error {code}"


def _address(address: str | tuple[str, int]) -> tuple[str, int]:
    return parse_address(address) if isinstance(address, str) else address


class _Handshake:
    """The client side of the authentication exchange, independent of the transport."""

    def __init__(self, secret: bytes, role: int, node_id: int,
                 cluster_id: bytes | None) -> None:
        self.secret, self.role, self.node_id, self.cluster_id = secret, role, node_id, cluster_id
        self.challenge: Challenge | None = None
        self.auth: Any = None

    def on_challenge(self, frame: tuple[int, int, bytes], where: str) -> bytes:
        message_type, _rid, payload = frame
        if message_type != MessageType.CHALLENGE:
            raise ProtocolError(f"{where}: expected CHALLENGE, got message type {message_type}")
        self.challenge = Challenge.decode(payload)
        if self.cluster_id is not None and self.challenge.cluster_id != self.cluster_id:
            raise OperationalError(f"{where} belongs to cluster {self.challenge.cluster_id.hex()}"
                                   f", not {self.cluster_id.hex()}")
        self.auth = answer(self.secret, self.challenge, self.role, self.node_id)
        return encode_frame(MessageType.AUTH, self.auth.encode())

    def on_reply(self, frame: tuple[int, int, bytes], where: str) -> None:
        message_type, _rid, payload = frame
        if message_type == MessageType.ERROR:
            raise error_from_reply(Error.decode(payload), where)
        if message_type != MessageType.AUTH_OK:
            raise ProtocolError(f"{where}: expected AUTH_OK, got message type {message_type}")
        assert self.challenge is not None
        verify_server(self.secret, self.challenge, self.auth, AuthOk.decode(payload))


class NodeClient:
    """An authenticated trio connection to one storage node."""

    def __init__(self, stream: trio.SocketStream, reader: FrameReader, challenge: Challenge,
                 address: str) -> None:
        self._stream = stream
        self._reader = reader
        self._frames: list[tuple[int, int, bytes]] = []
        self._next_id = 1
        self._lock = trio.Lock()
        self.node_id = challenge.node_id
        self.address = address
        self.closed = False

    @classmethod
    async def connect(cls, address: str | tuple[str, int], secret: bytes, *,
                      role: int = Role.WRITER, node_id: int = 0,
                      cluster_id: bytes | None = None,
                      timeout: float = DEFAULT_TIMEOUT) -> "NodeClient":
        host, port = _address(address)
        where = f"{host}:{port}"
        handshake = _Handshake(secret, role, node_id, cluster_id)
        reader = FrameReader()
        try:
            with trio.fail_after(timeout):
                stream = await trio.open_tcp_stream(host, port)
                try:
                    frames: list = []
                    await _receive_into(stream, reader, frames, where)
                    await stream.send_all(handshake.on_challenge(frames.pop(0), where))
                    if not frames:
                        await _receive_into(stream, reader, frames, where)
                    handshake.on_reply(frames.pop(0), where)
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
        except trio.TooSlowError:
            raise OperationalError(f"node {where} did not complete the handshake within "
                                   f"{timeout} s") from None
        except OSError as exc:
            raise OperationalError(f"cannot connect to node {where}: {exc}") from None
        client = cls(stream, reader, handshake.challenge, where)
        client._frames = frames
        return client

    async def send(self, message: Any) -> int:
        """Send a request; return its request id (replies come from ``receive``)."""
        request_id = self._next_id
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        try:
            await self._stream.send_all(encode_frame(message.TYPE, message.encode(), request_id))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.closed = True
            raise OperationalError(f"connection to node {self.address} lost: {exc}") from None
        return request_id

    async def receive(self) -> tuple[int, Any]:
        """The next reply as (request id, message); ERROR replies are returned, not raised."""
        if not self._frames:
            try:
                await _receive_into(self._stream, self._reader, self._frames, self.address)
            except BaseException:
                self.closed = True
                raise
        message_type, request_id, payload = self._frames.pop(0)
        return request_id, decode_message(message_type, payload)

    async def request(self, message: Any, timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Send ``message`` and wait for its reply (ERROR raises)."""
        async with self._lock:
            try:
                with trio.fail_after(timeout if timeout is not None else float("inf")):
                    request_id = await self.send(message)
                    while True:
                        reply_id, reply = await self.receive()
                        if reply_id == request_id:
                            break
            except trio.TooSlowError:
                # The reply may still come: this connection can no longer pair them up.
                await self.aclose()
                raise OperationalError(f"node {self.address} did not answer "
                                       f"{type(message).__name__} within {timeout} s") from None
        if isinstance(reply, Error):
            raise error_from_reply(reply, self.address)
        return reply

    async def aclose(self) -> None:
        self.closed = True
        await trio.aclose_forcefully(self._stream)


async def _receive_into(stream: trio.SocketStream, reader: FrameReader, frames: list,
                        where: str) -> None:
    while not frames:
        try:
            data = await stream.receive_some(_CHUNK)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise OperationalError(f"connection to node {where} lost: {exc}") from None
        if not data:
            raise OperationalError(f"node {where} closed the connection")
        frames.extend(reader.feed(data))


class BlockingNodeClient:
    """An authenticated blocking-socket connection to one storage node (tools)."""

    def __init__(self, address: str | tuple[str, int], secret: bytes, *,
                 role: int = Role.TOOL, node_id: int = 0, cluster_id: bytes | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        host, port = _address(address)
        self.address = f"{host}:{port}"
        self._reader = FrameReader()
        self._frames: list[tuple[int, int, bytes]] = []
        self._next_id = 1
        try:
            self._socket = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise OperationalError(f"cannot connect to node {self.address}: {exc}") from None
        try:
            handshake = _Handshake(secret, role, node_id, cluster_id)
            self._socket.sendall(handshake.on_challenge(self._next_frame(), self.address))
            handshake.on_reply(self._next_frame(), self.address)
            self.node_id = handshake.challenge.node_id
        except BaseException:
            self.close()
            raise

    def _next_frame(self) -> tuple[int, int, bytes]:
        while not self._frames:
            try:
                data = self._socket.recv(_CHUNK)
            except OSError as exc:
                raise OperationalError(f"node {self.address}: {exc}") from None
            if not data:
                raise OperationalError(f"node {self.address} closed the connection")
            self._frames.extend(self._reader.feed(data))
        return self._frames.pop(0)

    def request(self, message: Any) -> Any:
        request_id = self._next_id
        self._next_id += 1
        try:
            self._socket.sendall(encode_frame(message.TYPE, message.encode(), request_id))
        except OSError as exc:
            raise OperationalError(f"node {self.address}: {exc}") from None
        while True:
            message_type, reply_id, payload = self._next_frame()
            if reply_id == request_id:
                break
        reply = decode_message(message_type, payload)
        if isinstance(reply, Error):
            raise error_from_reply(reply, self.address)
        return reply

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> "BlockingNodeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
