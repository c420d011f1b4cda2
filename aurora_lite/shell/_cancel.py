"""Ctrl-C while a statement runs: cancel the statement, keep the shell.

While a statement runs (``with CancelOnInterrupt(connection) as cancel:``) SIGINT no longer
raises KeyboardInterrupt; it asks the connection to cancel its statement with
``connection.interrupt()``: the embedded driver flags its session (the engine checks the flag
between batches), the remote driver sends a CancelRequest on a second connection, sqlite3
interrupts its VM. The statement then fails with 57014 like any other error and the shell
goes on. Each further Ctrl-C sends another request, as psql does.

``interrupt()`` runs in a short-lived thread, not in the signal handler: the remote driver's
request opens a socket and waits for the server, which must not hold up the main thread that
is reading the cancelled statement's answer.

Signal handlers can only be installed by the main thread; elsewhere (tests running the shell
in a worker thread) the context does nothing and Ctrl-C keeps its default meaning.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class CancelOnInterrupt:
    """A context in which SIGINT cancels the connection's running statement."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.requested = False
        self.failure: BaseException | None = None   # the last interrupt() that failed
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> "CancelOnInterrupt":
        if (threading.current_thread() is threading.main_thread()
                and callable(getattr(self.connection, "interrupt", None))):
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
            self._installed = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        threading.Thread(target=self._interrupt, name="shell-cancel", daemon=True).start()

    def _interrupt(self) -> None:
        try:
            self.connection.interrupt()
        except BaseException as exc:  # noqa: BLE001 - reported by the executor, never raised
            self.failure = exc
