"""TLS for the server: the ``ssl.SSLContext`` built once from ``--tls-cert`` / ``--tls-key``.

``server_context(cert, key)`` loads the certificate chain and the private key (PEM files, as
PostgreSQL's ssl_cert_file / ssl_key_file) into an ``ssl.SSLContext(PROTOCOL_TLS_SERVER)``
that accepts TLS 1.2 and later only. Every problem is a ``TLSConfigError`` whose message names
the file at fault, so ``aurora-lite serve`` can refuse to start with a message an operator can
act on: a file that cannot be read, a certificate file without a certificate, a key file
without a key, a key protected by a passphrase (the server never prompts), a key that does not
belong to the certificate.

``key_file_warning(key)`` is the start-up note for a key file other users may read (PostgreSQL
refuses to start on one; aurora_lite warns).

The connection side (SSLRequest answered 'S', the handshake in ``trio.SSLStream``) is in
``_startup``.
"""

from __future__ import annotations

import os
import ssl
import stat

# The ALPN protocol name PostgreSQL 17 registered; libpq 17 and later offer it.
ALPN_PROTOCOL = "postgresql"


class TLSConfigError(ValueError):
    """The certificate or key cannot be used; the message names the file."""


class _Encrypted(Exception):
    pass


def _ask_passphrase() -> bytes:
    raise _Encrypted()


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 20)
    except OSError as error:
        raise TLSConfigError(f"cannot read the TLS {what} file {path}: "
                             f"{error.strerror or error}") from None


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The server's context: TLS >= 1.2, the chain in ``cert``, the private key in ``key``."""
    cert, key = os.fspath(cert), os.fspath(key)
    cert_text = _read(cert, "certificate")
    key_text = _read(key, "key")
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        raise TLSConfigError(f"the TLS certificate file {cert} holds no PEM certificate "
                             "(-----BEGIN CERTIFICATE-----)")
    if b"PRIVATE KEY-----" not in key_text:
        raise TLSConfigError(f"the TLS key file {key} holds no PEM private key "
                             "(-----BEGIN PRIVATE KEY-----)")
    try:
        # The certificate alone: a file that does not parse is named as such.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert)
    except (ssl.SSLError, ValueError) as error:
        raise TLSConfigError(f"the TLS certificate file {cert} is not a valid PEM "
                             f"certificate: {error}") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    try:
        context.load_cert_chain(cert, key, password=_ask_passphrase)
    except _Encrypted:
        raise TLSConfigError(f"the TLS key file {key} is protected by a passphrase; the "
                             "server cannot ask for it: use an unencrypted key (readable by "
                             "the server's user only)") from None
    except ssl.SSLError as error:
        if getattr(error, "reason", None) == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(f"the TLS key file {key} does not hold the private key of "
                                 f"the certificate in {cert}") from None
        raise TLSConfigError(f"the TLS key file {key} is not a valid PEM private key for "
                             f"{cert}: {error}") from None
    except OSError as error:  # the file went away between the checks and the load
        raise TLSConfigError(f"cannot load the TLS certificate {cert} / key {key}: "
                             f"{error.strerror or error}") from None
    try:
        context.set_alpn_protocols([ALPN_PROTOCOL])
    except NotImplementedError:  # pragma: no cover - OpenSSL without ALPN
        pass
    return context


def key_file_warning(key: str) -> str | None:
    """A note when other users may read the private key (group or world permissions)."""
    try:
        status = os.stat(key)
    except OSError:
        return None
    mode = stat.S_IMODE(status.st_mode)
    # PostgreSQL's rule: 0600 at most, or 0640 for a key file owned by root.
    if mode & (0o037 if status.st_uid == 0 else 0o077):
        return f"the TLS key file {key} is readable by other users (mode {mode:04o}); chmod 600 it"
    return None
