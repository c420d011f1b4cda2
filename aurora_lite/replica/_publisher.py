"""The writer's replication endpoint: serves its redo stream to up to 15 read replicas.

``Publisher(database)`` follows the writer through Database.follow_quietly: every batch the
writer ships to storage and every read point it publishes lands in a bounded ``Backlog``
(listener callbacks append there and never wait for a replica: a replica that stops reading
holds no commit back). A replica that is caught up gets each new entry written into its socket
straight from the committing thread (``_push``: a non-blocking write, ~15 us on loopback, which
spares the GIL hand-over to this endpoint's thread and so keeps replica lag low); with many
replicas those writes are what each commit pays for them, in CPU, never in waiting (measured
in tests/replica/test_replica_cap.py). A trio event loop on its own thread listens on TCP; every
connection authenticates with the cluster secret (aurora_lite.wire handshake):

* role REPLICA: SUBSCRIBE -> STREAM_START, then every backlog entry in order (REDO batches in
  LSN order, READ_POINTs once their records went out: replication.md P1, P2), a HEARTBEAT
  every ``heartbeat`` seconds (epoch, VDL, read point, writer clock), and RESYNC when the
  replica fell below what the backlog keeps (P3). FEEDBACK from the replica keeps a snapshot
  registered at the oldest read point its readers use, so storage's horizon never passes it
  (P4);
* role TOOL: STATUS -> STATUS_REPLY (this endpoint's statistics as JSON).

At most ``max_replicas`` (MAX_REPLICAS, 15) streams at once: a SUBSCRIBE beyond that is
answered ERROR(BAD_REQUEST) "this writer already serves 15 replicas, its maximum ..." and the
connection closes (counted as ``refused``, logged once a minute per replica name). A slot is
taken before the stream's start is prepared (which may wait), so concurrent subscriptions
never get past the cap. ``aurora-lite replica`` keeps retrying (at most once a second) and
says why on stderr, in ``SHOW replica_status`` and in the error its clients get, until a slot
frees.

``start_publisher(database_or_connection)`` is the embedded writer's API; ``aurora-lite serve``
starts one for a cluster directory and records its address in DIR/writer.json (_registry).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass

import trio

from aurora_lite.errors import InterfaceError, OperationalError
from aurora_lite.membership import format_address, load_secret
from aurora_lite.replica._backlog import READ_POINT, Backlog, BehindError, Entry
from aurora_lite.replica._channel import Channel, ChannelClosed, accept
from aurora_lite.replica._messages import (
    Feedback, Heartbeat, ReadPoint, Redo, Resync, StartMode, StreamStart, Subscribe,
)
from aurora_lite.wire import (
    Error, ErrorCode, ProtocolError, Role, Status, StatusReply, encode_frame,
)

log = logging.getLogger("aurora_lite.replica")
MAX_REPLICAS = 15
_ADDRESS = re.compile(r"\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}")


@dataclass(frozen=True)
class PublisherOptions:
    heartbeat: float = 0.05            # seconds between HEARTBEATs to each replica
    max_backlog_bytes: int = 32 << 20  # records kept for replicas that are behind (P3)
    send_bytes: int = 1 << 20          # records per send_all
    subscribe_timeout: float = 10.0
    max_replicas: int = MAX_REPLICAS


def _write_some(fd: int, data: bytes) -> int:
    """Bytes of ``data`` the (non-blocking) socket took; 0 when full or broken (the sender
    task then finds out which)."""
    try:
        return os.write(fd, data)
    except OSError:
        return 0


def _frame(entry: Entry) -> bytes:
    """The entry's frame, encoded once and shared by every replica (a race between two
    threads only encodes it twice)."""
    frame = entry.frame
    if frame is None:
        if entry.kind == READ_POINT:
            message = ReadPoint(entry.lsn, entry.catalog_version, entry.published_us)
        else:
            message = Redo(entry.lsn, entry.data)
        frame = entry.frame = encode_frame(message.TYPE, message.encode())
    return frame


class _Subscriber:
    """One replica's stream. Who may write to its socket: the sender task while ``busy``
    (catching up from the backlog, or finishing a write that did not fit), else whichever
    writer thread appends the entry at its cursor, straight into the socket buffer (a
    non-blocking write: it never waits). ``lock`` orders the two."""

    def __init__(self, channel: Channel, name: str) -> None:
        self.channel = channel
        self.name = name or channel.where
        self.where = channel.where
        self.fd = channel.stream.socket.fileno()
        self.lock = threading.Lock()
        self.busy = True
        self.leftover: list[bytes] = []   # bytes the sender sends before the backlog's
        self.cursor = 0
        self.position = 0               # where its stream started (until FEEDBACK says more)
        self.snapshot = None            # the writer snapshot that holds its horizon (P4)
        self.feedback: Feedback | None = None
        self.started = time.time()
        self.entries_sent = 0
        self.direct_writes = 0

    def post(self, frame: bytes) -> bool:
        """Write ``frame`` now if the socket is free (else queue it for the sender); True
        when the sender task must be woken."""
        with self.lock:
            if self.busy:
                self.leftover.append(frame)
                return True
            written = _write_some(self.fd, frame)
            if written < len(frame):
                self.leftover.append(frame[written:])
                self.busy = True
                return True
            return False


class Publisher:
    """Serves ``database``'s redo stream on ``host:port`` (port 0: a free one)."""

    def __init__(self, database, host: str = "127.0.0.1", port: int = 0, *,
                 secret: bytes | None = None, cluster_id: bytes | None = None,
                 **options) -> None:
        volume = database.volume
        config = getattr(volume, "config", None)
        if config is None and (secret is None or cluster_id is None):
            raise InterfaceError("replication needs a database on the storage cluster "
                                 "(replicas read the segments): this one is local")
        self.database = database
        self.host = host
        self.port = port
        self.secret = secret if secret is not None else load_secret(config.path)
        self.cluster_id = cluster_id if cluster_id is not None else config.cluster_id_bytes
        self.options = PublisherOptions(**options)
        self.backlog = Backlog(self.options.max_backlog_bytes)
        self.subscribers: dict[int, _Subscriber] = {}
        self._live: tuple[_Subscriber, ...] = ()     # read by the writer's threads
        self._next_id = 1
        self._slots = 0                  # streams started or starting (the cap)
        self._refusals_logged: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._new_entries: trio.Event | None = None
        self._signalled = False
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._listening = False
        self.counters = dict(subscriptions=0, fresh_starts=0, resumes=0, resyncs=0,
                             refused=0, auth_failures=0, heartbeats=0, bytes_sent=0,
                             status_requests=0)

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> "Publisher":
        self._thread = threading.Thread(target=self._main, name="aurora-replication",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or not self._listening:
            self.stop()
            raise OperationalError(f"the replication endpoint did not start on "
                                   f"{self.host}:{self.port}: {self._error}")
        try:
            read_point, catalog = self.database.follow_quietly(self._on_records,
                                                               self._on_read_point)
        except BaseException:
            self.stop()
            raise
        # follow_quietly returned at a quiet moment: every record shipped before is final at
        # or below this read point, so the stream may start there.
        self.backlog.begin(read_point, read_point, catalog.version)
        log.info("replication endpoint on %s (epoch %d, read point %d)", self.address,
                 self.database.epoch, read_point)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        try:
            self.database.remove_replication_listener(self._on_records, self._on_read_point)
        except Exception:  # noqa: BLE001 - stopping must go on
            pass
        thread, token, stop = self._thread, self._token, self._stop
        if thread is None:
            return
        if token is not None and stop is not None:
            try:
                token.run_sync_soon(stop.set)
            except trio.RunFinishedError:
                pass
        thread.join(timeout)
        self._thread = None

    def _main(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            self._new_entries = trio.Event()
            listeners = await trio.open_tcp_listeners(self.port, host=self.host)
            self.port = listeners[0].socket.getsockname()[1]
            self._listening = True
            self._ready.set()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.serve_listeners, self._handle, listeners)
                await self._stop.wait()
                nursery.cancel_scope.cancel()

        try:
            trio.run(main)
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            log.exception("the replication endpoint failed")
        finally:
            self._ready.set()
            for subscriber in list(self.subscribers.values()):
                subscriber.snapshot = None

    # -- the writer's threads ----------------------------------------------------------------
    def _on_records(self, buffer, last_lsn: int) -> None:
        self._push(self.backlog.add_records(buffer, last_lsn))

    def _on_read_point(self, lsn: int) -> None:
        # The pair (read point, catalog) is read atomically: the catalog the replica loads at
        # that read point is the one the writer published with it.
        read_point, catalog = self.database.published()
        self._push(self.backlog.add_read_point(read_point, catalog.version))

    def _push(self, entries: list[Entry]) -> None:
        """Hand new entries to the replicas whose connection is idle and caught up, straight
        from the writer's thread: waking this endpoint's thread would cost a GIL hand-over
        (up to the switch interval) per commit. The others get them from their sender."""
        live = self._live
        if not entries or not live:
            return
        wake = False
        for entry in entries:
            frame = None
            for subscriber in live:
                with subscriber.lock:
                    if subscriber.busy or subscriber.cursor != entry.seq:
                        wake = True
                        continue
                    if frame is None:
                        frame = _frame(entry)
                    subscriber.cursor = entry.seq + 1
                    subscriber.entries_sent += 1
                    subscriber.direct_writes += 1
                    written = _write_some(subscriber.fd, frame)
                    if written < len(frame):
                        subscriber.leftover.append(frame[written:])
                        subscriber.busy = True
                        wake = True
        if wake:
            self._wake_from_writer()

    def _wake_from_writer(self) -> None:
        if self._signalled:
            return
        self._signalled = True
        token = self._token
        if token is not None:
            try:
                token.run_sync_soon(self._wake)
            except trio.RunFinishedError:
                pass

    def _wake(self) -> None:
        self._signalled = False
        event, self._new_entries = self._new_entries, trio.Event()
        event.set()

    # -- connections ----------------------------------------------------------------------------
    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            try:
                channel = await accept(stream, self.secret, self.cluster_id,
                                       (Role.REPLICA, Role.TOOL))
            except (ProtocolError, ChannelClosed, trio.TooSlowError) as exc:
                self.counters["auth_failures"] += 1
                log.warning("replication endpoint: refused a connection: %s", exc)
                return
            if channel.role == Role.TOOL:
                await self._serve_tool(channel)
            else:
                await self._serve_replica(channel)
        except (ChannelClosed, ProtocolError, trio.BrokenResourceError,
                trio.ClosedResourceError) as exc:
            log.info("replication endpoint: connection ended: %s", exc)
        except Exception:  # noqa: BLE001 - one connection never takes the endpoint down
            log.exception("replication endpoint: connection handler failed")
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    async def _serve_tool(self, channel: Channel) -> None:
        while True:
            request_id, message = await channel.receive()
            if isinstance(message, Status):
                self.counters["status_requests"] += 1
                await channel.send(StatusReply(json.dumps(self.statistics(), sort_keys=True,
                                                          default=str)), request_id)
            else:
                await channel.send(Error(ErrorCode.BAD_REQUEST,
                                         f"{type(message).__name__} is not served here"),
                                   request_id)

    async def _serve_replica(self, channel: Channel) -> None:
        with trio.fail_after(self.options.subscribe_timeout):
            request_id, message = await channel.receive()
        if not isinstance(message, Subscribe):
            await channel.send(Error(ErrorCode.BAD_REQUEST, "expected SUBSCRIBE"), request_id)
            return
        limit = self.options.max_replicas
        if self._slots >= limit:
            await self._refuse(channel, request_id, message.name or channel.where, limit)
            return
        # The slot is taken before the first await: concurrent SUBSCRIBEs never pass the cap.
        self._slots += 1
        try:
            await self._serve_stream(channel, request_id, message)
        finally:
            self._slots -= 1

    async def _refuse(self, channel: Channel, request_id: int, name: str, limit: int) -> None:
        self.counters["refused"] += 1
        now = time.monotonic()
        if now - self._refusals_logged.get(name, -1e9) >= 60:
            if len(self._refusals_logged) > 1000:
                self._refusals_logged.clear()
            self._refusals_logged[name] = now
            log.warning("replication endpoint: refused replica %s: already serving %d "
                        "replicas, the most it serves", name, limit)
        await channel.send(Error(ErrorCode.BAD_REQUEST,
                                 f"this writer already serves {limit} replicas, its maximum "
                                 f"(a replica retries until one leaves)"), request_id)

    async def _serve_stream(self, channel: Channel, request_id: int,
                            message: Subscribe) -> None:
        subscriber = _Subscriber(channel, message.name)
        start = await self._start(subscriber, message)
        if start is not None:
            subscriber.position = start.position
        if start is None:
            await channel.send(Error(ErrorCode.BEHIND, "the stream cannot start now: the "
                                     "writer is in a long transaction; try again"), request_id)
            return
        key = self._next_id
        self._next_id += 1
        self.subscribers[key] = subscriber
        self._live = tuple(self.subscribers.values())
        self.counters["subscriptions"] += 1
        log.info("replica %s subscribed (%s at read point %d)", subscriber.name,
                 StartMode(start.mode).name, start.read_point)
        try:
            await channel.send(start, request_id)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_loop, subscriber, nursery.cancel_scope)
                nursery.start_soon(self._receive_loop, subscriber, nursery.cancel_scope)
                nursery.start_soon(self._heartbeat_loop, subscriber)
                nursery.start_soon(self._watch_loop, subscriber, nursery.cancel_scope)
        finally:
            with subscriber.lock:
                subscriber.busy = True
            del self.subscribers[key]
            self._live = tuple(self.subscribers.values())
            subscriber.snapshot = None      # lets storage's horizon go (P4)
            log.info("replica %s left", subscriber.name)

    async def _start(self, subscriber: _Subscriber, request: Subscribe) -> StreamStart | None:
        """RESUME when the replica followed this epoch and the backlog still holds what came
        after its position; otherwise FRESH at the newest read point (waiting a bounded time
        for one whose records are all in the backlog)."""
        database = self.database
        epoch = database.epoch
        now_us = time.time_ns() // 1000
        if request.epoch == epoch and request.position:
            cursor = self.backlog.start_resume(request.position)
            if cursor is not None:
                subscriber.cursor = cursor
                subscriber.snapshot = database.snapshot(min(request.read_point,
                                                            database.read_point))
                _position, read_point, version, _published = self.backlog.state()
                self.counters["resumes"] += 1
                return StreamStart(epoch, read_point, request.position, version, now_us,
                                   StartMode.RESUME)
        deadline = trio.current_time() + self.options.subscribe_timeout
        while True:
            # Registering the snapshot first pins storage's horizon at its read point (P4).
            snapshot = database.snapshot()
            read_point, catalog = database.published()
            if read_point == snapshot.read_point:
                cursor = self.backlog.start_fresh(read_point)
                if cursor is not None:
                    subscriber.cursor = cursor
                    subscriber.snapshot = snapshot
                    self.counters["fresh_starts"] += 1
                    return StreamStart(epoch, read_point, read_point, catalog.version,
                                       time.time_ns() // 1000, StartMode.FRESH)
            del snapshot
            if trio.current_time() > deadline:
                return None
            await trio.sleep(0.02)

    async def _send_loop(self, subscriber: _Subscriber, scope: trio.CancelScope) -> None:
        backlog = self.backlog
        channel = subscriber.channel
        send_bytes = self.options.send_bytes
        try:
            while True:
                event = self._new_entries
                entries: list[Entry] = []
                behind = None
                with subscriber.lock:
                    leftover, subscriber.leftover = subscriber.leftover, []
                    if not leftover and not backlog.pending(subscriber.cursor):
                        subscriber.busy = False        # writer threads may write directly
                    else:
                        subscriber.busy = True
                        if backlog.pending(subscriber.cursor):
                            try:
                                entries = backlog.take(subscriber.cursor, send_bytes)
                                subscriber.cursor = entries[-1].seq + 1
                                subscriber.entries_sent += len(entries)
                            except BehindError as exc:
                                behind = str(exc)
                if behind is not None:
                    await self._resync(subscriber, behind, scope)
                    return
                if not subscriber.busy:
                    await event.wait()
                    continue
                frames = leftover + [_frame(entry) for entry in entries]
                data = frames[0] if len(frames) == 1 else b"".join(frames)
                await channel.send_raw(data)
                self.counters["bytes_sent"] += len(data)
        except ChannelClosed:
            scope.cancel()

    async def _resync(self, subscriber: _Subscriber, reason: str,
                      scope: trio.CancelScope) -> None:
        self.counters["resyncs"] += 1
        log.warning("replica %s fell behind: %s; told to resync", subscriber.name, reason)
        with subscriber.lock:
            subscriber.busy = True              # no more direct writes from the writer
        # The RESYNC may not get through a full socket: the connection closes anyway, and a
        # replica that reconnects from a position the writer no longer keeps starts FRESH.
        with trio.move_on_after(1.0):
            try:
                await subscriber.channel.send(Resync(self.database.epoch, reason))
                await trio.sleep(0.5)       # a moment to read it before the close
            except ChannelClosed:
                pass
        scope.cancel()

    async def _receive_loop(self, subscriber: _Subscriber, scope: trio.CancelScope) -> None:
        try:
            while True:
                _request_id, message = await subscriber.channel.receive()
                if isinstance(message, Feedback):
                    subscriber.feedback = message
                    held = subscriber.snapshot
                    oldest = min(message.oldest_read_point, self.database.read_point)
                    if held is None or oldest > held.read_point:
                        # The new registration is made before the old one goes (P4).
                        subscriber.snapshot = self.database.snapshot(oldest)
        except (ChannelClosed, ProtocolError):
            scope.cancel()

    async def _watch_loop(self, subscriber: _Subscriber, scope: trio.CancelScope) -> None:
        """P3 when the sender is stuck: a replica that stopped reading fills its socket
        buffers, and its FEEDBACK says where it really is."""
        while True:
            await trio.sleep(self.options.heartbeat)
            feedback = subscriber.feedback
            position = feedback.position if feedback is not None else subscriber.position
            if position < self.backlog.floor:
                await self._resync(subscriber, f"the replica received up to LSN {position} "
                                   f"and the writer keeps only what lies above "
                                   f"{self.backlog.floor}", scope)
                return

    async def _heartbeat_loop(self, subscriber: _Subscriber) -> None:
        database = self.database
        while True:
            position, read_point, version, published = self.backlog.state()
            beat = Heartbeat(database.epoch, database.volume.vdl, read_point, version,
                             published, position, time.time_ns() // 1000)
            if subscriber.post(encode_frame(beat.TYPE, beat.encode())):
                self._wake()
            self.counters["heartbeats"] += 1
            await trio.sleep(self.options.heartbeat)

    # -- observability ------------------------------------------------------------------------
    def statistics(self) -> dict:
        database = self.database
        stats: dict = dict(self.counters)
        stats.update(self.backlog.statistics())
        stats.update(address=self.address, epoch=database.epoch, pid=os.getpid(),
                     writer_read_point=database.read_point, vdl=database.volume.vdl)
        now = time.time()
        replicas = []
        for subscriber in list(self.subscribers.values()):
            feedback = subscriber.feedback
            replicas.append({
                # Where the replica serves SQL, when it names itself by that address (the
                # `aurora-lite replica` process does); else where its stream comes from.
                "name": subscriber.name, "connection": subscriber.where,
                "address": subscriber.name if _ADDRESS.fullmatch(subscriber.name or "")
                else subscriber.where,
                "connected_s": round(now - subscriber.started, 3),
                "entries_behind": self.backlog.lag_entries(subscriber.cursor),
                "bytes_sent": subscriber.channel.bytes_sent,
                "read_point": feedback.read_point if feedback else None,
                "lag_lsn": database.read_point - feedback.read_point if feedback else None,
                "lag_ms": round(feedback.lag_us / 1000, 3) if feedback else None,
                "horizon_held_at": subscriber.snapshot.read_point
                if subscriber.snapshot is not None else None,
            })
        stats["replicas"] = replicas
        return stats


def start_publisher(database, host: str = "127.0.0.1", port: int = 0, *,
                    directory: str | os.PathLike | None = None, sql_address: str | None = None,
                    argv: list[str] | None = None, role: str = "writer",
                    **options) -> Publisher:
    """Serve the redo stream of an embedded writer: ``database`` is a txn.Database on the
    storage cluster, or an aurora_lite Connection to one. With ``directory`` (the cluster
    directory) the addresses are recorded in DIR/writer.json for replicas and tools
    (``argv``: the command that starts this writer again, for ``aurora-lite failover``)."""
    database = getattr(database, "_database", database)
    publisher = Publisher(database, host, port, **options).start()
    if directory is not None:
        from aurora_lite.replica._registry import record_writer
        record_writer(directory, replication=publisher.address, sql=sql_address,
                      epoch=database.epoch, argv=argv, role=role)
    return publisher
