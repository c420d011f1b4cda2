"""Golden bytes of every wire message (docs/formats/wire.md), the handshake MACs, and the
messages added for gossip and rebuilding (GET_STATE, FETCH_PAGES, PAGES)."""

from __future__ import annotations

import hashlib
import pathlib
import random

import pytest

from aurora_lite.wire import (
    MESSAGES, NO_MORE_PAGES, Auth, AuthOk, Challenge, Error, ErrorCode, Fence, FetchPages,
    FetchRecords, FrameReader, GetPage, GetState, MessageType, Ok, Page, Pages, PgState,
    ProtocolError, Records, Role, Section, SegmentState, SetHorizon, Status, StatusReply,
    Truncate, WriteAck, WriteBatch, decode_message, encode_frame, verify_client,
    verify_server,
)

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "formats" / "wire.md"
CID = bytes.fromhex("3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b")

GOLDEN = [
    (Error(ErrorCode.STALE_EPOCH, "epoch 3 < 4"),
     "415701010d00000007000000152de59b010065706f63682033203c2034"),
    (Challenge(b"\x11" * 32, 3, CID),
     "415701023400000007000000ce8641a9" + "11" * 32 + "03000000" + CID.hex()),
    (Auth(b"\x22" * 32, Role.WRITER, 0, b"\x33" * 32),
     "41570103450000000700000000dadcad" + "22" * 32 + "0100000000" + "33" * 32),
    (AuthOk(b"\x44" * 32), "41570104200000000700000029218c3c" + "44" * 32),
    (WriteBatch(5, (Section(0, 100, 102, b"\xaa\xbb"), Section(1, 100, 102, b""))),
     "4157010a3c0000000700000019671d6e050000000000000002000000000064000000000000006600000000"
     "00000002000000aabb010000006400000000000000660000000000000000000000"),
    (WriteAck(((0, 102), (1, 102))),
     "4157010b1a00000007000000c5d683b40200000000006600000000000000010000006600000000000000"),
    (GetPage(5, 1, 4100, 102),
     "4157010c180000000700000065ff6d12050000000000000001000000041000006600000000000000"),
    (Fence(6), "4157010e0800000007000000a9ca4d3f0600000000000000"),
    (SegmentState(6, (PgState(0, 102, 103, 99, 101, 4, 90, 80),)),
     "4157010f46000000070000006328303e06000000000000000100000000006600000000000000670000000000"
     "00006300000000000000650000000000000004000000000000005a000000000000005000000000000000"),
    (Truncate(6, 99), "415701101000000007000000ce72c4a906000000000000006300000000000000"),
    (Ok(), "41570111000000000700000000000000"),
    (SetHorizon(6, 80), "4157011210000000070000008a99f6fb06000000000000005000000000000000"),
    (FetchRecords(6, 1, 80, 102, 1 << 20),
     "415701132000000007000000ebdad5e4060000000000000001000000500000000000000066000000000000"
     "0000001000"),
    (Records(1, 80, 102, b"\xcc"),
     "415701141500000007000000cba270170100000050000000000000006600000000000000cc"),
    (Status(), "41570115000000000700000000000000"),
    (StatusReply('{"node_id": 3}'), "415701160e00000007000000d448f9247b226e6f64655f6964223a20337d"),
    (GetState(6), "415701170800000007000000a9ca4d3f0600000000000000"),
    (FetchPages(6, 1, 4096, 64),
     "415701181400000007000000c116c1090600000000000000010000000010000040000000"),
]
BIG = [
    (Page(4100, 102, bytes(16384)),
     "4157010d0c40000007000000ca3a5d7f041000006600000000000000",
     "aac750c7303ab20439e56f07aac9da313c1227631ddfce453b1034f7252682cb"),
    (Pages(1, 80, 79, 60, NO_MORE_PAGES, (bytes(16384),)),
     "4157011924400000070000009c0406b80100000050000000000000004f000000000000003c00000000000000"
     "ffffffff01000000",
     "b1a806a6de930defd096490971d4d2d8f710272f1261c3c59d5e806299f89729"),
]


