"""Wire: frames, messages and authentication shared by every aurora_lite process.

Public surface: ``encode_frame``, ``decode_header``, ``check_payload``, ``FrameReader``,
``ProtocolError``, ``MAX_FRAME``, ``HEADER_SIZE``; ``MessageType``, ``ErrorCode``, ``Role`` and
the message dataclasses (``WriteBatch``, ``Section``, ``WriteAck``, ``GetPage``, ``Page``,
``Fence``, ``SegmentState``, ``PgState``, ``Truncate``, ``Ok``, ``SetHorizon``,
``FetchRecords``, ``Records``, ``Status``, ``StatusReply``, ``Error``, ``Challenge``, ``Auth``,
``AuthOk``, ``GetState``, ``FetchPages``, ``Pages``) with ``decode_message``; the HMAC
challenge-response helpers. ``aurora_lite.wire.stream`` (imported on its own, since it loads
trio) has ``RawReceiver`` and ``write_some``, the hot paths' socket I/O. docs/formats/wire.md
documents every byte. The page-shipping baseline's messages (``PageWrite``, ``PageWriteAck``,
``GetShippedPage``, ``ShippedPage``; types 50-59) are in docs/formats/pageship.md.
"""

from aurora_lite.wire._auth import (
    answer, new_challenge, new_secret, verify_client, verify_server,
)
from aurora_lite.wire._frame import (
    HEADER_SIZE, MAX_FRAME, WIRE_VERSION, FrameReader, ProtocolError, check_payload,
    decode_header, encode_frame,
)
from aurora_lite.wire._messages import (
    MESSAGES, NO_MORE_PAGES, Auth, AuthOk, Challenge, Error, ErrorCode, Fence, FetchPages,
    FetchRecords, GetPage, GetState, MessageType, Ok, Page, Pages, PgState, Records, Role,
    Section, SegmentState, SetHorizon, Status, StatusReply, Truncate, WriteAck, WriteBatch,
    decode_message,
)
from aurora_lite.wire._messages import _EXTENSION_MESSAGES
from aurora_lite.wire._pageship import (
    GET_SHIPPED_PAGE, PAGE_WRITE, PAGE_WRITE_ACK, PAGESHIP_MESSAGES, SHIPPED_PAGE,
    GetShippedPage, PageWrite, PageWriteAck, ShippedPage,
)

# Page shipping (types 50-59, the baseline of bench/shipping.py) shares the framing and
# decode_message; it is kept out of MESSAGES (the redo protocol's own table).
_EXTENSION_MESSAGES.update(PAGESHIP_MESSAGES)

__all__ = [name for name in dir() if not name.startswith("_")]
