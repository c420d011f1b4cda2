"""The storage node's network side: a trio TCP server in front of a ``SegmentNode``.

Every connection starts with the wire handshake (CHALLENGE -> AUTH -> AUTH_OK); a connection
that sends anything else first, fails authentication, or later sends a frame that is malformed,
oversized (its length is checked before anything is allocated), CRC-failing or of an unknown
type is logged and closed - only that connection: the node goes on serving everyone else.

After the handshake requests may be pipelined: each is answered with its request id, in any
order. Write batches are appended in arrival order (one worker thread call each) and then wait
for the group commit (``_commit``); every other request runs as its own task. Only two steps
are in the foreground of a write (DESIGN.md section 2): persist, acknowledge. Gossip, scrub and
materialization below the horizon run as background tasks of the same process, and so does
archiving when the cluster file configures it (``_archiver``).

PAGE_WRITE / GET_SHIPPED_PAGE (types 50-59) serve the page-shipping baseline of
bench/shipping.py (``_pagefile``): appended in arrival order like write batches, acknowledged
after their own group-committed fsync; they never touch the segments.

Epochs (Invariant 6, quorum.md Q6): requests of the writer and of replicas carry the volume
epoch; an older one than the node has persisted is answered STALE_EPOCH, a newer one is
adopted (persisted) first. Peers and tools are not writers and are not fenced.
"""

from __future__ import annotations

import json
import logging
import math

import trio

from aurora_lite.errors import (
    CorruptionError, Error as AuroraError, ProgrammingError, StaleEpochError,
)
from aurora_lite.segment._archiver import Archiver
from aurora_lite.segment._commit import AckRequest, GroupCommit
from aurora_lite.segment._gossip import Gossip
from aurora_lite.segment._node import SegmentNode, UnknownProtectionGroup
from aurora_lite.segment._pagefile import PageFileGap, PageShipService
from aurora_lite.segment._peers import PeerPool
from aurora_lite.segment._scrub import Scrubber
from aurora_lite.segment._store import ReadPointBehind, ReadPointTooOld
from aurora_lite.wire import (
    MAX_FRAME, Auth, Error, ErrorCode, Fence, FetchPages, FetchRecords, FrameReader, GetPage,
    GetShippedPage, GetState, MessageType, Ok, Page, PageWrite, ProtocolError, Role,
    SetHorizon, Status, StatusReply, Truncate, WriteAck, WriteBatch, decode_message,
    encode_frame, new_challenge, verify_client,
)
from aurora_lite.wire.stream import RawReceiver, write_some

log = logging.getLogger("aurora_lite.segment")

_CHUNK = 1 << 16
_MAX_OUTBOX = 64 << 20
# Before AUTH completes a frame may be at most this long (AUTH is 69 bytes), and at most this
# many connections may be unauthenticated at once: an unauthenticated peer can make the node
# hold neither 64 MiB buffers nor an unbounded number of sockets (wire.md, "Before AUTH").
PRE_AUTH_MAX_FRAME = 4096
MAX_UNAUTHENTICATED = 64
_FENCED_ROLES = (Role.WRITER, Role.REPLICA)


