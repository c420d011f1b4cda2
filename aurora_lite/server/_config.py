"""The server's settings: one frozen dataclass, filled from the command line or by a test.
TLS is configured by the paths of a certificate and its key; the files are loaded (once, by
``aurora_lite.server._tls.server_context``) when the ``Server`` is made."""

from __future__ import annotations

from dataclasses import dataclass

SERVER_VERSION = "15.0 (aurora_lite)"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5433


@dataclass(frozen=True)
class ServerConfig:
    """Limits bound each connection's memory and each statement's time; ``None`` disables
    a timeout. Times are seconds."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT               # 0: any free port (see Server.port once started)
    auth: str = "scram"                    # "scram" or "trust" (trust only when chosen)
    max_connections: int = 100
    max_message_length: int = 16 << 20     # checked from the header, before the body is read
    worker_threads: int = 32               # statements running at once (reader limiter)
    batch_rows: int = 256                  # rows fetched and encoded per worker-thread call
    send_buffer: int = 64 << 10            # pending output bytes that force a send
    statement_timeout: float | None = None
    idle_session_timeout: float | None = None
    idle_in_transaction_timeout: float | None = 300.0
    authentication_timeout: float = 30.0
    max_prepared_statements: int = 10_000  # per connection
    max_portals: int = 1_000               # per connection
    scram_iterations: int = 4096
    inline_budget: float = 0.0005          # reads averaging less run on the loop (0: never)
    tls_cert: str | None = None            # PEM certificate chain: SSLRequest answered 'S'
    tls_key: str | None = None             # ... and its PEM private key (both or neither)
    tls_required: bool = False             # refuse a startup message sent in the clear

    def __post_init__(self) -> None:
        if self.auth not in ("scram", "trust"):
            raise ValueError(f"unknown authentication method {self.auth!r} (scram or trust)")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and a key (tls_cert and tls_key)")
        if self.tls_required and self.tls_cert is None:
            raise ValueError("tls_required needs a certificate and a key (tls_cert, tls_key)")
        if self.max_message_length < 1024:
            raise ValueError("max_message_length must be at least 1024 bytes")
        for name in ("max_connections", "worker_threads", "batch_rows", "send_buffer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        for name in ("statement_timeout", "idle_session_timeout",
                     "idle_in_transaction_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive (or None to disable it)")