def frame(message) -> bytes:
    return encode_frame(message.TYPE, message.encode(), 7)


def test_every_message_type_has_golden_bytes():
    covered = {type(m) for m, _ in GOLDEN} | {type(m) for m, *_ in BIG}
    assert covered == set(MESSAGES.values())
    assert {int(t) for t in MessageType} == {int(cls.TYPE) for cls in MESSAGES.values()}


@pytest.mark.parametrize("message, golden", GOLDEN, ids=lambda v: type(v).__name__)
def test_golden_frames(message, golden):
    assert frame(message).hex() == golden
    ((message_type, request_id, payload),) = FrameReader().feed(bytes.fromhex(golden))
    assert (message_type, request_id) == (message.TYPE, 7)
    assert decode_message(message_type, payload) == message


@pytest.mark.parametrize("message, head, digest", BIG, ids=lambda v: type(v).__name__)
def test_golden_big_frames(message, head, digest):
    data = frame(message)
    assert data.hex().startswith(head)
    assert hashlib.sha256(data).hexdigest() == digest
    ((message_type, _rid, payload),) = FrameReader().feed(data)
    assert decode_message(message_type, payload) == message


def test_the_doc_shows_the_golden_headers():
    text = DOC.read_text().replace("\n", " ")
    for message, golden in GOLDEN:
        header = " ".join(golden[i:i + 8] for i in range(0, 32, 8))
        assert header in text, f"{type(message).__name__}: {header} not in wire.md"
    for code in ErrorCode:
        assert f"| {int(code)} | {code.name} |" in text
    for message_type in MessageType:
        assert f"| {int(message_type)} | {message_type.name} |" in text


def test_handshake_macs():
    secret = bytes(range(32))
    challenge = Challenge(b"\x11" * 32, 3, CID)
    client_mac = bytes.fromhex("a39b0e80dfcd1cdaf49b8354f1adbbb47fcad1c0c455402e575127ef06424161")
    server_mac = bytes.fromhex("d5e7485812cad0f56ff295e6eac81192d7673f33cc7f577e5f0ff88d06924065")
    auth = Auth(b"\x22" * 32, Role.WRITER, 0, client_mac)
    assert verify_client(secret, challenge, auth) == AuthOk(server_mac)
    verify_server(secret, challenge, auth, AuthOk(server_mac))
    # The role and the node id are bound into the MAC.
    with pytest.raises(ProtocolError):
        verify_client(secret, challenge, Auth(b"\x22" * 32, Role.PEER, 0, client_mac))
    with pytest.raises(ProtocolError):
        verify_client(secret, challenge, Auth(b"\x22" * 32, Role.WRITER, 1, client_mac))


def test_new_messages_refuse_malformed_payloads():
    seed = 5
    print("seed", seed)
    rng = random.Random(seed)
    samples = [GetState(1), FetchPages(1, 2, 3, 4),
               Pages(1, 2, 3, 4, 5, (bytes(16384), bytes(16384)))]
    for sample in samples:
        payload = sample.encode()
        for cut in (0, 1, len(payload) - 1):
            with pytest.raises(ProtocolError):
                decode_message(sample.TYPE, payload[:cut])
        with pytest.raises(ProtocolError):
            decode_message(sample.TYPE, payload + b"\0")
        for _ in range(20):
            mutated = bytearray(payload)
            mutated[rng.randrange(len(mutated))] ^= 0xFF
            try:
                decode_message(sample.TYPE, bytes(mutated))
            except ProtocolError:
                pass
    # A count that promises more images than the payload holds is refused before reading.
    lying = bytearray(samples[2].encode())
    lying[32:36] = (1 << 30).to_bytes(4, "little")
    with pytest.raises(ProtocolError, match="truncated"):
        decode_message(MessageType.PAGES, bytes(lying))
    with pytest.raises(ProtocolError):
        Pages(1, 2, 3, 4, 5, (b"short",)).encode()
