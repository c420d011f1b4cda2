"""The protocol codec without a network: message round trips, framing, type encodings, SQL
lexing and the SQLSTATE mapping. Randomized parts are seeded (PGWIRE_SEED replays one)."""

from __future__ import annotations

import datetime
import math
import os
import random
import struct

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from aurora_lite import errors
from aurora_lite.dbapi._pg import (
    Authentication, BackendKeyData, Bind, BindComplete, CancelRequest, Close, CloseComplete,
    CommandComplete, DataRow, Describe, EmptyQueryResponse, ErrorResponse, Execute,
    FieldDescription, Flush, FrameBuffer, MessageTooLong, NegotiateProtocolVersion, NoData,
    NoticeResponse, ParameterDescription, ParameterStatus, Parse, ParseComplete,
    PortalSuspended, ProtocolViolation, Query, ReadyForQuery, RowDescription, SSLRequest,
    StartupMessage, Sync, Terminate, count_parameters, decode_backend, decode_frontend,
    decode_startup, encode, error_fields, exception_class, exception_from_fields,
    leading_keyword, pgtypes, split_statements, to_numbered,
)

SEED = int(os.environ.get("PGWIRE_SEED", random.randrange(1 << 32)))


@pytest.fixture(autouse=True)
def _print_seed():
    print(f"PGWIRE_SEED={SEED}")


def _split(data: bytes) -> tuple[bytes, bytes]:
    assert struct.unpack(">i", data[1:5])[0] == len(data) - 1
    return data[:1], data[5:]


FRONTEND = [
    Query("select 1; select 'ü'"), Parse("s1", "select $1", (20, 0)), Parse("", "x", ()),
    Bind("p", "s1", (1,), (b"\x00" * 8, None, b""), (0, 1)), Bind("", "", (), (), ()),
    Describe("S", "s1"), Describe("P", ""), Execute("p", 10), Execute("", 0),
    Close("S", "s1"), Close("P", "p"), Sync(), Flush(), Terminate(),
]
BACKEND = [
    Authentication(0), Authentication(10, b"SCRAM-SHA-256\x00\x00"),
    ParameterStatus("server_version", "15.0 (aurora_lite)"), BackendKeyData(1234, -5),
    ReadyForQuery("I"), ReadyForQuery("T"), ReadyForQuery("E"),
    RowDescription((FieldDescription("a", 0, 0, 20, 8, -1, 0),
                    FieldDescription("é", 0, 0, 25, -1, -1, 1))),
    DataRow((b"1", None, b"")), CommandComplete("INSERT 0 1"), EmptyQueryResponse(),
    ErrorResponse((("S", "ERROR"), ("C", "42601"), ("M", "bad"))),
    NoticeResponse((("S", "NOTICE"), ("M", "hi"))), ParseComplete(), BindComplete(),
    CloseComplete(), NoData(), PortalSuspended(), ParameterDescription((20, 25)),
    NegotiateProtocolVersion(0, ("_pq_.x",)),
]


@pytest.mark.parametrize("message", FRONTEND, ids=lambda m: type(m).__name__)
def test_frontend_round_trip(message):
    assert decode_frontend(*_split(encode(message))) == message


@pytest.mark.parametrize("message", BACKEND, ids=lambda m: type(m).__name__)
def test_backend_round_trip(message):
    assert decode_backend(*_split(encode(message))) == message


def test_startup_packets_round_trip():
    for message in (StartupMessage(196608, (("user", "ann"), ("database", "db"))),
                    SSLRequest(), CancelRequest(77, -3)):
        data = encode(message)
        assert struct.unpack(">i", data[:4])[0] == len(data)
        assert decode_startup(data[4:]) == message


_text = st.text(alphabet=st.characters(blacklist_characters="\x00",
                                       blacklist_categories=("Cs",)), max_size=30)


@seed(SEED)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_text, sql=_text, oids=st.lists(st.integers(0, 2**32 - 1), max_size=5),
       params=st.lists(st.one_of(st.none(), st.binary(max_size=20)), max_size=5),
       formats=st.lists(st.sampled_from([0, 1]), max_size=5),
       max_rows=st.integers(-2**31, 2**31 - 1))
def test_random_frontend_messages_round_trip(name, sql, oids, params, formats, max_rows):
    for message in (Parse(name, sql, tuple(oids)),
                    Bind(name, sql, tuple(formats), tuple(params), tuple(formats)),
                    Execute(name, max_rows), Query(sql), Describe("P", name)):
        assert decode_frontend(*_split(encode(message))) == message


