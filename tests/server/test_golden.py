"""Golden bytes of protocol messages: the codec must produce them, docs/formats/pgwire.md must
show them (so the document and the code cannot drift apart)."""

from __future__ import annotations

import pathlib

import pytest

from aurora_lite.dbapi._pg import (
    Authentication, BackendKeyData, Bind, CommandComplete, DataRow, ErrorResponse, Execute,
    FieldDescription, Parse, Query, ReadyForQuery, RowDescription, SSLRequest, StartupMessage,
    Sync, decode_backend, decode_frontend, decode_startup, encode,
)

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "formats" / "pgwire.md"

GOLDEN = [
    (StartupMessage(196608, (("user", "ann"), ("database", "db"))),
     "00 00 00 1e 00 03 00 00 75 73 65 72 00 61 6e 6e 00 64 61 74 61 62 61 73 65 00 64 62 00 00"),
    (SSLRequest(), "00 00 00 08 04 d2 16 2f"),
    (Query("select 1"), "51 00 00 00 0d 73 65 6c 65 63 74 20 31 00"),
    (Parse("", "select $1", (20,)),
     "50 00 00 00 15 00 73 65 6c 65 63 74 20 24 31 00 00 01 00 00 00 14"),
    (Bind("", "", (1,), (b"\x00" * 7 + b"\x2a",), (1,)),
     "42 00 00 00 1c 00 00 00 01 00 01 00 01 00 00 00 08 00 00 00 00 00 00 00 2a 00 01 00 01"),
    (Execute("", 0), "45 00 00 00 09 00 00 00 00 00"),
    (Sync(), "53 00 00 00 04"),
    (Authentication(10, b"SCRAM-SHA-256\x00\x00"),
     "52 00 00 00 17 00 00 00 0a 53 43 52 41 4d 2d 53 48 41 2d 32 35 36 00 00"),
    (BackendKeyData(1234, 5678), "4b 00 00 00 0c 00 00 04 d2 00 00 16 2e"),
    (ReadyForQuery("I"), "5a 00 00 00 05 49"),
    (RowDescription((FieldDescription("id", 0, 0, 20, 8, -1, 0),)),
     "54 00 00 00 1b 00 01 69 64 00 00 00 00 00 00 00 00 00 00 14 00 08 ff ff ff ff 00 00"),
    (DataRow((b"42", None)), "44 00 00 00 10 00 02 00 00 00 02 34 32 ff ff ff ff"),
    (CommandComplete("SELECT 1"), "43 00 00 00 0d 53 45 4c 45 43 54 20 31 00"),
    (ErrorResponse((("S", "ERROR"), ("V", "ERROR"), ("C", "23505"), ("M", "dup"))),
     "45 00 00 00 1f 53 45 52 52 4f 52 00 56 45 52 52 4f 52 00 43 32 33 35 30 35 00 4d 64 75 70"
     " 00 00"),
]


@pytest.mark.parametrize("message,golden", GOLDEN, ids=lambda x: type(x).__name__)
def test_golden_bytes(message, golden):
    data = encode(message)
    assert data.hex(" ") == golden
    if isinstance(message, (StartupMessage, SSLRequest)):
        assert decode_startup(data[4:]) == message
    elif isinstance(message, (Query, Parse, Bind, Execute, Sync)):
        assert decode_frontend(data[:1], data[5:]) == message
    else:
        assert decode_backend(data[:1], data[5:]) == message


def test_document_shows_the_golden_bytes():
    text = DOC.read_text()
    for _, golden in GOLDEN:
        assert golden in text, f"docs/formats/pgwire.md lacks {golden}"
