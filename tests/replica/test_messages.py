"""Golden bytes of the replication messages (docs/formats/replication.md, Invariant 8),
round trips, and malformed payloads refused with ProtocolError."""

from __future__ import annotations

import pathlib

import pytest

from aurora_lite.replica import (
    REPLICATION_MESSAGES, Feedback, Heartbeat, Promote, Promoted, ReadPoint, Redo,
    ReplicationType, Resync, StartMode, StreamStart, Subscribe, decode_replication,
)
from aurora_lite.wire import FrameReader, MessageType, ProtocolError, Status, encode_frame

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "formats" / "replication.md"
T0 = 1_700_000_000_000_000

GOLDEN = [
    (Subscribe(3, 1200, 1180, "r1"),
     "4157011e1a0000000700000025d90479",
     "0300000000000000 b004000000000000 9c04000000000000 7231"),
    (StreamStart(3, 1180, 1180, 7, T0, StartMode.FRESH),
     "4157011f2900000007000000c2681be2",
     "0300000000000000 9c04000000000000 9c04000000000000 0700000000000000 00401e18240a0600 00"),
    (Redo(1203, b"\xaa\xbb"),
     "415701200a00000007000000e89cac99", "b304000000000000 aabb"),
    (ReadPoint(1203, 7, T0 + 123),
     "41570121180000000700000067cb1eb8",
     "b304000000000000 0700000000000000 7b401e18240a0600"),
    (Heartbeat(3, 1203, 1203, 7, T0 + 123, 1205, T0 + 50_000),
     "415701223800000007000000f46bc01f",
     "0300000000000000 b304000000000000 b304000000000000 0700000000000000 7b401e18240a0600 "
     "b504000000000000 50031f18240a0600"),
    (Feedback(1203, 1180, 1205, 2500),
     "41570123200000000700000088f33bae",
     "b304000000000000 9c04000000000000 b504000000000000 c409000000000000"),
    (Resync(3, "behind"),
     "415701240e0000000700000076675ecd", "0300000000000000 626568696e64"),
    (Promote(30000), "41570125040000000700000052de3a1b", "30750000"),
    (Promoted('{"epoch": 4}'), "415701260c00000007000000e90dab2a", "7b2265706f6368223a20347d"),
]


@pytest.mark.parametrize("message, header, payload", GOLDEN,
                         ids=[type(m).__name__ for m, _h, _p in GOLDEN])
def test_golden_frames(message, header, payload):
    frame = encode_frame(message.TYPE, message.encode(), 7)
    assert frame.hex() == header + payload.replace(" ", "")
    [(message_type, request_id, body)] = FrameReader().feed(frame)
    assert (message_type, request_id) == (message.TYPE, 7)
    assert decode_replication(message_type, body) == message


def test_the_format_doc_shows_every_golden_frame():
    text = DOC.read_text(encoding="utf-8").replace("\n", " ")
    for message, header, payload in GOLDEN:
        shown = f"{header[:8]} {header[8:16]} {header[16:24]} {header[24:]} | {payload}"
        assert shown in text, f"{type(message).__name__}: {shown} missing from {DOC.name}"


def test_types_are_fixed_and_inside_the_reserved_range():
    assert {t.name: int(t) for t in ReplicationType} == {
        "SUBSCRIBE": 30, "STREAM_START": 31, "REDO": 32, "READ_POINT": 33, "HEARTBEAT": 34,
        "FEEDBACK": 35, "RESYNC": 36, "PROMOTE": 37, "PROMOTED": 38}
    assert set(REPLICATION_MESSAGES) == set(ReplicationType)
    assert not {int(t) for t in ReplicationType} & {int(t) for t in MessageType}


def test_shared_messages_decode_through_the_wire_package():
    assert decode_replication(MessageType.STATUS, b"") == Status()


@pytest.mark.parametrize("message_type, payload", [
    (ReplicationType.SUBSCRIBE, b"\x00" * 23),
    (ReplicationType.STREAM_START, b"\x00" * 40),
    (ReplicationType.STREAM_START, b"\x00" * 40 + b"\x09"),      # unknown mode
    (ReplicationType.STREAM_START, b"\x00" * 42),                # trailing byte
    (ReplicationType.REDO, b"\x00" * 7),
    (ReplicationType.READ_POINT, b"\x00" * 25),
    (ReplicationType.HEARTBEAT, b"\x00" * 55),
    (ReplicationType.FEEDBACK, b"\x00" * 31),
    (ReplicationType.RESYNC, b""),
    (ReplicationType.PROMOTE, b"\x00" * 5),
    (ReplicationType.PROMOTED, b"\xff\xfe"),
    (39, b""),                                                   # reserved, not defined
])
def test_malformed_payloads_are_protocol_errors(message_type, payload):
    with pytest.raises(ProtocolError):
        decode_replication(message_type, payload)
