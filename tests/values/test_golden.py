"""Golden bytes for the row, key, B-tree cell and catalog formats (docs/formats/)."""

from __future__ import annotations

import datetime
import random

from aurora_lite.btree._cells import internal_cell, leaf_cell, overflow_cell
from aurora_lite.catalog import IndexDef
from aurora_lite.catalog._store import decode_entry, encode_entry
from aurora_lite.values import RowCodec, SqlType, decode_key, encode_key, encode_value


def test_row_golden():
    codec = RowCodec([SqlType.INTEGER, SqlType.TEXT, SqlType.REAL, SqlType.BOOLEAN])
    data = codec.encode((42, "hi", None, True))
    assert data.hex(" ") == ("01 00 04 00 04 2a 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 00"
                             " 00 00 00 01 68 69")
    assert codec.decode(data) == (42, "hi", None, True)


def test_key_golden():
    assert encode_key((42, "a\0b"), [SqlType.INTEGER, SqlType.TEXT]).hex(" ") == \
        "10 80 00 00 00 00 00 00 2a 10 61 00 ff 62 00 00"
    assert encode_key((-1.5,), [SqlType.REAL]).hex(" ") == "10 40 07 ff ff ff ff ff ff"
    assert encode_key((None,), [SqlType.TEXT]).hex(" ") == "f0"
    assert encode_key((7,), [SqlType.INTEGER], [True]).hex(" ") == "ef 7f ff ff ff ff ff ff f8"


def test_cell_golden():
    key = bytes.fromhex("10 80 00 00 00 00 00 00 2a")
    assert leaf_cell(key, b"\x01\x00").hex(" ") == "09 00 10 80 00 00 00 00 00 00 2a 01 00"
    assert overflow_cell(b"\x10ab", 1_000_000, 77).hex(" ") == \
        "03 80 10 61 62 40 42 0f 00 4d 00 00 00"
    assert internal_cell(b"\x10xyz", 9).hex(" ") == "09 00 00 00 10 78 79 7a"


def test_catalog_golden():
    index = IndexDef("i1", "t", ("a",), (True,), False, 5, 9)
    key, value = encode_entry(index)
    assert key == b"Ii1"
    assert value == (b'{"columns": ["a"], "constraint": false, "descending": [true], '
                     b'"format": 1, "name": "i1", "root_page": 9, "table": "t", '
                     b'"tree_id": 5, "unique": false}')
    assert decode_entry(key, value) == index


def test_key_order_matches_value_order():
    seed = 20261123
    print("seed", seed)
    rng = random.Random(seed)
    cases = {
        SqlType.INTEGER: lambda: rng.randint(-2**63, 2**63 - 1),
        SqlType.REAL: lambda: rng.choice([rng.uniform(-1e9, 1e9), 0.0, -0.0, 1e-300,
                                          float("inf"), -float("inf")]),
        SqlType.TEXT: lambda: "".join(rng.choice("a\0b\u00e9z") for _ in range(rng.randrange(5))),
        SqlType.BYTEA: lambda: bytes(rng.choice([0, 1, 255]) for _ in range(rng.randrange(5))),
        SqlType.BOOLEAN: lambda: rng.random() < 0.5,
        SqlType.DATE: lambda: datetime.date(1900, 1, 1) + datetime.timedelta(rng.randrange(90000)),
    }
    for sql_type, make in cases.items():
        values = [make() for _ in range(300)] + [None]
        for descending in (False, True):
            def sort_key(value):
                if sql_type is SqlType.TEXT and value is not None:
                    value = value.encode()
                return (value is None, value if value is not None else 0)
            expected = sorted(values, key=sort_key, reverse=descending)
            got = sorted(values, key=lambda v: encode_value(v, sql_type, descending))
            assert [sort_key(v) for v in got] == [sort_key(v) for v in expected], sql_type
            for value in values:
                encoded = encode_key((value,), [sql_type], [descending])
                decoded = decode_key(encoded, [sql_type], [descending])[0]
                assert decoded == value or (value == 0.0 and decoded == 0.0)
