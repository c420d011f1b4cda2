"""One authenticated, pipelined connection to one storage node, kept up by a trio task.

``NodeLink.run`` connects, answers the node's CHALLENGE (HMAC, aurora_lite.wire) and checks the
node's proof in turn, then runs a sender and a receiver task until the connection fails; it
reconnects with exponential backoff (``backoff_min`` .. ``backoff_max``) for as long as the
volume is open. A slow or dead node only ever stalls its own link:

* frames go out through an outbox drained by the one sender task, many frames per
  ``send_all`` (trio pays per scheduling point, so batching is what makes it cheap);
* an outbox that grows past ``max_outbox`` bytes (the node stopped reading) drops the
  connection instead of buffering without bound; the node later fills the gap from its peers
  (gossip, quorum.md Q1);
* requests that expect an answer (``call``) wait with a timeout and fail with ``LinkDown``
  when the connection drops.

A ``Pacer`` shared by links models the writer's network interface for benchmarks
(bench/shipping.py ``--link-mbps``): with one set, every frame waits until the shared link
would have finished sending it at that rate. Off by default (``pacer = None``).

Frames whose request id is not a pending call (WRITE_ACK, OK for SET_HORIZON, errors about
a WRITE_BATCH) go to the ``on_message`` callback. Call ids have the top bit set so they never
collide with the batch sequence numbers the volume uses as request ids of WRITE_BATCH frames
(one encoded frame is shared by every node).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Awaitable, Callable

import trio

from aurora_lite.errors import OperationalError
from aurora_lite.wire import (
    AuthOk, Challenge, Error, FrameReader, MessageType, ProtocolError, Role, answer,
    decode_message, encode_frame, verify_server,
)
from aurora_lite.wire.stream import RawReceiver, write_some

CALL_ID_BASE = 1 << 31
_RECEIVE_BYTES = 1 << 20
_log = logging.getLogger("aurora_lite.volume")


class LinkDown(OperationalError):
    """The connection to a storage node is down (or went down while a request waited)."""


class RemoteError(OperationalError):
    """A storage node answered a request with ERROR."""

    def __init__(self, node_id: int, error: Error) -> None:
        super().__init__(f"storage node {node_id}: {error.message} (code {error.code})")
        self.node_id = node_id
        self.code = error.code


class Pacer:
    """A network interface of ``bytes_per_second`` shared by the links that hold it: each
    send is released when the bytes before it and its own would be on the wire. Lives on
    the links' trio thread."""

    def __init__(self, bytes_per_second: float) -> None:
        if bytes_per_second <= 0:
            raise ValueError("a pacer needs a positive rate")
        self.rate = float(bytes_per_second)
        self._free_at = 0.0
        self.waited = 0.0             # seconds sends spent waiting for the interface

    async def send(self, size: int) -> None:
        now = trio.current_time()
        self._free_at = max(now, self._free_at) + size / self.rate
        self.waited += self._free_at - now
        await trio.sleep_until(self._free_at)


class _Call:
    __slots__ = ("event", "reply", "failure", "started")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.reply: object = None
        self.failure: BaseException | None = None
        self.started = time.perf_counter()


OnMessage = Callable[["NodeLink", int, object], None]
OnConnect = Callable[["NodeLink"], Awaitable[None]]
OnDown = Callable[["NodeLink"], None]


