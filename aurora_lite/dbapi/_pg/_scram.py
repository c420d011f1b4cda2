"""SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: both ends and the stored verifier.

docs/protocols/auth.md describes the exchange and numbers its invariants. In short:

    client-first  n,,n=,r=<client nonce>            (the user name comes from the startup
                                                      packet; PostgreSQL ignores n=)
    server-first  r=<client nonce + server nonce>,s=<base64 salt>,i=<iterations>
    client-final  c=biws,r=<nonce>,p=<base64 ClientProof>
    server-final  v=<base64 ServerSignature>

    SaltedPassword  = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations)
    ClientKey       = HMAC(SaltedPassword, "Client Key");  StoredKey = SHA-256(ClientKey)
    ServerKey       = HMAC(SaltedPassword, "Server Key")
    AuthMessage     = client-first-bare + "," + server-first + "," + client-final-without-proof
    ClientProof     = ClientKey XOR HMAC(StoredKey, AuthMessage)
    ServerSignature = HMAC(ServerKey, AuthMessage)

The server keeps only (salt, iterations, StoredKey, ServerKey), in PostgreSQL's text form
``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64 fields). A proof checks
out when SHA-256(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from dataclasses import dataclass

from aurora_lite.errors import OperationalError

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096
SALT_BYTES = 16
NONCE_BYTES = 18
# Bounds on what a verifier line may ask for, so a crafted users file cannot stall a server.
MAX_ITERATIONS = 10_000_000


class AuthenticationFailed(OperationalError):
    """Wrong password or unknown user (the two are not told apart): SQLSTATE 28P01."""

    sqlstate = "28P01"


class ScramProtocolError(OperationalError):
    """A SCRAM message that does not follow RFC 5802: SQLSTATE 08P01."""

    sqlstate = "08P01"


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ScramProtocolError(f"malformed SCRAM message: {what} is not base64") from None


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right))


# -- SASLprep (RFC 4013), as PostgreSQL's pg_saslprep applies it -----------------------------
def saslprep(password: str) -> str:
    """The prepared form of ``password``; like PostgreSQL, a password that SASLprep rejects
    (prohibited characters, bad bidirectional text) is used as it is."""
    if password.isascii():
        return password
    mapped = "".join(" " if stringprep.in_table_c12(char) else char for char in password
                     if not stringprep.in_table_b1(char))
    prepared = unicodedata.normalize("NFKC", mapped)
    if not prepared:
        return password
    prohibited = (stringprep.in_table_c12, stringprep.in_table_c21, stringprep.in_table_c22,
                  stringprep.in_table_c3, stringprep.in_table_c4, stringprep.in_table_c5,
                  stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
                  stringprep.in_table_c9, stringprep.in_table_a1)
    if any(check(char) for char in prepared for check in prohibited):
        return password
    if any(stringprep.in_table_d1(char) for char in prepared):
        if any(stringprep.in_table_d2(char) for char in prepared):
            return password
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            return password
    return prepared


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", saslprep(password).encode("utf-8"), salt, iterations)


# -- the stored verifier --------------------------------------------------------------------------
@dataclass(frozen=True)
class Verifier:
    """What the server stores for a user instead of the password."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(cls, password: str, *, salt: bytes | None = None,
                      iterations: int = DEFAULT_ITERATIONS) -> "Verifier":
        salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
        salted = salted_password(password, salt, iterations)
        return cls(iterations, salt, hashlib.sha256(_hmac(salted, b"Client Key")).digest(),
                   _hmac(salted, b"Server Key"))

    def to_text(self) -> str:
        return (f"{MECHANISM}${self.iterations}:{_b64(self.salt)}"
                f"${_b64(self.stored_key)}:{_b64(self.server_key)}")

    @classmethod
    def parse(cls, text: str) -> "Verifier":
        """Read the text form; ValueError names what is wrong."""
        try:
            mechanism, parameters, keys = text.strip().split("$")
            iterations_text, salt_text = parameters.split(":")
            stored_text, server_text = keys.split(":")
            iterations = int(iterations_text)
            salt = base64.b64decode(salt_text, validate=True)
            stored = base64.b64decode(stored_text, validate=True)
            server = base64.b64decode(server_text, validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("not a SCRAM-SHA-256 verifier "
                             "(SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)") from None
        if mechanism != MECHANISM:
            raise ValueError(f"unknown mechanism {mechanism!r}")
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ValueError(f"iteration count {iterations} is out of range")
        if len(stored) != 32 or len(server) != 32 or not salt:
            raise ValueError("a key is not 32 bytes or the salt is empty")
        return cls(iterations, salt, stored, server)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` produces this verifier (for tools and tests; the server never
        sees a password)."""
        other = Verifier.from_password(password, salt=self.salt, iterations=self.iterations)
        return hmac.compare_digest(other.stored_key, self.stored_key)


def _attributes(message: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=" or not part[0].isalpha():
            raise ScramProtocolError(f"malformed SCRAM {what}: bad attribute {part[:20]!r}")
        pairs.append((part[0], part[2:]))
    return pairs


def _printable_nonce(nonce: str) -> bool:
    return bool(nonce) and all(0x21 <= ord(char) <= 0x7E and char != "," for char in nonce)


# -- the server's side ---------------------------------------------------------------------------
class ScramServer:
    """One authentication exchange. ``verifier`` None (unknown user) runs a mock exchange that
    fails at the end, indistinguishable on the wire from a wrong password (Invariant 3)."""

    def __init__(self, user: str, verifier: Verifier | None, *, mock_key: bytes,
                 nonce: str | None = None) -> None:
        self.user = user
        if verifier is None:
            # A stable fake salt per user name, so probing twice does not reveal a difference.
            salt = _hmac(mock_key, user.encode("utf-8"))[:SALT_BYTES]
            self._verifier = Verifier(DEFAULT_ITERATIONS, salt, b"\x00" * 32, b"\x00" * 32)
            self._real = False
        else:
            self._verifier = verifier
            self._real = True
        self._server_nonce = nonce or _b64(secrets.token_bytes(NONCE_BYTES))
        self._client_first_bare = ""
        self._server_first = ""
        self._gs2_header = ""
        self._nonce = ""

    def first(self, client_first: bytes) -> bytes:
        """client-first-message -> server-first-message."""
        try:
            text = client_first.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramProtocolError("malformed SCRAM message: not UTF-8") from None
        flag, _, rest = text.partition(",")
        authzid, _, bare = rest.partition(",")
        if flag.startswith("p="):
            raise ScramProtocolError("channel binding is not supported (no TLS); use "
                                     "channel_binding=disable or prefer")
        if flag not in ("n", "y"):
            raise ScramProtocolError("malformed SCRAM message: bad GS2 channel-binding flag")
        if authzid:
            raise ScramProtocolError("SCRAM authorization identities are not supported")
        attributes = _attributes(bare, "client-first-message")
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise ScramProtocolError("malformed SCRAM client-first-message: expected n=, r=")
        if attributes[0][1].startswith("m=") or any(key == "m" for key, _ in attributes):
            raise ScramProtocolError("SCRAM mandatory extensions are not supported")
        client_nonce = attributes[1][1]
        if not _printable_nonce(client_nonce):
            raise ScramProtocolError("malformed SCRAM client-first-message: bad nonce")
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = bare
        self._nonce = client_nonce + self._server_nonce
        verifier = self._verifier
        self._server_first = f"r={self._nonce},s={_b64(verifier.salt)},i={verifier.iterations}"
        return self._server_first.encode("ascii")

    def final(self, client_final: bytes) -> bytes:
        """client-final-message -> server-final-message, or AuthenticationFailed."""
        if not self._server_first:
            raise ScramProtocolError("SCRAM client-final-message before client-first-message")
        try:
            text = client_final.decode("ascii")
        except UnicodeDecodeError:
            raise ScramProtocolError("malformed SCRAM message: not ASCII") from None
        without_proof, separator, proof_text = text.rpartition(",p=")
        if not separator:
            raise ScramProtocolError("malformed SCRAM client-final-message: no proof")
        attributes = _attributes(without_proof, "client-final-message")
        if len(attributes) < 2 or attributes[0][0] != "c" or attributes[1][0] != "r":
            raise ScramProtocolError("malformed SCRAM client-final-message: expected c=, r=")
        binding = _unb64(attributes[0][1], "channel binding")
        if binding != self._gs2_header.encode("utf-8"):
            raise ScramProtocolError("SCRAM channel binding check failed")
        if not hmac.compare_digest(attributes[1][1].encode(), self._nonce.encode()):
            raise ScramProtocolError("SCRAM nonce mismatch")
        proof = _unb64(proof_text, "proof")
        if len(proof) != 32:
            raise ScramProtocolError("malformed SCRAM client-final-message: bad proof length")
        auth_message = ",".join((self._client_first_bare, self._server_first,
                                 without_proof)).encode("utf-8")
        verifier = self._verifier
        client_key = _xor(proof, _hmac(verifier.stored_key, auth_message))
        matches = hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key)
        if not (matches and self._real):
            raise AuthenticationFailed(
                f'password authentication failed for user "{self.user}"')
        return f"v={_b64(_hmac(verifier.server_key, auth_message))}".encode("ascii")


# -- the client's side ---------------------------------------------------------------------------
class ScramClient:
    """One exchange from the client's end; it also checks the server's signature, so a server
    that does not know the verifier cannot pretend to (mutual authentication)."""

    def __init__(self, password: str, *, user: str = "", nonce: str | None = None) -> None:
        self._password = password
        self._nonce = nonce or _b64(secrets.token_bytes(NONCE_BYTES))
        # PostgreSQL takes the user from the startup packet and ignores n=, so libpq sends it
        # empty; a name, when given, is escaped as RFC 5802's saslname.
        name = user.replace("=", "=3D").replace(",", "=2C")
        self._client_first_bare = f"n={name},r={self._nonce}"
        self._server_signature: bytes | None = None

    def first(self) -> bytes:
        return f"n,,{self._client_first_bare}".encode("ascii")

    def final(self, server_first: bytes) -> bytes:
        try:
            text = server_first.decode("ascii")
        except UnicodeDecodeError:
            raise ScramProtocolError("malformed SCRAM server-first-message") from None
        attributes = dict(_attributes(text, "server-first-message"))
        nonce, salt_text, iterations_text = (attributes.get(key) for key in "rsi")
        if nonce is None or salt_text is None or iterations_text is None:
            raise ScramProtocolError("malformed SCRAM server-first-message: expected r, s, i")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise ScramProtocolError("SCRAM server nonce does not extend the client nonce")
        try:
            iterations = int(iterations_text)
        except ValueError:
            raise ScramProtocolError("malformed SCRAM iteration count") from None
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ScramProtocolError(f"SCRAM iteration count {iterations} is out of range")
        salted = salted_password(self._password, _unb64(salt_text, "salt"), iterations)
        client_key = _hmac(salted, b"Client Key")
        without_proof = f"c=biws,r={nonce}"
        auth_message = ",".join((self._client_first_bare, text, without_proof)).encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={_b64(_xor(client_key, signature))}".encode("ascii")

    def verify(self, server_final: bytes) -> None:
        text = server_final.decode("ascii", "replace")
        if text.startswith("e="):
            raise AuthenticationFailed(f"SCRAM authentication failed: {text[2:]}")
        if not text.startswith("v=") or self._server_signature is None:
            raise ScramProtocolError("malformed SCRAM server-final-message")
        if not hmac.compare_digest(_unb64(text[2:], "server signature"),
                                   self._server_signature):
            raise AuthenticationFailed("the server's SCRAM signature is wrong: it does not "
                                       "know this user's verifier")
