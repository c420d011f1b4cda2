"""The messages of the PostgreSQL frontend/backend protocol 3.0, and their byte encodings.

Every message is a frozen dataclass; ``encode(message)`` gives its bytes. Reading them back is
``_decode``'s job. ``ProtocolViolation`` (SQLSTATE 08P01) is what both raise for bytes that are
not a valid message.

Framing (docs/formats/pgwire.md): a typed message is ``type:u8 | length:i32 | body``, where
length counts itself and the body but not the type byte. The first packet of a connection has
no type byte: ``length:i32 | code:i32 | body``. Integers are big-endian; strings are UTF-8
terminated by a zero byte.

The server's row hot path skips the dataclasses: ``encode_data_row`` goes straight from column
bytes to the wire.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Union

from aurora_lite.errors import OperationalError

PROTOCOL_3_0 = 196608          # 3 << 16
SSL_REQUEST_CODE = 80877103     # 1234 << 16 | 5679
GSSENC_REQUEST_CODE = 80877104  # 1234 << 16 | 5680
CANCEL_REQUEST_CODE = 80877102  # 1234 << 16 | 5678

# Authentication request codes ('R' messages).
AUTH_OK = 0
AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class ProtocolViolation(OperationalError):
    """Bytes that are not a valid protocol message (or not one expected now)."""

    sqlstate = "08P01"


# -- frontend (client -> server) messages ------------------------------------------------------
@dataclass(frozen=True)
class StartupMessage:
    protocol: int
    parameters: tuple[tuple[str, str], ...]

    @property
    def params(self) -> dict[str, str]:
        return dict(self.parameters)


@dataclass(frozen=True)
class SSLRequest:
    pass


@dataclass(frozen=True)
class GSSENCRequest:
    pass


@dataclass(frozen=True)
class CancelRequest:
    process_id: int
    secret_key: int


@dataclass(frozen=True)
class Query:
    sql: str


@dataclass(frozen=True)
class Parse:
    name: str
    sql: str
    param_oids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


@dataclass(frozen=True)
class Describe:
    kind: str      # 'S' statement, 'P' portal
    name: str


@dataclass(frozen=True)
class Execute:
    portal: str
    max_rows: int = 0


@dataclass(frozen=True)
class Close:
    kind: str      # 'S' statement, 'P' portal
    name: str


@dataclass(frozen=True)
class Sync:
    pass


@dataclass(frozen=True)
class Flush:
    pass


@dataclass(frozen=True)
class Terminate:
    pass


@dataclass(frozen=True)
class PasswordData:
    """A 'p' message: its meaning (password, SASLInitialResponse, SASLResponse) depends on the
    authentication step; ``decode_sasl_initial`` reads the initial response form."""

    data: bytes


@dataclass(frozen=True)
class SASLInitialResponse:
    mechanism: str
    data: bytes | None


@dataclass(frozen=True)
class Unsupported:
    """A frontend message type this implementation knows of but does not serve (COPY data,
    FunctionCall): the server answers with an error."""

    type: bytes


# -- backend (server -> client) messages -------------------------------------------------------
@dataclass(frozen=True)
class Authentication:
    code: int
    data: bytes = b""


@dataclass(frozen=True)
class ParameterStatus:
    name: str
    value: str


@dataclass(frozen=True)
class BackendKeyData:
    process_id: int
    secret_key: int


@dataclass(frozen=True)
class ReadyForQuery:
    status: str    # 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block


@dataclass(frozen=True)
class FieldDescription:
    name: str
    table_oid: int
    column: int
    type_oid: int
    type_size: int
    type_modifier: int
    format: int


@dataclass(frozen=True)
class RowDescription:
    fields: tuple[FieldDescription, ...]


@dataclass(frozen=True)
class DataRow:
    values: tuple[bytes | None, ...]


@dataclass(frozen=True)
class CommandComplete:
    tag: str


@dataclass(frozen=True)
class EmptyQueryResponse:
    pass


@dataclass(frozen=True)
class ErrorResponse:
    """Fields by their one-letter codes: S severity, V severity (not localized), C SQLSTATE,
    M message, D detail, H hint, P position (1-based characters), ..."""

    fields: tuple[tuple[str, str], ...]

    def get(self, code: str, default: str | None = None) -> str | None:
        for key, value in self.fields:
            if key == code:
                return value
        return default


@dataclass(frozen=True)
class NoticeResponse:
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ParseComplete:
    pass


@dataclass(frozen=True)
class BindComplete:
    pass


@dataclass(frozen=True)
class CloseComplete:
    pass


@dataclass(frozen=True)
class NoData:
    pass


@dataclass(frozen=True)
class PortalSuspended:
    pass


@dataclass(frozen=True)
class ParameterDescription:
    oids: tuple[int, ...]


@dataclass(frozen=True)
class NegotiateProtocolVersion:
    newest_minor: int
    unrecognized: tuple[str, ...]


FrontendMessage = Union[StartupMessage, SSLRequest, GSSENCRequest, CancelRequest, Query, Parse,
                        Bind, Describe, Execute, Close, Sync, Flush, Terminate, PasswordData,
                        Unsupported]
BackendMessage = Union[Authentication, ParameterStatus, BackendKeyData, ReadyForQuery,
                       RowDescription, DataRow, CommandComplete, EmptyQueryResponse,
                       ErrorResponse, NoticeResponse, ParseComplete, BindComplete,
                       CloseComplete, NoData, PortalSuspended, ParameterDescription,
                       NegotiateProtocolVersion]


# -- encoding ------------------------------------------------------------------------------------
def _cstr(text: str) -> bytes:
    data = text.encode("utf-8")
    if b"\x00" in data:
        raise ProtocolViolation("a protocol string may not contain a zero byte")
    return data + b"\x00"


def _typed(type_byte: bytes, body: bytes) -> bytes:
    return type_byte + _I32.pack(len(body) + 4) + body


def _fields(fields: tuple[tuple[str, str], ...]) -> bytes:
    return b"".join(code.encode("ascii") + _cstr(value) for code, value in fields) + b"\x00"


def _untyped(code: int, body: bytes) -> bytes:
    return _I32.pack(len(body) + 8) + _I32.pack(code) + body


def encode_data_row(values: list | tuple) -> bytes:
    """A DataRow from column bytes (None is NULL): the server's per-row hot path."""
    parts = [b"", _I16.pack(len(values))]
    append = parts.append
    pack = _I32.pack
    for value in values:
        if value is None:
            append(b"\xff\xff\xff\xff")
        else:
            append(pack(len(value)))
            append(value)
    body = b"".join(parts)
    return b"D" + pack(len(body) + 4) + body


