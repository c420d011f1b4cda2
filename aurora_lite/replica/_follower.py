"""The replica's side of the redo stream: subscribe, apply, move the read point, reconnect.

``follow(replica)`` runs on the replica's event loop for as long as the replica follows:

1. Connect to the writer's replication endpoint (the address given, else the one recorded in
   DIR/writer.json; a newer writer recorded there is tried first) as role REPLICA.
2. SUBSCRIBE with the epoch and position it followed. STREAM_START FRESH: drop the cache and
   the window, load the catalog at the start read point, make it visible; RESUME: go on.
   A stream of an older epoch than one already followed is refused (replication.md P8).
3. REDO batches go to the pool (cached pages, window); READ_POINT and the read point of each
   HEARTBEAT are *announcements*: the read point moves to the newest one whose records have
   all arrived (P1, P2), after loading the catalog at it when its version changed.
4. FEEDBACK every 100 ms (read point, oldest read point in use, position, lag).
5. Silence longer than ``stream_timeout`` or a broken connection: reconnect (RESUME when the
   writer still holds what follows the position); RESYNC: reconnect FRESH. A new writer
   (after a restart or a failover) has a new epoch: FRESH too. Meanwhile readers go on at
   the read point they have.
"""

from __future__ import annotations

import logging
import time

import trio

from aurora_lite.errors import OperationalError
from aurora_lite.replica._channel import ChannelClosed, connect
from aurora_lite.replica._messages import (
    Feedback, Heartbeat, ReadPoint, Redo, Resync, StartMode, StreamStart, Subscribe,
)
from aurora_lite.replica._registry import read_writer
from aurora_lite.wire import Error, ErrorCode, ProtocolError, Role

log = logging.getLogger("aurora_lite.replica")
STREAM_TIMEOUT = 2.0
FEEDBACK_INTERVAL = 0.1


class _Restart(Exception):
    """End this stream and subscribe again (``fresh``: from scratch)."""

    def __init__(self, reason: str, fresh: bool) -> None:
        super().__init__(reason)
        self.fresh = fresh


def _candidates(replica) -> list[str]:
    recorded = read_writer(replica.directory)
    addresses = []
    registry = recorded.get("replication") if recorded else None
    if registry and replica.epoch and (recorded.get("epoch") or 0) > replica.epoch:
        addresses.append(registry)          # a newer writer than the one followed so far
    if replica.writer:
        addresses.append(replica.writer)
    if registry:
        addresses.append(registry)
    return list(dict.fromkeys(addresses))


async def follow(replica) -> None:
    backoff = 0.05
    fresh = False
    while True:
        candidates = _candidates(replica)
        if not candidates:
            replica.last_error = ("no writer address: give one, or start the writer with "
                                  "'aurora-lite serve DIR' (it records it in DIR/writer.json)")
        for address in candidates:
            try:
                channel = await connect(address, replica.secret, Role.REPLICA,
                                        cluster_id=replica.config.cluster_id_bytes)
            except (OperationalError, OSError) as exc:
                replica.last_error = f"writer {address}: {exc}"
                continue
            replica.counters["reconnects"] += 1
            try:
                await _stream(replica, channel, fresh)
                fresh = False
            except _Restart as restart:
                replica.last_error = f"writer {address}: {restart}"
                fresh = restart.fresh
                backoff = 0.05
            except (ChannelClosed, ProtocolError, OperationalError) as exc:
                replica.last_error = f"writer {address}: {exc}"
                replica.counters["stream_errors"] += 1
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the replica
                log.exception("the replication stream failed")
                replica.last_error = f"writer {address}: {type(exc).__name__}: {exc}"
                replica.counters["stream_errors"] += 1
                fresh = True
            finally:
                replica.connected = False
                with trio.CancelScope(shield=True):
                    await channel.aclose()
            break
        await trio.sleep(backoff)
        backoff = min(1.0, backoff * 2)


async def _stream(replica, channel, fresh: bool) -> None:
    resume = not fresh and replica.epoch > 0
    await channel.send(Subscribe(replica.epoch if resume else 0,
                                 replica.pool.received if resume else 0,
                                 replica.read_point, replica.name))
    with trio.fail_after(STREAM_TIMEOUT + 15):
        _rid, start = await channel.receive()
    if isinstance(start, Error):
        if start.code == ErrorCode.BEHIND:
            raise _Restart(start.message, fresh)
        raise OperationalError(f"the writer refused the subscription: {start.message}")
    if not isinstance(start, StreamStart):
        raise ProtocolError(f"expected STREAM_START, got {type(start).__name__}")
    if start.epoch < max(replica.epoch, replica.storage.epoch):
        # P8: that writer has been fenced by a newer one; never follow it.
        raise OperationalError(f"writer of epoch {start.epoch} is older than epoch "
                               f"{max(replica.epoch, replica.storage.epoch)} (fenced)")
    await _on_start(replica, start)
    replica.connected = True
    replica.last_heartbeat = time.monotonic()
    state: dict = {"last": time.monotonic(), "error": None}
    async with trio.open_nursery() as nursery:
        scope = nursery.cancel_scope
        nursery.start_soon(_guarded, _feedback(replica, channel), state, scope)
        nursery.start_soon(_guarded, _watchdog(replica, state), state, scope)
        await _guarded(_receive(replica, channel, state), state, scope)
    raise state["error"] or ChannelClosed("the stream stopped")


