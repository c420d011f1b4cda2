"""SQL values as stored: types and coercion, memcomparable keys, the row codec.

Public surface: ``SqlType``, ``parse_type_name``, ``type_display_name``, ``coerce``,
``encode_key``, ``encode_value``, ``make_key_encoder``, ``decode_key``, ``prefix_successor``,
``RowCodec`` and the date/timestamp conversions.
"""

from aurora_lite.values._keys import (
    TAG_NULL, TAG_VALUE, decode_key, encode_key, encode_value, make_key_encoder,
    prefix_successor,
)
from aurora_lite.values._rows import ROW_FORMAT, RowCodec
from aurora_lite.values._types import (
    INT64_MAX, INT64_MIN, SqlType, coerce, date_to_days, days_to_date, micros_to_timestamp,
    parse_type_name, timestamp_to_micros, type_display_name,
)

__all__ = [name for name in dir() if not name.startswith("_")]