@seed(SEED)
@settings(max_examples=300, deadline=None)
@given(type_byte=st.sampled_from(list(b"QPBDECSHXpdcfF")), body=st.binary(max_size=64))
def test_random_bodies_decode_or_raise_protocol_violation(type_byte, body):
    try:
        decode_frontend(bytes([type_byte]), body)
    except ProtocolViolation:
        pass


@seed(SEED)
@settings(max_examples=300, deadline=None)
@given(type_byte=st.sampled_from(list(b"RSKZTDCEINt123nsv")), body=st.binary(max_size=64))
def test_random_backend_bodies_decode_or_raise_protocol_violation(type_byte, body):
    try:
        decode_backend(bytes([type_byte]), body)
    except ProtocolViolation:
        pass


# -- framing -----------------------------------------------------------------------------------
def test_frame_buffer_reassembles_any_split():
    stream = b"".join(encode(message) for message in FRONTEND)
    rng = random.Random(SEED)
    frames = FrameBuffer(1 << 20)
    out = []
    position = 0
    while position < len(stream):
        step = rng.randint(1, 9)
        frames.feed(stream[position:position + step])
        position += step
        while (message := frames.next_message()) is not None:
            out.append(decode_frontend(*message))
    assert out == FRONTEND


def test_frame_buffer_checks_length_before_the_body_arrives():
    frames = FrameBuffer(1024)
    frames.feed(b"Q" + struct.pack(">i", 2_000_000_000))
    with pytest.raises(MessageTooLong) as caught:
        frames.next_message()
    assert caught.value.sqlstate == "54000"
    frames = FrameBuffer(1024)
    frames.feed(b"Q" + struct.pack(">i", 3))
    with pytest.raises(ProtocolViolation):
        frames.next_message()


def test_frame_buffer_startup_limits_and_peek():
    frames = FrameBuffer(1024)
    frames.feed(struct.pack(">i", 100_000))
    with pytest.raises(ProtocolViolation):
        frames.next_startup()
    frames = FrameBuffer(1024)
    frames.feed(encode(Execute("", 0)) + encode(Sync()) + encode(Sync())[:3])
    assert frames.peek_types(5) == [b"E", b"S"]
    assert frames.needed() == 0


# -- types -------------------------------------------------------------------------------------
VALUES = [
    (pgtypes.INT8, [0, 1, -1, 2**63 - 1, -2**63]),
    (pgtypes.INT4, [0, 2**31 - 1, -2**31]),
    (pgtypes.INT2, [0, 32767, -32768]),
    (pgtypes.FLOAT8, [0.0, 1.5, -2.25e-300, 1e300, math.inf, -math.inf, 0.1, 123456789.125]),
    # float4: values binary32 holds exactly (0.1 as binary32 is 0.10000000149011612).
    (pgtypes.FLOAT4, [0.0, 1.5, -2.25, 0.10000000149011612, 3.4028234663852886e38,
                      -1.401298464324817e-45, math.inf, -math.inf]),
    (pgtypes.BOOL, [True, False]),
    (pgtypes.BYTEA, [b"", b"\x00\xff\\x", bytes(range(256))]),
    (pgtypes.TEXT, ["", "hello", "ünïcödé ✓", "a\nb"]),
    (pgtypes.VARCHAR, ["", "varchar", "ünïcödé ✓", "a\nb 'q'"]),
    (pgtypes.DATE, [datetime.date(2000, 1, 1), datetime.date(1, 1, 1),
                    datetime.date(9999, 12, 31), datetime.date(2024, 2, 29)]),
    (pgtypes.TIMESTAMP, [datetime.datetime(2000, 1, 1), datetime.datetime(1999, 12, 31, 23, 59,
                                                                         59, 999999),
                         datetime.datetime(2024, 2, 29, 12, 0, 0, 120000),
                         datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59)]),
]


@pytest.mark.parametrize("format_code", [0, 1])
@pytest.mark.parametrize("oid,values", VALUES, ids=lambda x: str(x) if isinstance(x, int)
                         else "")
def test_type_round_trip(oid, values, format_code):
    encode_value = pgtypes.encoder(oid, format_code)
    decode_value = pgtypes.decoder(oid, format_code)
    for value in values:
        assert decode_value(encode_value(value)) == value


def test_nan_round_trips():
    for oid in (pgtypes.FLOAT8, pgtypes.FLOAT4):
        for format_code in (0, 1):
            data = pgtypes.encoder(oid, format_code)(math.nan)
            assert math.isnan(pgtypes.decoder(oid, format_code)(data))


