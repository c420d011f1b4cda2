"""Reading protocol messages: a message body (the bytes after the type byte and the length)
back into its dataclass (``_messages``).

``decode_frontend(type, body)`` for what a client sends, ``decode_backend(type, body)`` for
what a server sends, ``decode_startup(body)`` for the untyped first packet,
``decode_sasl_initial(body)`` for the first SASL message. A body that does not parse raises
``ProtocolViolation`` (SQLSTATE 08P01) and never anything else: a decoder is fed bytes from the
network. The messages a server receives per query (Parse, Bind, Execute, Describe) and the
DataRow a client receives per row have hand-written fast paths; the rest go through the
bounds-checked ``Reader``.
"""

from __future__ import annotations

import struct

from aurora_lite.dbapi._pg._messages import (
    CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE, Authentication,
    BackendKeyData, Bind, BindComplete, CancelRequest, Close, CloseComplete, CommandComplete,
    DataRow, Describe, EmptyQueryResponse, ErrorResponse, Execute, FieldDescription, Flush,
    GSSENCRequest, NegotiateProtocolVersion, NoData, NoticeResponse, ParameterDescription,
    ParameterStatus, Parse, ParseComplete, PasswordData, PortalSuspended, ProtocolViolation,
    Query, ReadyForQuery, RowDescription, SASLInitialResponse, SSLRequest, StartupMessage, Sync,
    Terminate, Unsupported,
)

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class Reader:
    """Bounds-checked reads from a message body; every misstep is a ProtocolViolation."""

    __slots__ = ("data", "offset", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.offset = 0
        self.what = what

    def _take(self, size: int) -> bytes:
        end = self.offset + size
        if size < 0 or end > len(self.data):
            raise ProtocolViolation(f"invalid {self.what} message: it ends too early")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def i16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def u16(self) -> int:
        return struct.unpack(">H", self._take(2))[0]

    def i32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self._take(4))[0]

    def byte(self) -> str:
        return chr(self._take(1)[0])

    def raw(self, size: int) -> bytes:
        return bytes(self._take(size))

    def rest(self) -> bytes:
        chunk = bytes(self.data[self.offset:])
        self.offset = len(self.data)
        return chunk

    def cstr(self) -> str:
        end = self.data.find(b"\x00", self.offset)
        if end < 0:
            raise ProtocolViolation(f"invalid {self.what} message: unterminated string")
        raw = self.data[self.offset:end]
        self.offset = end + 1
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation(f"invalid {self.what} message: a string is not valid "
                                    "UTF-8") from None

    def count(self, per_item: int) -> int:
        """An int16 item count, checked against the bytes left (each item >= per_item)."""
        value = self.i16()
        if value < 0 or value * per_item > len(self.data) - self.offset:
            raise ProtocolViolation(f"invalid {self.what} message: bad item count {value}")
        return value

    def end(self) -> None:
        if self.offset != len(self.data):
            raise ProtocolViolation(f"invalid {self.what} message: "
                                    f"{len(self.data) - self.offset} unexpected trailing bytes")


def decode_startup(body: bytes):
    """The first packet's body after its length: a StartupMessage, SSLRequest, GSSENCRequest
    or CancelRequest."""
    reader = Reader(body, "startup")
    code = reader.i32()
    if code == SSL_REQUEST_CODE:
        reader.end()
        return SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        reader.end()
        return GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        message = CancelRequest(reader.i32(), reader.i32())
        reader.end()
        return message
    parameters = []
    if code >> 16 == 3:
        while True:
            key = reader.cstr()
            if not key:
                break
            parameters.append((key, reader.cstr()))
        reader.end()
    return StartupMessage(code, tuple(parameters))


def decode_sasl_initial(body: bytes) -> SASLInitialResponse:
    reader = Reader(body, "SASLInitialResponse")
    mechanism = reader.cstr()
    length = reader.i32()
    data = None if length == -1 else reader.raw(length)
    reader.end()
    return SASLInitialResponse(mechanism, data)


def _fast_parse(body: bytes) -> Parse:
    name_end = body.index(b"\x00")
    sql_end = body.index(b"\x00", name_end + 1)
    count = _I16.unpack_from(body, sql_end + 1)[0]
    if count < 0 or len(body) != sql_end + 3 + 4 * count:
        raise ValueError("bad parameter type count")
    return Parse(body[:name_end].decode("utf-8"), body[name_end + 1:sql_end].decode("utf-8"),
                 struct.unpack_from(f">{count}I", body, sql_end + 3))


def _fast_bind(body: bytes) -> Bind:
    portal_end = body.index(b"\x00")
    statement_end = body.index(b"\x00", portal_end + 1)
    offset = statement_end + 1
    count = _I16.unpack_from(body, offset)[0]
    if count < 0:
        raise ValueError("bad format count")
    formats = struct.unpack_from(f">{count}h", body, offset + 2)
    offset += 2 + 2 * count
    count = _I16.unpack_from(body, offset)[0]
    if count < 0:
        raise ValueError("bad parameter count")
    offset += 2
    params: list[bytes | None] = []
    unpack = _I32.unpack_from
    for _ in range(count):
        length = unpack(body, offset)[0]
        offset += 4
        if length == -1:
            params.append(None)
        elif length < -1 or offset + length > len(body):
            raise ValueError("bad parameter length")
        else:
            params.append(body[offset:offset + length])
            offset += length
    count = _I16.unpack_from(body, offset)[0]
    if count < 0 or len(body) != offset + 2 + 2 * count:
        raise ValueError("bad result format count")
    results = struct.unpack_from(f">{count}h", body, offset + 2)
    for code in formats + results:
        if code not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {code}")
    return Bind(body[:portal_end].decode("utf-8"),
                body[portal_end + 1:statement_end].decode("utf-8"), formats, tuple(params),
                results)


