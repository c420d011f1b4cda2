"""The PostgreSQL frontend/backend protocol 3.0 codec shared by the server and the remote driver.

It lives under dbapi/ because the remote driver (rank 11) needs it and may not import server/
(rank 12); the server imports it from here. Nothing in it does I/O.

Public surface:

* messages (``_messages``): one frozen dataclass per message, ``encode``, the row fast path
  ``encode_data_row``, ``ProtocolViolation`` and the protocol codes; reading them
  (``_decode``): ``decode_frontend``, ``decode_backend``, ``decode_startup``,
  ``decode_sasl_initial`` and the client's row fast path ``decode_data_row``;
* framing (``_framing``): ``FrameBuffer``, ``MessageTooLong``;
* types (``_types``, imported as the module ``pgtypes``): OIDs, ``encoder`` / ``decoder`` for
  text and binary formats, ``oid_for_type_name``, ``type_name_for_oid``;
* SCRAM-SHA-256 (``_scram``): ``Verifier``, ``ScramServer``, ``ScramClient``,
  ``AuthenticationFailed``, ``ScramProtocolError``;
* SQL text (``_sqltext``): ``split_statements``, ``leading_keyword``, ``leading_words``,
  ``count_parameters``, ``to_numbered``;
* errors (``_errors``): ``exception_class``, ``exception_from_fields``, ``error_fields``.
"""

from aurora_lite.dbapi._pg import _types as pgtypes
from aurora_lite.dbapi._pg._errors import error_fields, exception_class, exception_from_fields
from aurora_lite.dbapi._pg._framing import MAX_STARTUP_LENGTH, FrameBuffer, MessageTooLong
from aurora_lite.dbapi._pg._decode import (
    decode_backend, decode_data_row, decode_frontend, decode_sasl_initial, decode_startup,
)
from aurora_lite.dbapi._pg._messages import (
    AUTH_CLEARTEXT, AUTH_MD5, AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL,
    CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, PROTOCOL_3_0, SSL_REQUEST_CODE, Authentication,
    BackendKeyData, Bind, BindComplete, CancelRequest, Close, CloseComplete, CommandComplete,
    DataRow, Describe, EmptyQueryResponse, ErrorResponse, Execute, FieldDescription, Flush,
    GSSENCRequest, NegotiateProtocolVersion, NoData, NoticeResponse, ParameterDescription,
    ParameterStatus, Parse, ParseComplete, PasswordData, PortalSuspended, ProtocolViolation,
    Query, ReadyForQuery, RowDescription, SASLInitialResponse, SSLRequest, StartupMessage, Sync,
    Terminate, Unsupported, encode, encode_data_row,
)
from aurora_lite.dbapi._pg._scram import (
    MECHANISM, AuthenticationFailed, ScramClient, ScramProtocolError, ScramServer, Verifier,
)
from aurora_lite.dbapi._pg._sqltext import (
    count_parameters, leading_keyword, leading_words, split_statements, to_numbered,
)

__all__ = [name for name in dir() if not name.startswith("_")]
