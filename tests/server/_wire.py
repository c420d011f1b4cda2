"""Test helpers: a raw protocol client (blocking socket, every read bounded by a timeout) and
server fixtures' building blocks."""

from __future__ import annotations

import socket
import time

from aurora_lite.dbapi._pg import (
    PROTOCOL_3_0, FrameBuffer, StartupMessage, decode_backend, encode,
)

TIMEOUT = 10.0


class RawClient:
    """Speaks messages (dataclasses) or raw bytes; ``read`` returns decoded backend messages."""

    def __init__(self, port: int, *, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.frames = FrameBuffer(1 << 30)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *messages) -> None:
        self.sock.sendall(b"".join(m if isinstance(m, (bytes, bytearray)) else encode(m)
                                   for m in messages))

    def recv_raw(self, size: int = 1) -> bytes:
        return self.sock.recv(size)

    def read(self):
        """The next backend message; EOFError when the server closed the connection."""
        while True:
            message = self.frames.next_message()
            if message is not None:
                return decode_backend(*message)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.frames.feed(data)

    def until_ready(self) -> list:
        """Messages up to and including ReadyForQuery."""
        out = []
        while True:
            message = self.read()
            out.append(message)
            if type(message).__name__ == "ReadyForQuery":
                return out

    def startup(self, user: str = "tester", **parameters: str) -> list:
        """Trust-mode startup: the messages up to the first ReadyForQuery."""
        params = (("user", user), ("database", "test")) + tuple(parameters.items())
        self.send(StartupMessage(PROTOCOL_3_0, params))
        return self.until_ready()

    def closed_by_server(self, timeout: float = TIMEOUT) -> bool:
        """True once the server has closed the connection (reading whatever came first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not data:
                return True
        return False


def kinds(messages) -> list[str]:
    return [type(message).__name__ for message in messages]


def errors_of(messages) -> list[str]:
    """The SQLSTATEs of the ErrorResponses among ``messages``."""
    return [message.get("C") for message in messages
            if type(message).__name__ == "ErrorResponse"]
