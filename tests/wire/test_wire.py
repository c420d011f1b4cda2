"""Wire frames and messages: golden bytes, round trips, malformed input, authentication."""

from __future__ import annotations

import random

import pytest

from aurora_lite.wire import (
    MAX_FRAME, MESSAGES, Auth, AuthOk, Challenge, Error, ErrorCode, Fence, FetchRecords,
    FrameReader, GetPage, MessageType, Ok, Page, PgState, ProtocolError, Records, Role, Section,
    SegmentState, SetHorizon, Status, StatusReply, Truncate, WriteAck, WriteBatch, answer,
    GetState, FetchPages, Pages, NO_MORE_PAGES,
    decode_header, decode_message, encode_frame, new_challenge, new_secret, verify_client,
    verify_server,
)

SAMPLES = [
    Error(ErrorCode.STALE_EPOCH, "epoch 3 is older than 4"),
    Challenge(b"n" * 32, 2, b"c" * 16),
    Auth(b"m" * 32, Role.WRITER, 0, b"h" * 32),
    AuthOk(b"k" * 32),
    WriteBatch(7, (Section(0, 10, 12, b"abc"), Section(1, 10, 12, b""))),
    WriteAck(((0, 12), (1, 12))),
    GetPage(7, 0, 5, 12),
    Page(5, 12, bytes(16384)),
    Fence(8),
    SegmentState(8, (PgState(0, 12, 13, 11, 12, 8, 9, 5),)),
    Truncate(8, 11),
    Ok(),
    SetHorizon(8, 11),
    FetchRecords(8, 0, 5, 12, 1 << 20),
    Records(0, 5, 12, b"xyz"),
    Status(),
    StatusReply('{"node": 1}'),
    GetState(8),
    FetchPages(8, 0, 0, 64),
    Pages(0, 5, 4, 3, NO_MORE_PAGES, (bytes(16384),)),
]


def test_every_message_type_has_a_sample():
    assert {type(sample) for sample in SAMPLES} == set(MESSAGES.values())


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message):
    frame = encode_frame(message.TYPE, message.encode(), request_id=42)
    frames = FrameReader().feed(frame)
    assert len(frames) == 1
    message_type, request_id, payload = frames[0]
    assert (message_type, request_id) == (message.TYPE, 42)
    assert decode_message(message_type, payload) == message


def test_golden_frame():
    frame = encode_frame(MessageType.WRITE_ACK, WriteAck(((0, 12),)).encode(), request_id=7)
    assert frame.hex(" ") == ("41 57 01 0b 0e 00 00 00 07 00 00 00 00 e4 4a 41 "
                              "01 00 00 00 00 00 0c 00 00 00 00 00 00 00")


def test_frames_split_anywhere():
    stream = b"".join(encode_frame(m.TYPE, m.encode(), i) for i, m in enumerate(SAMPLES))
    rng = random.Random(3)
    reader = FrameReader()
    got = []
    position = 0
    while position < len(stream):
        step = rng.randrange(1, 300)
        got.extend(reader.feed(stream[position:position + step]))
        position += step
    assert [decode_message(t, p) for t, _r, p in got] == SAMPLES


def test_bad_frames_are_refused():
    good = encode_frame(MessageType.OK, b"")
    with pytest.raises(ProtocolError):
        FrameReader().feed(b"XX" + good[2:])
    corrupted = bytearray(encode_frame(MessageType.STATUS_REPLY, b"{}"))
    corrupted[-1] ^= 1
    with pytest.raises(ProtocolError):
        FrameReader().feed(bytes(corrupted))
    header = bytearray(good[:16])
    header[4:8] = (MAX_FRAME + 1).to_bytes(4, "little")
    with pytest.raises(ProtocolError):
        decode_header(bytes(header))


def test_malformed_payloads_raise_protocol_error():
    seed = 11
    print("seed", seed)
    rng = random.Random(seed)
    for sample in SAMPLES:
        payload = sample.encode()
        for _ in range(30):
            mutated = bytearray(payload)
            choice = rng.random()
            if choice < 0.4 and mutated:
                del mutated[rng.randrange(len(mutated)):]
            elif choice < 0.7:
                mutated += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
            elif mutated:
                mutated[rng.randrange(len(mutated))] ^= 0xFF
            try:
                decode_message(sample.TYPE, bytes(mutated))
            except ProtocolError:
                pass
    with pytest.raises(ProtocolError):
        decode_message(99, b"")


def test_mutual_authentication():
    secret = new_secret()
    challenge = new_challenge(3, b"c" * 16)
    auth = answer(secret, challenge, Role.WRITER)
    ok = verify_client(secret, challenge, auth)
    verify_server(secret, challenge, auth, ok)
    with pytest.raises(ProtocolError):
        verify_client(new_secret(), challenge, auth)
    with pytest.raises(ProtocolError):
        verify_server(secret, challenge, auth, AuthOk(b"\0" * 32))
    # A MAC for one challenge does not answer another (no replay).
    with pytest.raises(ProtocolError):
        verify_client(secret, new_challenge(3, b"c" * 16), auth)