async def _guarded(work, state: dict, scope: trio.CancelScope) -> None:
    """Run one task of the stream; its failure (kept in ``state``) ends the whole stream
    without escaping the nursery as an exception group."""
    try:
        await work
    except Exception as exc:  # noqa: BLE001 - reported by the caller
        if state["error"] is None:
            state["error"] = exc
        scope.cancel()


async def _on_start(replica, start: StreamStart) -> None:
    if start.mode == StartMode.RESUME and start.epoch == replica.epoch:
        replica.counters["resumes"] += 1
        _announce(replica, start.read_point, start.catalog_version, start.writer_time_us)
        await _advance(replica)
        return
    replica.counters["fresh_starts"] += 1
    log.info("following writer epoch %d from read point %d (fresh)", start.epoch,
             start.read_point)
    replica.pool.reset(start.read_point, start.position)
    replica.pending.clear()
    replica.storage.epoch = max(replica.storage.epoch, start.epoch)
    catalog = await trio.to_thread.run_sync(replica.load_catalog, start.read_point)
    replica.writer_read_point = max(replica.writer_read_point, start.read_point) \
        if start.epoch == replica.epoch else start.read_point
    replica.make_visible(start.read_point, catalog, start.catalog_version,
                         start.writer_time_us, epoch=start.epoch)


def _announce(replica, lsn: int, catalog_version: int, published_us: int) -> None:
    pending = replica.pending
    if lsn <= replica.read_point or (pending and lsn <= pending[-1][0]):
        return
    pending.append((lsn, catalog_version, published_us))
    replica.writer_read_point = max(replica.writer_read_point, lsn)


async def _advance(replica) -> None:
    """Move the read point to the newest announcement whose records all arrived (P1, P2)."""
    pending = replica.pending
    received = replica.pool.received
    target = None
    for entry in pending:
        if entry[0] > received:
            break
        target = entry
    if target is None:
        return
    lsn, catalog_version, published_us = target
    catalog = None
    if catalog_version != replica.catalog_version:
        catalog = await trio.to_thread.run_sync(replica.load_catalog, lsn)
        replica.counters["catalog_reloads"] += 1
    replica.make_visible(lsn, catalog, catalog_version, published_us)


async def _receive(replica, channel, state: dict) -> None:
    pool = replica.pool
    while True:
        _rid, message = await channel.receive()
        state["last"] = time.monotonic()
        if isinstance(message, Redo):
            pool.receive(message.records)
            replica.counters["redo_batches"] += 1
            replica.writer_position = max(replica.writer_position, message.last_lsn)
            if replica.pending:
                await _advance(replica)
        elif isinstance(message, ReadPoint):
            _announce(replica, message.lsn, message.catalog_version, message.published_us)
            await _advance(replica)
        elif isinstance(message, Heartbeat):
            replica.last_heartbeat = state["last"]
            replica.writer_vdl = message.vdl
            replica.writer_position = message.position
            _announce(replica, message.read_point, message.catalog_version,
                      message.published_us)
            await _advance(replica)
        elif isinstance(message, Resync):
            replica.counters["resyncs"] += 1
            raise _Restart(f"the writer asked for a resync: {message.reason}", fresh=True)
        elif isinstance(message, Error):
            raise OperationalError(f"the writer ended the stream: {message.message}")
        else:
            raise ProtocolError(f"unexpected {type(message).__name__} in the stream")


async def _feedback(replica, channel) -> None:
    sent = None
    last = 0.0
    while True:
        await trio.sleep(0.02)
        feedback = Feedback(replica.read_point, replica.oldest_read_point(),
                            replica.pool.received, replica.lag_us())
        now = time.monotonic()
        if sent is None or feedback.read_point != sent.read_point or \
                now - last >= FEEDBACK_INTERVAL:
            await channel.send(feedback)
            sent, last = feedback, now


async def _watchdog(replica, state: dict) -> None:
    while True:
        await trio.sleep(0.1)
        if time.monotonic() - state["last"] > STREAM_TIMEOUT:
            raise ChannelClosed(f"no message from the writer for {STREAM_TIMEOUT:g} s")
        if replica.resync_wanted:
            replica.resync_wanted = False
            raise _Restart("storage no longer keeps the replica's read point", fresh=True)