def test_float4_text_reads_as_binary32_like_the_binary_form():
    # PostgreSQL's float4in rounds to binary32: a text and a binary float4 parameter agree.
    for text in (b"0.1", b"1.1", b"-3.3e-7", b"16777217", b"3.4028235e38"):
        binary = struct.pack(">f", float(text))
        assert pgtypes.decoder(pgtypes.FLOAT4)(text) == \
            pgtypes.decoder(pgtypes.FLOAT4, 1)(binary) == struct.unpack(">f", binary)[0]
    assert pgtypes.decoder(pgtypes.FLOAT4)(b"0.1") != 0.1
    assert pgtypes.decoder(pgtypes.FLOAT4, 1)(b"\x3f\xc0\x00\x00") == 1.5
    assert pgtypes.encoder(pgtypes.FLOAT4, 1)(1.5) == b"\x3f\xc0\x00\x00"
    assert pgtypes.decoder(pgtypes.VARCHAR, 1)("ü".encode()) == "ü"


@seed(SEED)
@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_float_text_is_shortest_round_trip(value):
    text = pgtypes.format_float(value)
    assert float(text) == value
    assert not text.endswith(".0")


def test_float_text_matches_postgresql():
    cases = {1.0: "1", 0.5: "0.5", 100.0: "100", 1e15: "1e+15", 1e14: "100000000000000",
             0.0001: "0.0001", 1e-05: "1e-05", -1.5: "-1.5", 1.2345678901234566e17:
             "1.2345678901234566e+17", math.inf: "Infinity", -0.0: "-0"}
    for value, text in cases.items():
        assert pgtypes.format_float(value) == text


def test_text_encodings_match_postgresql():
    assert pgtypes.encoder(pgtypes.BOOL)(True) == b"t"
    assert pgtypes.encoder(pgtypes.BYTEA)(b"\x01\xab") == b"\\x01ab"
    assert pgtypes.encoder(pgtypes.TIMESTAMP)(datetime.datetime(2024, 1, 2, 3, 4, 5, 60000)) \
        == b"2024-01-02 03:04:05.06"
    assert pgtypes.encoder(pgtypes.TIMESTAMP)(datetime.datetime(2024, 1, 2)) == \
        b"2024-01-02 00:00:00"
    assert pgtypes.encoder(pgtypes.DATE, 1)(datetime.date(2000, 1, 2)) == b"\x00\x00\x00\x01"


def test_decoders_accept_postgresql_spellings():
    assert pgtypes.decoder(pgtypes.BOOL)(b" TRUE ") is True
    assert pgtypes.decoder(pgtypes.BOOL)(b"off") is False
    assert pgtypes.decoder(pgtypes.BYTEA)(b"a\\\\b\\001") == b"a\\b\x01"
    assert pgtypes.decoder(pgtypes.TIMESTAMPTZ)(b"2024-01-01 02:00:00+02") == \
        datetime.datetime(2024, 1, 1)
    assert pgtypes.decoder(pgtypes.FLOAT8)(b"-Infinity") == -math.inf
    assert pgtypes.decoder(pgtypes.NUMERIC)(b"12") == 12
    assert pgtypes.decoder(pgtypes.NUMERIC)(b"1.25") == 1.25
    assert pgtypes.decoder(0)(b"abc") == "abc"
    # numeric_send of -12345.678 (dscale 3): digits 1 2345 6780, weight 1
    binary = struct.pack(">hhHH3h", 3, 1, 0x4000, 3, 1, 2345, 6780)
    assert pgtypes.decoder(pgtypes.NUMERIC, 1)(binary) == -12345.678
    assert pgtypes.decoder(pgtypes.NUMERIC, 1)(struct.pack(">hhHH2h", 2, 1, 0, 0, 12, 0)) \
        == 120000


@pytest.mark.parametrize("oid,data,state", [
    (pgtypes.INT8, b"12x", "22P02"), (pgtypes.INT2, b"40000", "22003"),
    (pgtypes.BOOL, b"maybe", "22P02"), (pgtypes.DATE, b"2024-13-01", "22P02"),
    (pgtypes.FLOAT8, b"1_0", "22P02"), (pgtypes.TEXT, b"\xff", "22021"),
    (pgtypes.BYTEA, b"\\xzz", "22P02"), (pgtypes.FLOAT4, b"1e39", "22003"),
    (pgtypes.FLOAT4, b"1e-50", "22003"), (pgtypes.FLOAT4, b"one", "22P02"),
    (pgtypes.VARCHAR, b"\xc3", "22021"),
])
def test_bad_text_values(oid, data, state):
    with pytest.raises(errors.DataError) as caught:
        pgtypes.decoder(oid)(data)
    assert caught.value.sqlstate == state