def encode(message) -> bytes:
    """The wire bytes of one message (frontend or backend)."""
    kind = type(message)
    if kind is DataRow:
        return encode_data_row(message.values)
    if kind is CommandComplete:
        return _typed(b"C", _cstr(message.tag))
    if kind is ReadyForQuery:
        return _typed(b"Z", message.status.encode("ascii"))
    if kind is Query:
        return _typed(b"Q", _cstr(message.sql))
    if kind is Parse:
        return _typed(b"P", _cstr(message.name) + _cstr(message.sql)
                      + _I16.pack(len(message.param_oids))
                      + b"".join(struct.pack(">I", oid) for oid in message.param_oids))
    if kind is Bind:
        parts = [_cstr(message.portal), _cstr(message.statement),
                 _I16.pack(len(message.param_formats)),
                 b"".join(_I16.pack(code) for code in message.param_formats),
                 _I16.pack(len(message.params))]
        for value in message.params:
            parts.append(b"\xff\xff\xff\xff" if value is None
                         else _I32.pack(len(value)) + bytes(value))
        parts.append(_I16.pack(len(message.result_formats)))
        parts.append(b"".join(_I16.pack(code) for code in message.result_formats))
        return _typed(b"B", b"".join(parts))
    if kind is Describe:
        return _typed(b"D", message.kind.encode("ascii") + _cstr(message.name))
    if kind is Execute:
        return _typed(b"E", _cstr(message.portal) + _I32.pack(message.max_rows))
    if kind is Close:
        return _typed(b"C", message.kind.encode("ascii") + _cstr(message.name))
    if kind is Sync:
        return b"S\x00\x00\x00\x04"
    if kind is Flush:
        return b"H\x00\x00\x00\x04"
    if kind is Terminate:
        return b"X\x00\x00\x00\x04"
    if kind is PasswordData:
        return _typed(b"p", message.data)
    if kind is SASLInitialResponse:
        data = message.data
        return _typed(b"p", _cstr(message.mechanism)
                      + (_I32.pack(-1) if data is None else _I32.pack(len(data)) + data))
    if kind is StartupMessage:
        body = b"".join(_cstr(key) + _cstr(value) for key, value in message.parameters)
        return _untyped(message.protocol, body + b"\x00")
    if kind is SSLRequest:
        return _untyped(SSL_REQUEST_CODE, b"")
    if kind is GSSENCRequest:
        return _untyped(GSSENC_REQUEST_CODE, b"")
    if kind is CancelRequest:
        return _untyped(CANCEL_REQUEST_CODE, _I32.pack(message.process_id)
                        + _I32.pack(message.secret_key))
    if kind is Authentication:
        return _typed(b"R", _I32.pack(message.code) + message.data)
    if kind is ParameterStatus:
        return _typed(b"S", _cstr(message.name) + _cstr(message.value))
    if kind is BackendKeyData:
        return _typed(b"K", _I32.pack(message.process_id) + _I32.pack(message.secret_key))
    if kind is ReadyForQuery:
        return _typed(b"Z", message.status.encode("ascii"))
    if kind is RowDescription:
        parts = [_I16.pack(len(message.fields))]
        for field in message.fields:
            parts.append(_cstr(field.name) + struct.pack(
                ">IhIhih", field.table_oid, field.column, field.type_oid, field.type_size,
                field.type_modifier, field.format))
        return _typed(b"T", b"".join(parts))
    if kind is CommandComplete:
        return _typed(b"C", _cstr(message.tag))
    if kind is EmptyQueryResponse:
        return b"I\x00\x00\x00\x04"
    if kind is ErrorResponse:
        return _typed(b"E", _fields(message.fields))
    if kind is NoticeResponse:
        return _typed(b"N", _fields(message.fields))
    if kind is ParseComplete:
        return b"1\x00\x00\x00\x04"
    if kind is BindComplete:
        return b"2\x00\x00\x00\x04"
    if kind is CloseComplete:
        return b"3\x00\x00\x00\x04"
    if kind is NoData:
        return b"n\x00\x00\x00\x04"
    if kind is PortalSuspended:
        return b"s\x00\x00\x00\x04"
    if kind is ParameterDescription:
        return _typed(b"t", _I16.pack(len(message.oids))
                      + b"".join(struct.pack(">I", oid) for oid in message.oids))
    if kind is NegotiateProtocolVersion:
        return _typed(b"v", _I32.pack(message.newest_minor) + _I32.pack(len(message.unrecognized))
                      + b"".join(_cstr(name) for name in message.unrecognized))
    raise TypeError(f"not a protocol message: {message!r}")