class _Connection:
    """One authenticated client. Replies go through ``post``: straight into the non-blocking
    socket when nothing is queued (no task wake-up per reply), else into an outbox that the
    connection's one sender task drains."""

    def __init__(self, stream: trio.SocketStream, where: str, role: int,
                 max_outbox: int = _MAX_OUTBOX) -> None:
        self.stream = stream
        self.where = where
        self.role = role
        self.fenced = role in _FENCED_ROLES
        self.cancel_scope: trio.CancelScope | None = None
        self.max_outbox = max_outbox
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._wake = trio.Event()
        self._sending = False
        self._stopping = False
        self.broken = False

    def post(self, frame: bytes) -> None:
        if self.broken:
            return
        if not self._outbox and not self._sending:
            try:
                sent = write_some(self.stream, frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._break()
                return
            if sent == len(frame):
                return
            frame = frame[sent:]
        if self._outbox_bytes + len(frame) > self.max_outbox:
            # The client stopped reading its replies: cut it loose rather than buffer them
            # without bound (it reconnects and asks again).
            log.warning("closing connection from %s: over %d bytes of replies unread",
                        self.where, self.max_outbox)
            self._break()
            return
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        self._wake.set()

    async def send(self, request_id: int, message: object) -> None:
        self.post(encode_frame(message.TYPE, message.encode(), request_id))  # type: ignore

    async def sender(self) -> None:
        """Drain the outbox (one task per connection) until ``stop`` and the outbox is empty."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._outbox:
                frames, self._outbox = self._outbox, []
                self._outbox_bytes = 0
                self._sending = True
                try:
                    await self.stream.send_all(frames[0] if len(frames) == 1
                                               else b"".join(frames))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._break()
                    return
                finally:
                    self._sending = False
            if self._stopping:
                return

    def stop(self) -> None:
        """Let the sender finish what is queued and return."""
        self._stopping = True
        self._wake.set()

    def _break(self) -> None:
        # The client went away: stop everything of this connection, nothing else.
        self.broken = True
        self._outbox = []
        self._outbox_bytes = 0
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()


class SegmentServer:
    """Serve one ``SegmentNode`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, node: SegmentNode, secret: bytes, *, host: str | None = None,
                 port: int | None = None, gap_wait: float = 0.5, gossip_interval: float = 1.0,
                 scrub_interval: float = 60.0, materialize_interval: float = 1.0,
                 max_outstanding: int = 128, handshake_timeout: float = 10.0,
                 max_frame: int = MAX_FRAME,
                 max_unauthenticated: int = MAX_UNAUTHENTICATED) -> None:
        self.node = node
        self.secret = secret
        self.host = host if host is not None else node.info.host
        self.port = port if port is not None else node.info.port
        self.gap_wait = gap_wait
        self.materialize_interval = materialize_interval
        self.max_outstanding = max_outstanding
        self.handshake_timeout = handshake_timeout
        self.max_frame = max_frame
        self.max_unauthenticated = max_unauthenticated
        self.unauthenticated = 0
        self.commit = GroupCommit(node, self._error_frame)
        self.pool = PeerPool(node, secret)
        self.gossip = Gossip(node, self.commit, self.pool, gossip_interval)
        self.scrubber = Scrubber(node, self.pool, self.gossip, scrub_interval)
        # Continuous archiving when the cluster file has an archive section.
        self.archiver = Archiver(node, node.config.archive) \
            if node.config.archive is not None and node.archive_progress is not None else None
        self._horizon_moved = trio.Event()
        self.open_connections = 0
        self.pageship = PageShipService(node.data_dir, node.disk)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def serve(self, *, task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        self.port = listeners[0].socket.getsockname()[1]
        log.info("node %d listening on %s (data %s, epoch %d)", self.node.node_id,
                 self.address, self.node.data_dir, self.node.epoch)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.commit.run)
                nursery.start_soon(self.gossip.run)
                nursery.start_soon(self.scrubber.run)
                nursery.start_soon(self._materializer)
                nursery.start_soon(self.pageship.run)
                if self.archiver is not None:
                    nursery.start_soon(self.archiver.run)
                task_status.started(self.port)
                await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)
        finally:
            with trio.CancelScope(shield=True):
                await self.pool.aclose()
            self.pageship.close()

    def statistics(self) -> dict:
        stats = self.node.statistics()
        stats.update(address=self.address, group_commit_rounds=self.commit.rounds,
                     open_connections=self.open_connections)
        if self.archiver is not None:
            stats["archive"] = self.archiver.statistics()
        stats["pageship"] = self.pageship.statistics()
        return stats

    # -- connections ----------------------------------------------------------------------------
    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            host, port = stream.socket.getpeername()[:2]
            where = f"{host}:{port}"
        except OSError:
            where = "a client"
        self.node.count("connections")
        if self.unauthenticated >= self.max_unauthenticated:
            self._refuse(where, f"{self.unauthenticated} connections are already "
                         f"unauthenticated", "unauthenticated_refused")
            await trio.aclose_forcefully(stream)
            return
        self.open_connections += 1
        self.unauthenticated += 1
        reader = FrameReader(min(PRE_AUTH_MAX_FRAME, self.max_frame))
        try:
            try:
                with trio.move_on_after(self.handshake_timeout) as scope:
                    accepted = await self._handshake(stream, reader, where)
            finally:
                self.unauthenticated -= 1
            if scope.cancelled_caught:
                log.warning("node %d: %s did not authenticate within %s s; closing",
                            self.node.node_id, where, self.handshake_timeout)
                self.node.count("auth_failures")
                return
            if accepted is not None:
                connection, frames = accepted
                reader.max_frame = self.max_frame
                await self._session(connection, reader, frames)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:       # a bug must cost one connection, never the node
            log.exception("node %d: connection from %s failed", self.node.node_id, where)
        finally:
            self.open_connections -= 1
            await trio.aclose_forcefully(stream)

    async def _handshake(self, stream: trio.SocketStream, reader: FrameReader,
                         where: str) -> tuple[_Connection, list] | None:
        challenge = new_challenge(self.node.node_id, self.node.config.cluster_id_bytes)
        await stream.send_all(encode_frame(MessageType.CHALLENGE, challenge.encode()))
        frames: list = []
        while not frames:
            data = await stream.receive_some(_CHUNK)
            if not data:
                return None
            try:
                frames = reader.feed(data)
            except ProtocolError as exc:
                self._refuse(where, f"bad frame before authentication: {exc}", "protocol_errors")
                return None
        message_type, _rid, payload = frames.pop(0)
        if message_type != MessageType.AUTH:
            self._refuse(where, f"unauthenticated request (message type {message_type})",
                         "auth_failures")
            await self._try_send(stream, Error(ErrorCode.NOT_AUTHENTICATED,
                                               "authenticate first (AUTH)"))
            return None
        try:
            auth = Auth.decode(payload)
            auth_ok = verify_client(self.secret, challenge, auth)
            role = Role(auth.role)
        except (ProtocolError, ValueError) as exc:
            self._refuse(where, f"authentication failed: {exc}", "auth_failures")
            await self._try_send(stream, Error(ErrorCode.NOT_AUTHENTICATED,
                                               "authentication failed"))
            return None
        await stream.send_all(encode_frame(MessageType.AUTH_OK, auth_ok.encode()))
        name = f"{where} ({role.name.lower()}" + (f" {auth.node_id})" if auth.node_id else ")")
        log.debug("node %d: %s authenticated", self.node.node_id, name)
        return _Connection(stream, name, role), frames

    def _refuse(self, where: str, why: str, counter: str) -> None:
        log.warning("node %d: closing connection from %s: %s", self.node.node_id, where, why)
        self.node.count(counter)

    @staticmethod
    async def _try_send(stream: trio.SocketStream, message: Error) -> None:
        try:
            await stream.send_all(encode_frame(message.TYPE, message.encode()))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _session(self, connection: _Connection, reader: FrameReader,
                       frames: list) -> None:
        outstanding = trio.Semaphore(self.max_outstanding)
        violation: Exception | None = None
        receiver = RawReceiver(connection.stream)
        async with trio.open_nursery() as nursery:
            connection.cancel_scope = nursery.cancel_scope
            nursery.start_soon(connection.sender)
            while violation is None:
                for message_type, request_id, payload in frames:
                    try:
                        message = decode_message(message_type, payload)
                    except ProtocolError as exc:
                        violation = exc
                        break
                    # Bounded pipelining: a client with too many requests in flight waits.
                    try:
                        outstanding.acquire_nowait()
                    except trio.WouldBlock:
                        await outstanding.acquire()
                    await self._dispatch(connection, nursery, outstanding, request_id, message)
                if violation is not None:
                    break
                try:
                    data = await receiver.receive_some(_CHUNK)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    nursery.cancel_scope.cancel()
                    break
                if not data:
                    # The client is done sending: finish answering it, then stop.
                    for _ in range(self.max_outstanding):
                        await outstanding.acquire()
                    break
                try:
                    frames = reader.feed(data)
                except ProtocolError as exc:
                    violation = exc
            if violation is not None:
                nursery.cancel_scope.cancel()
            connection.stop()
        if violation is not None:
            self._refuse(connection.where, str(violation), "protocol_errors")

    # -- requests -------------------------------------------------------------------------------
    async def _dispatch(self, connection: _Connection, nursery: trio.Nursery,
                        outstanding: trio.Semaphore, request_id: int, message: object) -> None:
        if isinstance(message, WriteBatch):
            # Appended here, in arrival order, on the event loop unless it would wait; the
            # acknowledgement comes from the next group-commit round (no task per batch).
            try:
                self._require_writer(connection, message)
                pgs = self.node.try_append_batch(message, check_epoch=connection.fenced)
                if pgs is None:
                    await trio.to_thread.run_sync(
                        lambda: self.node.append_batch(message, check_epoch=connection.fenced))
            except Exception as exc:
                await connection.send(request_id, self._error(exc, connection))
                outstanding.release()
                return
            ends: dict[int, int] = {}
            for section in message.sections:
                ends[section.pg] = max(ends.get(section.pg, 0), section.end)
            self.commit.acknowledge(AckRequest(
                connection, request_id, ends, outstanding.release,
                lambda ack: nursery.start_soon(self._acknowledge_late, connection, ack)))
        elif isinstance(message, PageWrite):
            try:
                self._require_writer(connection, message)
                await self.pageship.append(message)
            except Exception as exc:
                await connection.send(request_id, self._error(exc, connection))
                outstanding.release()
                return
            nursery.start_soon(self._answer_pages, connection, outstanding, request_id,
                               message.epoch, message.end_lsn)
        else:
            nursery.start_soon(self._answer, connection, outstanding, request_id, message)

    async def _acknowledge_late(self, connection: _Connection, ack: AckRequest) -> None:
        """A batch whose round found a gap before it (Q1): wait, bounded, for a
        retransmission or gossip to fill it, then answer with the SCLs reached."""
        try:
            self.node.count("gap_waits")
            self.gossip.wake()
            with trio.move_on_after(self.gap_wait):
                while any(self.node.durable_scl(pg) < end for pg, end in ack.ends.items()):
                    await self.commit.next_round()
            reply: object = WriteAck(tuple((pg, self.node.durable_scl(pg)) for pg in ack.ends))
            self.node.count("acks")
        except Exception as exc:
            reply = self._error(exc, connection)
        finally:
            ack.done()
        await connection.send(ack.request_id, reply)

    async def _answer_pages(self, connection: _Connection, outstanding: trio.Semaphore,
                            request_id: int, epoch: int, end_lsn: int) -> None:
        try:
            reply: object = await self.pageship.durable(epoch, end_lsn)
        except Exception as exc:
            reply = self._error(exc, connection)
        finally:
            outstanding.release()
        await connection.send(request_id, reply)

    async def _answer(self, connection: _Connection, outstanding: trio.Semaphore,
                      request_id: int, message: object) -> None:
        try:
            reply = await self._serve_request(connection, message)
        except Exception as exc:
            reply = self._error(exc, connection)
        finally:
            outstanding.release()
        await connection.send(request_id, reply)

    async def _serve_request(self, connection: _Connection, message: object) -> object:
        node = self.node
        run = trio.to_thread.run_sync
        if isinstance(message, GetPage):
            if connection.fenced:
                await run(node.check_epoch, message.epoch)
            try:
                data = await run(node.get_page, message.pg, message.page_id, message.read_point)
            except CorruptionError:
                self.scrubber.report_damage(message.pg)
                raise
            return Page(message.page_id, message.read_point, data)
        if isinstance(message, FetchRecords):
            if connection.fenced:
                await run(node.check_epoch, message.epoch)
            try:
                return await run(node.fetch_records, message.pg, message.low, message.high,
                                 message.max_bytes)
            except CorruptionError:
                self.scrubber.report_damage(message.pg)
                raise
        if isinstance(message, GetState):
            return await run(lambda: node.state(sync=False))
        if isinstance(message, FetchPages):
            return await run(node.fetch_pages, message.pg, message.first_page,
                             message.max_pages)
        if isinstance(message, GetShippedPage):
            return await self.pageship.read(message.page_id)
        if isinstance(message, Status):
            return StatusReply(json.dumps(self.statistics(), sort_keys=True))
        if isinstance(message, Fence):
            self._require_writer(connection, message)
            state = await run(node.fence, message.epoch)
            log.info("node %d: fenced at epoch %d by %s", node.node_id, message.epoch,
                     connection.where)
            return state
        if isinstance(message, Truncate):
            self._require_writer(connection, message)
            await run(node.truncate, message.epoch, message.above_lsn)
            log.info("node %d: truncated above %d (epoch %d)", node.node_id,
                     message.above_lsn, message.epoch)
            return Ok()
        if isinstance(message, SetHorizon):
            self._require_writer(connection, message)
            await run(node.set_horizon, message.epoch, message.lsn)
            self._horizon_moved.set()
            return Ok()
        raise ProgrammingError(f"{type(message).__name__} is not a request a storage node "
                               f"serves")

    @staticmethod
    def _require_writer(connection: _Connection, message: object) -> None:
        if connection.role != Role.WRITER:
            raise ProgrammingError(f"{type(message).__name__} is accepted only from the writer,"
                                   f" not from a {Role(connection.role).name.lower()}")

    def _error_frame(self, request_id: int, exc: BaseException, connection) -> bytes:
        reply = self._error(exc, connection)    # type: ignore[arg-type]
        return encode_frame(reply.TYPE, reply.encode(), request_id)

    def _error(self, exc: Exception, connection: _Connection) -> Error:
        if isinstance(exc, StaleEpochError):
            code = ErrorCode.STALE_EPOCH
        elif isinstance(exc, UnknownProtectionGroup):
            code = ErrorCode.UNKNOWN_PG
        elif isinstance(exc, (ReadPointBehind, PageFileGap)):
            code = ErrorCode.BEHIND
        elif isinstance(exc, ReadPointTooOld):
            code = ErrorCode.TOO_OLD
        elif isinstance(exc, CorruptionError):
            code = ErrorCode.CORRUPTION
        elif isinstance(exc, (ProgrammingError, ProtocolError)):
            code = ErrorCode.BAD_REQUEST
        else:
            code = ErrorCode.INTERNAL
        if code in (ErrorCode.CORRUPTION, ErrorCode.INTERNAL):
            log.error("node %d: request from %s failed: %s", self.node.node_id,
                      connection.where, exc, exc_info=not isinstance(exc, AuroraError))
        elif code == ErrorCode.STALE_EPOCH:
            log.warning("node %d: %s: %s", self.node.node_id, connection.where, exc)
        return Error(code, str(exc) or type(exc).__name__)

    # -- background -----------------------------------------------------------------------------
    async def _materializer(self) -> None:
        """Coalesce records at or below the horizon into pages (numba kernel in a worker
        thread; GC of the log files below follows inside ``materialize``)."""
        interval = self.materialize_interval if self.materialize_interval > 0 else math.inf
        while True:
            with trio.move_on_after(interval):
                await self._horizon_moved.wait()
            self._horizon_moved = trio.Event()
            horizon = self.node.horizon
            for pg, store in sorted(self.node.stores().items()):
                target = min(horizon, self.node.durable_scl(pg))
                if target <= store.materialized_lsn:
                    continue
                try:
                    await trio.to_thread.run_sync(store.materialize, target)
                    self.node.count("materializations")
                except Exception as exc:     # logged and retried; the node serves on
                    self.node.count("materialize_errors")
                    log.error("node %d pg %d: materialization to %d failed: %s",
                              self.node.node_id, pg, target, exc,
                              exc_info=not isinstance(exc, AuroraError))