def _fast_execute(body: bytes) -> Execute:
    end = body.index(b"\x00")
    if len(body) != end + 5:
        raise ValueError("bad length")
    return Execute(body[:end].decode("utf-8"), _I32.unpack_from(body, end + 1)[0])


def _fast_describe_or_close(body: bytes, cls) -> Describe | Close:
    kind = body[:1]
    if kind not in (b"S", b"P"):
        raise ProtocolViolation(f"invalid {cls.__name__} message subtype {kind!r}")
    if body.index(b"\x00", 1) != len(body) - 1:
        raise ValueError("bad name")
    return cls(kind.decode(), body[1:-1].decode("utf-8"))


_NAMES = {b"P": "Parse", b"B": "Bind", b"E": "Execute", b"D": "Describe", b"C": "Close"}
_SYNC_MESSAGE, _FLUSH_MESSAGE, _TERMINATE_MESSAGE = Sync(), Flush(), Terminate()


def decode_frontend(type_byte: bytes, body: bytes):
    """A message a client sent, from its type byte and body."""
    try:
        if type_byte == b"B":
            return _fast_bind(body)
        if type_byte == b"P":
            return _fast_parse(body)
        if type_byte == b"E":
            return _fast_execute(body)
        if type_byte == b"D":
            return _fast_describe_or_close(body, Describe)
        if type_byte == b"C":
            return _fast_describe_or_close(body, Close)
    except (ValueError, IndexError, struct.error):
        # ValueError includes UnicodeDecodeError and a missing string terminator.
        raise ProtocolViolation(f"invalid {_NAMES[type_byte]} message") from None
    if type_byte in (b"S", b"H", b"X"):
        if body:
            raise ProtocolViolation(f"invalid message {type_byte!r}: it has a body")
        return {b"S": _SYNC_MESSAGE, b"H": _FLUSH_MESSAGE, b"X": _TERMINATE_MESSAGE}[type_byte]
    if type_byte == b"Q":
        reader = Reader(body, "Query")
        message = Query(reader.cstr())
        reader.end()
        return message
    if type_byte == b"p":
        return PasswordData(bytes(body))
    if type_byte in (b"d", b"c", b"f", b"F"):
        return Unsupported(type_byte)
    shown = type_byte.decode("latin-1")
    raise ProtocolViolation(f"invalid frontend message type {ord(type_byte)} ({shown!r})")


def _decode_fields(body: bytes, what: str) -> tuple[tuple[str, str], ...]:
    reader = Reader(body, what)
    fields = []
    while True:
        code = reader.byte()
        if code == "\x00":
            break
        fields.append((code, reader.cstr()))
    reader.end()
    return tuple(fields)


def decode_data_row(body: bytes) -> list[bytes | None]:
    """The column bytes of a DataRow body (None is NULL): the client's per-row hot path."""
    values: list[bytes | None] = []
    append = values.append
    offset = 2
    unpack = _I32.unpack_from
    try:
        for _ in range(_I16.unpack_from(body)[0]):
            length = unpack(body, offset)[0]
            offset += 4
            if length < 0:
                append(None)
            else:
                end = offset + length
                if end > len(body):
                    raise ProtocolViolation("invalid DataRow message: a column is cut off")
                append(body[offset:end])
                offset = end
    except struct.error:
        raise ProtocolViolation("invalid DataRow message: it ends too early") from None
    if offset != len(body):
        raise ProtocolViolation("invalid DataRow message: trailing bytes")
    return values


def decode_backend(type_byte: bytes, body: bytes):
    """A message a server sent, from its type byte and body."""
    reader = Reader(body, f"backend {type_byte!r}")
    if type_byte == b"D":
        return DataRow(tuple(decode_data_row(body)))
    if type_byte == b"R":
        return Authentication(reader.i32(), reader.rest())
    if type_byte == b"S":
        message = ParameterStatus(reader.cstr(), reader.cstr())
    elif type_byte == b"K":
        message = BackendKeyData(reader.i32(), reader.i32())
    elif type_byte == b"Z":
        message = ReadyForQuery(reader.byte())
    elif type_byte == b"T":
        fields = []
        for _ in range(reader.count(19)):
            name = reader.cstr()
            fields.append(FieldDescription(name, reader.u32(), reader.i16(), reader.u32(),
                                           reader.i16(), reader.i32(), reader.i16()))
        message = RowDescription(tuple(fields))
    elif type_byte == b"C":
        message = CommandComplete(reader.cstr())
    elif type_byte == b"E":
        return ErrorResponse(_decode_fields(body, "ErrorResponse"))
    elif type_byte == b"N":
        return NoticeResponse(_decode_fields(body, "NoticeResponse"))
    elif type_byte == b"t":
        message = ParameterDescription(tuple(reader.u32() for _ in range(reader.count(4))))
    elif type_byte == b"v":
        minor = reader.i32()
        names = tuple(reader.cstr() for _ in range(reader.i32()))
        message = NegotiateProtocolVersion(minor, names)
    else:
        simple = {b"I": EmptyQueryResponse, b"1": ParseComplete, b"2": BindComplete,
                  b"3": CloseComplete, b"n": NoData, b"s": PortalSuspended}.get(type_byte)
        if simple is None:
            raise ProtocolViolation(f"unexpected backend message type {type_byte!r}")
        message = simple()
    reader.end()
    return message