class NodeLink:
    """The writer's side of one storage node connection (lives on the volume's I/O thread)."""

    def __init__(self, node_id: int, host: str, port: int, secret: bytes, cluster_id: bytes, *,
                 on_message: OnMessage, on_connect: OnConnect, on_down: OnDown,
                 connect_timeout: float = 2.0, backoff_min: float = 0.02,
                 backoff_max: float = 0.5, max_outbox: int = 64 << 20,
                 wanted: Callable[[], bool] = lambda: True) -> None:
        self.node_id = node_id
        self.host = host
        self.port = port
        self._secret = secret
        self._cluster_id = cluster_id
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_down = on_down
        self._wanted = wanted
        self.connect_timeout = connect_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.max_outbox = max_outbox
        self.connected = False        # authenticated; calls may be made
        self.ready = False            # the volume's handshake is done: batches may be sent
        self.generation = 0           # connections made so far (tells reconnections apart)
        self.last_error = ""
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._sending = False         # the sender task is inside send_all
        self._wake = trio.Event()
        self._calls: dict[int, _Call] = {}
        self._next_call = CALL_ID_BASE
        self._stream: trio.SocketStream | None = None
        self._scope = trio.CancelScope()
        self._reader = FrameReader()
        self._connected_event = trio.Event()
        self.pacer: Pacer | None = None   # a modelled network interface (benchmarks only)
        # Counters (read by statistics() from other threads: plain ints, no lock needed).
        self.reconnects = 0
        self.bytes_sent = 0
        self.messages_sent = 0
        self.messages_received = 0
        self.acks = 0
        self.errors = 0
        self.read_latency = 0.0       # EWMA of GET_PAGE round trips, seconds (0: unknown)

    def __repr__(self) -> str:
        return f"NodeLink(node {self.node_id} at {self.host}:{self.port})"

    # -- the connection task ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, serve, reconnect with backoff, forever (cancel to stop)."""
        backoff = self.backoff_min
        while True:
            if not self._wanted():
                # The volume failed for good (fenced): no point in reconnecting.
                self.last_error = self.last_error or "the volume stopped"
                await trio.sleep_forever()
            try:
                stream = await self._connect()
            except (OSError, OperationalError, trio.TooSlowError) as exc:
                self.last_error = f"connect: {exc}"
                await trio.sleep(backoff)
                backoff = min(self.backoff_max, backoff * 2)
                continue
            backoff = self.backoff_min
            try:
                await self._serve(stream)
            finally:
                self._disconnected()
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)
            await trio.sleep(self.backoff_min)

    async def _connect(self) -> trio.SocketStream:
        with trio.fail_after(self.connect_timeout):
            stream = await trio.open_tcp_stream(self.host, self.port)
            try:
                reader = FrameReader()
                challenge = await self._receive_one(stream, reader, Challenge)
                if challenge.node_id != self.node_id:
                    raise ProtocolError(f"{self.host}:{self.port} is node {challenge.node_id}, "
                                        f"not node {self.node_id} of the cluster file")
                if challenge.cluster_id != self._cluster_id:
                    raise ProtocolError(f"node {self.node_id} belongs to another cluster")
                auth = answer(self._secret, challenge, Role.WRITER)
                await stream.send_all(encode_frame(auth.TYPE, auth.encode()))
                auth_ok = await self._receive_one(stream, reader, AuthOk)
                verify_server(self._secret, challenge, auth, auth_ok)
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
        self._reader = reader
        return stream

    async def _receive_one(self, stream: trio.SocketStream, reader: FrameReader, expected):
        while True:
            data = await stream.receive_some(_RECEIVE_BYTES)
            if not data:
                raise LinkDown(f"node {self.node_id} closed the connection during "
                               f"authentication")
            frames = reader.feed(data)
            if frames:
                if len(frames) > 1:
                    raise ProtocolError(f"node {self.node_id} sent frames before "
                                        f"authentication finished")
                message_type, _request_id, payload = frames[0]
                message = decode_message(message_type, payload)
                if isinstance(message, Error):
                    raise RemoteError(self.node_id, message)
                if not isinstance(message, expected):
                    raise ProtocolError(f"node {self.node_id} sent {type(message).__name__} "
                                        f"instead of {expected.__name__}")
                return message

    async def _serve(self, stream: trio.SocketStream) -> None:
        """Run the sender, the receiver and the volume's handshake until the connection ends.
        Each task catches its own failure and cancels the others, so nothing escapes as an
        exception group; the reason is kept in ``last_error``."""
        self.generation += 1
        if self.generation > 1:
            self.reconnects += 1
        async with trio.open_nursery() as nursery:
            self._scope = nursery.cancel_scope
            self._stream = stream
            self.connected = True
            self._connected_event.set()
            nursery.start_soon(self._guarded, self._send_loop(stream), nursery.cancel_scope)
            nursery.start_soon(self._guarded, self._receive_loop(stream), nursery.cancel_scope)
            nursery.start_soon(self._guarded, self._handshake(stream), nursery.cancel_scope)

    async def _guarded(self, work: Awaitable[None], scope: trio.CancelScope) -> None:
        try:
            await work
        except (OSError, OperationalError, trio.BrokenResourceError,
                trio.ClosedResourceError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            scope.cancel()
        except Exception as exc:  # noqa: BLE001 - a bug must not take the other links down
            self.last_error = f"{type(exc).__name__}: {exc}"
            _log.exception("storage node %d: connection task failed", self.node_id)
            scope.cancel()

    async def _handshake(self, stream: trio.SocketStream) -> None:
        await self._on_connect(self)
        # The handshake may have found the link unusable and dropped it meanwhile.
        if self.connected and self._stream is stream:
            self.ready = True

    def _disconnected(self) -> None:
        was_ready = self.ready
        self.connected = False
        self.ready = False
        self._stream = None
        self._connected_event = trio.Event()
        self._outbox = []
        self._outbox_bytes = 0
        calls, self._calls = self._calls, {}
        failure = LinkDown(f"connection to storage node {self.node_id} lost "
                           f"({self.last_error or 'closed'})")
        for call in calls.values():
            call.failure = failure
            call.event.set()
        if was_ready or calls:
            self._on_down(self)

    async def _send_loop(self, stream: trio.SocketStream) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._outbox:
                frames, self._outbox = self._outbox, []
                size, self._outbox_bytes = self._outbox_bytes, 0
                data = frames[0] if len(frames) == 1 else b"".join(frames)
                self._sending = True
                try:
                    if self.pacer is not None:
                        await self.pacer.send(len(data))
                    await stream.send_all(data)
                finally:
                    self._sending = False
                self.bytes_sent += size

    async def _receive_loop(self, stream: trio.SocketStream) -> None:
        reader = self._reader
        receiver = RawReceiver(stream)
        while True:
            data = await receiver.receive_some(_RECEIVE_BYTES)
            if not data:
                raise LinkDown(f"storage node {self.node_id} closed the connection")
            for message_type, request_id, payload in reader.feed(data):
                self.messages_received += 1
                self._dispatch(message_type, request_id, payload)

    def _dispatch(self, message_type: int, request_id: int, payload: bytes) -> None:
        message = decode_message(message_type, payload)
        call = self._calls.pop(request_id, None) if request_id >= CALL_ID_BASE else None
        if call is not None:
            call.reply = message
            call.event.set()
            return
        if message_type == MessageType.WRITE_ACK:
            self.acks += 1
        elif message_type == MessageType.ERROR:
            self.errors += 1
        self._on_message(self, request_id, message)

    # -- sending -----------------------------------------------------------------------------------
    def post(self, frame: bytes) -> bool:
        """Queue an encoded frame; False if the link is down (the frame is dropped)."""
        if not self.connected:
            return False
        if self._outbox_bytes + len(frame) > self.max_outbox:
            # The node stopped reading: cut it loose rather than buffer without bound; it
            # catches up from its peers after reconnecting (quorum.md Q1).
            self.last_error = f"outbox over {self.max_outbox} bytes (node not reading)"
            self.drop()
            return False
        self.messages_sent += 1
        if not self._outbox and not self._sending and self.pacer is None:
            # Fast path: nothing queued, so write straight into the (non-blocking) socket
            # and spare the sender task its wake-up; what does not fit goes to the sender.
            try:
                sent = write_some(self._stream, frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self.last_error = f"send: {exc}"
                self.drop()
                return False
            self.bytes_sent += sent
            if sent == len(frame):
                return True
            frame = frame[sent:]
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        self._wake.set()
        return True

    def drop(self) -> None:
        """Close the connection now (it reconnects after the backoff)."""
        if self._stream is not None:
            self._stream = None
            self.connected = False
            self.ready = False
            self._scope.cancel()

    async def call(self, message, timeout: float) -> object:
        """Send a request and wait for its answer; ERROR answers raise RemoteError."""
        if not self.connected:
            raise LinkDown(f"storage node {self.node_id} is not connected "
                           f"({self.last_error or 'connecting'})")
        request_id = self._next_call
        self._next_call = CALL_ID_BASE + ((request_id + 1 - CALL_ID_BASE) % CALL_ID_BASE)
        call = _Call()
        self._calls[request_id] = call
        try:
            self.post(encode_frame(message.TYPE, message.encode(), request_id))
            with trio.move_on_after(timeout):
                await call.event.wait()
        finally:
            self._calls.pop(request_id, None)
        if not call.event.is_set():
            raise LinkDown(f"storage node {self.node_id} did not answer "
                           f"{type(message).__name__} within {timeout:g} s")
        if call.failure is not None:
            raise call.failure
        reply = call.reply
        if isinstance(reply, Error):
            raise RemoteError(self.node_id, reply)
        if message.TYPE == MessageType.GET_PAGE:
            elapsed = time.perf_counter() - call.started
            self.read_latency = elapsed if not self.read_latency else \
                0.8 * self.read_latency + 0.2 * elapsed
        return reply

    def penalize(self, seconds: float) -> None:
        """A read went unanswered for ``seconds`` (or failed): rank this node behind the ones
        that answer, until it answers quickly again."""
        self.read_latency = max(2 * self.read_latency, 2 * seconds)

    async def wait_connected(self, timeout: float = math.inf) -> bool:
        with trio.move_on_after(timeout):
            await self._connected_event.wait()
        return self.connected
