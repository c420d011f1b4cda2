"""PEP 249 type objects and constructors (aurora_lite.dbapi._types): their comparison table
and edge cases, then - in both modes, embedded and remote (the ``connect`` fixture,
tests/dbapi/conftest.py) - against the type codes each driver really puts in
``description`` and with the constructors' values bound as parameters and read back."""

import datetime
import time

import pytest

import aurora_lite
from aurora_lite.dbapi import _types as t
from aurora_lite.errors import DataError, InterfaceError
from aurora_lite.values import SqlType, type_display_name

GROUPS = {
    "integer": t.NUMBER, "double precision": t.NUMBER, "boolean": t.NUMBER,
    "text": t.STRING, "bytea": t.BINARY, "date": t.DATETIME, "timestamp": t.DATETIME,
}
OBJECTS = [t.STRING, t.BINARY, t.NUMBER, t.DATETIME, t.ROWID]


@pytest.mark.parametrize("code, group", GROUPS.items())
def test_each_engine_type_code_equals_exactly_its_type_object(code, group):
    for type_object in OBJECTS:
        assert (code == type_object) == (type_object is group), (code, type_object)
        assert (type_object == code) == (type_object is group)
        assert (type_object != code) == (type_object is not group)


def test_every_engine_type_name_belongs_to_a_group():
    # If the engine gains a type, this fails until the type objects know about it.
    for sql_type in SqlType:
        name = type_display_name(sql_type)
        assert name in GROUPS
        assert GROUPS[name] == name
        assert GROUPS[name] == sql_type


def test_comparison_ignores_case_and_spacing_and_other_types():
    assert t.NUMBER == "DOUBLE  PRECISION"
    assert t.STRING == "VARCHAR"
    assert t.NUMBER != 1 and t.STRING != None  # noqa: E711 - comparing with None on purpose
    assert t.NUMBER != SqlType.TEXT
    assert t.NUMBER == t.NUMBER and t.NUMBER != t.STRING
    assert "text" in [t.BINARY, t.STRING]
    assert len({t.STRING, t.BINARY, t.NUMBER, t.DATETIME, t.ROWID}) == 5
    assert repr(t.DATETIME) == "DATETIME"


def test_constructors():
    assert t.Date(2024, 2, 29) == datetime.date(2024, 2, 29)
    assert t.Time(13, 45, 1) == datetime.time(13, 45, 1)
    assert t.Timestamp(2024, 2, 29, 13, 45, 1) == datetime.datetime(2024, 2, 29, 13, 45, 1)
    assert t.Binary(b"\x00\xff") == b"\x00\xff"
    assert t.Binary(bytearray(b"ab")) == b"ab"
    assert t.Binary(memoryview(b"xyz")[1:]) == b"yz"
    assert type(t.Binary(bytearray(b"ab"))) is bytes


def test_from_ticks_uses_local_time():
    ticks = 1_700_000_000.25
    local = time.localtime(ticks)
    assert t.DateFromTicks(ticks) == datetime.date(*local[:3])
    assert t.TimeFromTicks(ticks) == datetime.time(*local[3:6], 250000)
    assert t.TimestampFromTicks(ticks) == datetime.datetime(*local[:6], 250000)


def test_bad_arguments_raise_pep249_errors():
    with pytest.raises(InterfaceError, match="bytes"):
        t.Binary("text")
    with pytest.raises(InterfaceError):
        t.Binary(5)  # bytes(5) would silently give five zero bytes
    with pytest.raises(DataError, match="out of range"):
        t.TimestampFromTicks(1e20)


# -- in both modes -------------------------------------------------------------------------------
def test_description_type_codes_compare_equal_to_their_type_objects(connect, unique_name):
    connection = connect(autocommit=True)
    name = unique_name()
    columns = ", ".join(f"c{i} {code}" for i, code in enumerate(GROUPS))
    connection.cursor().execute(f"CREATE TABLE {name} ({columns})")
    cursor = connection.cursor()
    for sql in (f"SELECT * FROM {name}",
                "SELECT 1, 1.5, true, 'x', ?, date '2024-01-01', "
                "timestamp '2024-01-01 10:00:00'"):
        cursor.execute(sql, (b"x",) if "?" in sql else None)
        codes = [column[1] for column in cursor.description]
        assert codes == list(GROUPS)
        for code, group in zip(codes, GROUPS.values()):
            for type_object in OBJECTS:
                assert (code == type_object) == (type_object is group), (connect.mode, code)
        assert all(len(column) == 7 for column in cursor.description)
        cursor.fetchall()
    assert cursor.execute("SELECT NULL AS n").description[0][0] == "n"


def test_constructors_bind_and_read_back(connect, unique_name):
    connection = connect(autocommit=True)
    name = unique_name()
    connection.cursor().execute(f"CREATE TABLE {name} (id integer primary key, d date, "
                                "ts timestamp, by bytea, d2 date, ts2 timestamp, by2 bytea)")
    ticks = 1_700_000_000.25
    row = (1, t.Date(2024, 2, 29), t.Timestamp(2024, 2, 29, 13, 45, 1, 250000),
           t.Binary(bytearray(b"\x00\xff")), t.DateFromTicks(ticks), t.TimestampFromTicks(ticks),
           t.Binary(memoryview(b"xyz")[1:]))
    cursor = connection.cursor()
    cursor.execute(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    cursor.execute(f"SELECT * FROM {name}")
    assert cursor.fetchall() == [row]
    assert [type(value) for value in row[1:4]] == [datetime.date, datetime.datetime, bytes]
    cursor.execute(f"SELECT id FROM {name} WHERE ts = ? AND by = ? AND d = ?",
                   (row[2], t.Binary(b"\x00\xff"), row[1]))
    assert cursor.fetchall() == [(1,)]
    # Time has no column type in the engine: binding one is refused, in both modes.
    with pytest.raises(aurora_lite.ProgrammingError):
        cursor.execute("SELECT ?", (t.Time(13, 45, 1),))
    assert cursor.execute("SELECT 1").fetchall() == [(1,)]
