"""Golden bytes of the page-shipping messages (wire types 50-53) and of the page file
(docs/formats/pageship.md), their decoders' checks, and the page file's recovery and refusals."""

from __future__ import annotations

import hashlib
import os

import pytest

from aurora_lite.errors import StaleEpochError
from aurora_lite.segment._pagefile import (
    FILE_HEADER, FILE_NAME, MAGIC, VERSION, PageFile, PageFileGap, encode_entry,
)
from aurora_lite.wire import (
    MESSAGES, FrameReader, GetShippedPage, PageWrite, PageWriteAck, ProtocolError, ShippedPage,
    decode_message, encode_frame,
)

IMAGE = bytes(range(256)) * 64          # 16384 bytes


def frame(message, request_id: int = 9) -> bytes:
    return encode_frame(message.TYPE, message.encode(), request_id)


def test_page_write_golden():
    data = frame(PageWrite(3, 100, 100, 102, b"\xaa\xbb\xcc", ((7, IMAGE),)))
    assert data[:16 + 40 + 3 + 4].hex() == (
        "415701322f40000009000000fe666efa"             # frame: type 50, 16431 bytes
        "0300000000000000" "6400000000000000"          # epoch 3, base_lsn 100
        "6400000000000000" "6600000000000000"          # start_lsn 100, end_lsn 102
        "03000000" "01000000" "aabbcc"                 # log_length 3, page_count 1, log
        "07000000")                                    # page_id 7, then the image
    assert len(data) == 16 + 40 + 3 + 4 + 16384
    assert hashlib.sha256(data).hexdigest() == \
        "9ddb9a59952600404d818f1a24a07e837676aec17414563aef2a04ed6deefb78"


@pytest.mark.parametrize("message, golden", [
    (PageWriteAck(102), "41570133080000000900000002644d286600000000000000"),
    (GetShippedPage(3, 7), "415701340c00000009000000c771f261030000000000000007000000"),
    (ShippedPage(7, 0, None), "415701350d00000009000000df0c652e07000000000000000000000000"),
])
def test_small_messages_golden(message, golden):
    assert frame(message).hex() == golden


def test_shipped_page_golden():
    data = frame(ShippedPage(7, 102, IMAGE))
    assert data[:29].hex() == "415701350d400000090000005c00bc8607000000660000000000000001"
    assert hashlib.sha256(data).hexdigest() == \
        "452884d1b44b998d9c72ab6d6701f2355a248b0b757dad11a4be36c6e998208f"


@pytest.mark.parametrize("message", [
    PageWrite(3, 100, 100, 102, b"\xaa", ((7, IMAGE), (9, bytes(16384)))),
    PageWrite(1, 0, 0, 0, b"", ()),
    PageWriteAck(5), GetShippedPage(2, 11), ShippedPage(11, 5, IMAGE), ShippedPage(1, 0, None),
])
def test_round_trip_through_frames(message):
    [(message_type, request_id, payload)] = FrameReader().feed(frame(message, 77))
    assert request_id == 77 and decode_message(message_type, payload) == message


def test_page_shipping_stays_out_of_the_redo_protocol_table():
    assert not {50, 51, 52, 53} & set(MESSAGES)


def test_malformed_payloads_are_protocol_errors():
    payload = PageWrite(3, 100, 100, 102, b"ab", ((7, IMAGE),)).encode()
    with pytest.raises(ProtocolError):
        decode_message(50, payload[:-1])                       # truncated image
    with pytest.raises(ProtocolError):
        decode_message(50, payload + b"\0")                    # trailing bytes
    with pytest.raises(ProtocolError):
        decode_message(50, PageWrite(3, 100, 100, 102, b"", ()).encode()[:39])
    with pytest.raises(ProtocolError):                         # start above end
        decode_message(50, PageWrite(3, 100, 103, 102, b"", ()).encode())
    with pytest.raises(ProtocolError):
        PageWrite(3, 0, 0, 1, b"", ((1, b"short"),)).encode()
    with pytest.raises(ProtocolError):
        decode_message(53, ShippedPage(7, 1, None).encode()[:-1] + b"\x02")


def test_page_file_golden(tmp_path):
    page_file = PageFile(tmp_path)
    page_file.open()
    page_file.append(PageWrite(3, 100, 100, 102, b"\xaa\xbb\xcc", ()))
    page_file.close()
    data = (tmp_path / FILE_NAME).read_bytes()
    assert FILE_HEADER.pack(MAGIC, VERSION, 0).hex() == "4150534601000000"
    assert data.hex() == (
        "4150534601000000"                                       # b"APSF", version 1
        "b18cee32" "2b000000"                                    # crc, body length 43
        "0300000000000000640000000000000064000000000000006600000000000000"
        "0300000000000000aabbcc")                                # the PAGE_WRITE payload
    body = data[16:]
    assert encode_entry(body) == data[8:]


def write(epoch, base, start, end, pages):
    return PageWrite(epoch, base, start, end, b"log",
                     tuple((page_id, bytes([fill]) * 16384) for page_id, fill in pages))


def test_page_file_recovers_index_and_cuts_a_torn_tail(tmp_path):
    page_file = PageFile(tmp_path)
    page_file.open()
    page_file.append(write(1, 0, 0, 10, [(1, 1), (2, 2)]))
    page_file.append(write(1, 0, 10, 20, [(2, 3)]))
    assert page_file.sync() == 20
    size = page_file.size
    page_file.append(write(1, 0, 20, 30, [(1, 4)]))
    page_file.close()
    os.truncate(tmp_path / FILE_NAME, size + 100)               # the last entry is torn
    reopened = PageFile(tmp_path)
    reopened.open()
    assert reopened.size == size and reopened.durable_lsn == 20
    assert reopened.counters["torn_bytes_cut"] == 100
    assert reopened.read(1).image == b"\x01" * 16384
    assert reopened.read(2) == ShippedPage(2, 20, b"\x03" * 16384)
    assert reopened.read(5) == ShippedPage(5, 0, None)
    assert os.path.getsize(tmp_path / FILE_NAME) == size
    reopened.close()


def test_page_file_refuses_old_epochs_and_gaps(tmp_path):
    page_file = PageFile(tmp_path)
    page_file.open()
    with pytest.raises(PageFileGap):
        page_file.append(write(2, 50, 60, 70, [(1, 1)]))       # not the epoch's first write
    page_file.append(write(2, 50, 50, 70, [(1, 1)]))
    with pytest.raises(PageFileGap):
        page_file.append(write(2, 50, 80, 90, [(1, 1)]))       # missed (70, 80]
    page_file.append(write(2, 50, 70, 90, [(1, 2)]))
    with pytest.raises(StaleEpochError):
        page_file.append(write(1, 0, 0, 100, [(1, 3)]))
    page_file.append(write(3, 60, 60, 65, [(1, 4)]))           # a new writer from D = 60
    assert page_file.sync() == 65 and page_file.epoch == 3
    assert page_file.read(1).image == b"\x04" * 16384
    assert page_file.counters["gaps"] == 2
    page_file.close()


def test_the_format_doc_shows_the_golden_bytes():
    import pathlib
    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "formats" /
           "pageship.md").read_text()
    for text in ("9ddb9a59952600404d818f1a24a07e837676aec17414563aef2a04ed6deefb78",
                 "41570133080000000900000002644d28 | 6600000000000000",
                 "415701340c00000009000000c771f261 | 0300000000000000 07000000",
                 "b18cee32 2b000000", "16447 bytes"):
        assert text in doc, text
