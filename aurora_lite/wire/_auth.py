"""Challenge-response authentication with the cluster secret (HMAC-SHA256).

The secret never crosses the wire. On connect the segment sends CHALLENGE (a fresh 32-byte
nonce, its node id, the cluster id); the client answers AUTH with its own nonce, its role and
``HMAC(secret, "aurora-lite client" | server nonce | client nonce | role | node id |
cluster id)``; the segment checks it in constant time and answers AUTH_OK with
``HMAC(secret, "aurora-lite server" | client nonce | server nonce | node id)``, which the client
checks in turn (mutual authentication: a client never ships redo to an impostor). Any other
first message, or a wrong MAC, closes the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from aurora_lite.wire._frame import ProtocolError
from aurora_lite.wire._messages import Auth, AuthOk, Challenge

NONCE_SIZE = 32
SECRET_SIZE = 32


def new_secret() -> bytes:
    return os.urandom(SECRET_SIZE)


def new_challenge(node_id: int, cluster_id: bytes) -> Challenge:
    return Challenge(os.urandom(NONCE_SIZE), node_id, cluster_id)


def _client_mac(secret: bytes, challenge: Challenge, nonce: bytes, role: int,
                node_id: int) -> bytes:
    message = (b"aurora-lite client" + challenge.nonce + nonce + struct.pack("<BI", role, node_id)
               + challenge.cluster_id)
    return hmac.new(secret, message, hashlib.sha256).digest()


def _server_mac(secret: bytes, challenge: Challenge, client_nonce: bytes) -> bytes:
    message = (b"aurora-lite server" + client_nonce + challenge.nonce
               + struct.pack("<I", challenge.node_id))
    return hmac.new(secret, message, hashlib.sha256).digest()


def answer(secret: bytes, challenge: Challenge, role: int, node_id: int = 0) -> Auth:
    """The client's AUTH for a CHALLENGE."""
    nonce = os.urandom(NONCE_SIZE)
    return Auth(nonce, role, node_id, _client_mac(secret, challenge, nonce, role, node_id))


def verify_client(secret: bytes, challenge: Challenge, auth: Auth) -> AuthOk:
    """Check a client's AUTH; return the AUTH_OK to send, or raise ProtocolError."""
    expected = _client_mac(secret, challenge, auth.nonce, auth.role, auth.node_id)
    if not hmac.compare_digest(expected, auth.mac):
        raise ProtocolError("authentication failed: wrong cluster secret")
    return AuthOk(_server_mac(secret, challenge, auth.nonce))


def verify_server(secret: bytes, challenge: Challenge, auth: Auth, auth_ok: AuthOk) -> None:
    """Check the segment's AUTH_OK (the client's side of mutual authentication)."""
    expected = _server_mac(secret, challenge, auth.nonce)
    if not hmac.compare_digest(expected, auth_ok.mac):
        raise ProtocolError("the storage node failed to prove it knows the cluster secret")