@pytest.mark.parametrize("oid,data", [(pgtypes.INT8, b"\x00" * 7), (pgtypes.BOOL, b""),
                                      (pgtypes.FLOAT8, b"\x00" * 4),
                                      (pgtypes.FLOAT4, b"\x00" * 8),
                                      (pgtypes.NUMERIC, b"\x00\x05")])
def test_bad_binary_values(oid, data):
    with pytest.raises(errors.DataError) as caught:
        pgtypes.decoder(oid, 1)(data)
    assert caught.value.sqlstate == "22P03"


def test_type_names_and_oids():
    assert pgtypes.oid_for_type_name("integer") == 20
    assert pgtypes.oid_for_type_name("double precision") == 701
    assert pgtypes.oid_for_type_name("text") == 25
    assert pgtypes.oid_for_type_name("boolean") == 16
    assert pgtypes.oid_for_type_name("bytea") == 17
    assert pgtypes.oid_for_type_name("date") == 1082
    assert pgtypes.oid_for_type_name("timestamp") == 1114
    assert pgtypes.oid_for_type_name(None) == 25
    for oid in (20, 701, 25, 16, 17, 1082, 1114):
        assert pgtypes.oid_for_type_name(pgtypes.type_name_for_oid(oid)) == oid


# -- SQL text ----------------------------------------------------------------------------------
def test_split_statements_respects_quotes_and_comments():
    sql = ("select 'a;b'; select \"x;y\" -- c;\n; /* a; /* nested; */ b; */ select $$;$$;"
           "select E'\\';'; ;  ")
    parts = split_statements(sql)
    assert [text for _, text in parts] == [
        "select 'a;b'", 'select "x;y" -- c;', "select $$;$$",
        "select E'\\';'"]
    for offset, text in parts:
        assert sql[offset:offset + len(text)] == text
    assert split_statements(" ; -- nothing\n") == []


def test_leading_keyword_and_parameters():
    assert leading_keyword("  /* x */ -- y\n begin;") == "BEGIN"
    assert leading_keyword("(select 1)") == ""
    assert count_parameters("select $1, '$5', $12 -- $40") == 12


def test_to_numbered_rewrites_placeholders():
    assert to_numbered("select ?, '?', ?", (1, 2)) == ("select $1, '?', $2", [1, 2])
    assert to_numbered("select :a, :b::int, :a", {"a": 1, "b": 2, "c": 3}) == \
        ("select $1, $2::int, $1", [1, 2])
    assert to_numbered("select $2, $1", (1, 2)) == ("select $2, $1", [1, 2])
    assert to_numbered("select 1", None) == ("select 1", [])
    for sql, params in (("select ?", ()), ("select ?", (1, 2)), ("select :x", {"y": 1}),
                        ("select $1, ?", (1, 2)), ("select ?", {"a": 1})):
        with pytest.raises(errors.ProgrammingError):
            to_numbered(sql, params)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("state,cls", [
    ("23505", errors.IntegrityError), ("42P01", errors.ProgrammingError),
    ("22012", errors.DataError), ("0A000", errors.NotSupportedError),
    ("08006", errors.OperationalError), ("57014", errors.QueryCanceledError),
    ("53300", errors.OperationalError), ("58030", errors.OperationalError),
    ("25006", errors.ReadOnlyError), ("40001", errors.OperationalError),
    ("25P02", errors.InternalError), ("XX000", errors.InternalError),
    ("XX001", errors.CorruptionError), ("ZZ999", errors.DatabaseError),
])
def test_sqlstate_classes(state, cls):
    assert exception_class(state) is cls


def test_error_fields_round_trip():
    error = errors.ProgrammingError('relation "t" does not exist', sqlstate="42P01",
                                    position=15)
    fields = error_fields(error, position_offset=10)
    assert dict(fields) == {"S": "ERROR", "V": "ERROR", "C": "42P01",
                            "M": 'relation "t" does not exist', "P": "25"}
    back = exception_from_fields(dict(fields))
    assert type(back) is errors.ProgrammingError
    assert (back.sqlstate, back.position, back.message) == ("42P01", 25, error.message)
    assert dict(error_fields(ValueError("secret")))["M"] == "internal error: ValueError"
