"""Lightweight replicas for the replica-cap tests: real TCP connections to a writer's
replication endpoint that do the replica's handshake (CHALLENGE / AUTH role REPLICA / AUTH_OK,
then SUBSCRIBE -> STREAM_START or ERROR) and then read the stream (REDO, READ_POINT,
HEARTBEAT), noting the newest READ_POINT, without applying anything.

In the test process: ``Subscribers(address, secret, cluster_id)`` (``open(n)`` subscribes n
at once from n threads; ``close(name)``/``close_all()``). As a process of its own (so that
draining 15 streams does not share the writer's interpreter), driven by lines on stdin:

    python -m tests.replica._subscribers CLUSTER_FILE ADDRESS
    open N       -> "opened A refused R" (and one "refused: MESSAGE" line per refusal)
    positions    -> "positions P1 P2 ..." (the newest READ_POINT each subscriber received)
    close        -> "closed N"
    (end of stdin: close everything and exit)
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading
import time

from aurora_lite.membership import load, load_secret, parse_address
from aurora_lite.replica._messages import (
    ReadPoint, ReplicationType, StreamStart, Subscribe, decode_replication,
)
from aurora_lite.wire import (
    AuthOk, Challenge, Error, FrameReader, MessageType, Role, answer, encode_frame,
    verify_server,
)


class Refused(Exception):
    """The writer answered SUBSCRIBE with ERROR (the message is the writer's)."""


class Subscriber:
    def __init__(self, address: str, secret: bytes, cluster_id: bytes, name: str,
                 timeout: float = 30.0, rcvbuf: int | None = None) -> None:
        self.name = name
        self.reader = FrameReader()
        self.frames: list = []
        self.read_point = 0
        self.bytes = 0
        self.closed = False
        host, port = parse_address(address)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf is not None:       # before connect: the window it advertises stays small
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise
        try:
            self._handshake(secret, cluster_id)
        except BaseException:
            self.sock.close()
            raise

    def _frame(self):
        while not self.frames:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError(f"{self.name}: the writer closed the connection")
            self.frames.extend(self.reader.feed(data))
        return self.frames.pop(0)

    def _handshake(self, secret: bytes, cluster_id: bytes) -> None:
        message_type, _rid, payload = self._frame()
        assert message_type == MessageType.CHALLENGE, message_type
        challenge = Challenge.decode(payload)
        assert challenge.cluster_id == cluster_id
        auth = answer(secret, challenge, Role.REPLICA)
        self.sock.sendall(encode_frame(auth.TYPE, auth.encode()))
        message_type, _rid, payload = self._frame()
        if message_type == MessageType.ERROR:
            raise Refused(Error.decode(payload).message)
        verify_server(secret, challenge, auth, AuthOk.decode(payload))
        subscribe = Subscribe(0, 0, 0, self.name)
        self.sock.sendall(encode_frame(subscribe.TYPE, subscribe.encode(), 1))
        message_type, _rid, payload = self._frame()
        reply = decode_replication(message_type, payload)
        if isinstance(reply, Error):
            raise Refused(reply.message)
        assert isinstance(reply, StreamStart), reply
        self.start = reply
        self.read_point = reply.read_point
        self.sock.setblocking(False)
        self._note(self.frames)
        self.frames = []

    def _note(self, frames) -> None:
        for message_type, _rid, payload in frames:
            if message_type == ReplicationType.READ_POINT:
                self.read_point = max(self.read_point, ReadPoint.decode(payload).lsn)

    def drain(self) -> bool:
        """Read what arrived; False once the writer closed the connection."""
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.bytes += len(data)
        self._note(self.reader.feed(data))
        return True

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class Subscribers:
    """Subscribers and the one thread that drains them all."""

    def __init__(self, address: str, secret: bytes, cluster_id: bytes) -> None:
        self.address, self.secret, self.cluster_id = address, secret, cluster_id
        self.live: dict[str, Subscriber] = {}
        self.stalled: list[Subscriber] = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True,
                                        name="test-subscribers")
        self._thread.start()
        self._count = 0

    def open(self, n: int, timeout: float = 60.0, *, stalled: bool = False,
             rcvbuf: int | None = None) -> tuple[list[Subscriber], list[str]]:
        """Subscribe ``n`` at once (n threads behind a barrier); (accepted, refusals).
        ``stalled``: never read their stream (a replica that stopped reading)."""
        barrier = threading.Barrier(n)
        results: list = [None] * n
        names = []
        for _ in range(n):
            self._count += 1
            names.append(f"light-{self._count}")

        def one(index: int) -> None:
            try:
                barrier.wait(timeout)
                results[index] = Subscriber(self.address, self.secret, self.cluster_id,
                                            names[index], rcvbuf=rcvbuf)
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                results[index] = exc

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
        accepted, refusals = [], []
        for result in results:
            if isinstance(result, Subscriber):
                accepted.append(result)
                if stalled:
                    self.stalled.append(result)
                    continue
                with self._lock:
                    self.live[result.name] = result
                    self._selector.register(result.sock, selectors.EVENT_READ, result)
            elif isinstance(result, Refused):
                refusals.append(str(result))
            else:
                raise AssertionError(f"a subscription failed: {result!r}")
        return accepted, refusals

    def close(self, name: str) -> None:
        with self._lock:
            subscriber = self.live.pop(name)
            self._selector.unregister(subscriber.sock)
        subscriber.close()

    def close_all(self) -> None:
        for name in list(self.live):
            self.close(name)

    def positions(self) -> list[int]:
        with self._lock:
            return [s.read_point for s in self.live.values()]

    def stop(self) -> None:
        self.close_all()
        for subscriber in self.stalled:
            subscriber.close()
        self._stop.set()
        self._thread.join(10)
        self._selector.close()

    def _drain(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self.live:
                    events = []
                else:
                    events = self._selector.select(0.02)
                for key, _mask in events:
                    subscriber = key.data
                    if not subscriber.drain():
                        self._selector.unregister(subscriber.sock)
                        self.live.pop(subscriber.name, None)
            if not events:
                time.sleep(0.005)


def main() -> int:
    config = load(sys.argv[1])
    subscribers = Subscribers(sys.argv[2], load_secret(config.path), config.cluster_id_bytes)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "open":
                accepted, refusals = subscribers.open(int(words[1]))
                for message in refusals:
                    print(f"refused: {message}")
                print(f"opened {len(accepted)} refused {len(refusals)}", flush=True)
            elif words[0] == "positions":
                print("positions " + " ".join(map(str, subscribers.positions())), flush=True)
            elif words[0] == "close":
                count = len(subscribers.live)
                subscribers.close_all()
                print(f"closed {count}", flush=True)
    finally:
        subscribers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
