"""The psql-like table layout and how values are displayed in it."""

import datetime
import decimal

from aurora_lite.shell import display_value, format_table


def test_numbers_right_text_left_headers_centred():
    lines = format_table(["a", "name"], [(1, "x"), (20, None), (-3, "longer")])
    assert lines == [
        " a  |  name",
        "----+--------",
        "  1 | x",
        " 20 |",
        " -3 | longer",
        "(3 rows)",
    ]


def test_one_row_and_empty_results():
    assert format_table(["n"], [(1,)])[-1] == "(1 row)"
    assert format_table(["n", "m"], []) == [" n | m", "---+---", "(0 rows)"]


def test_multi_line_values_are_marked_with_plus():
    lines = format_table(["m", "f"], [("multi\nline", 1.5)])
    assert lines == [
        "   m   |  f",
        "-------+-----",
        " multi+| 1.5",
        " line  |",
        "(1 row)",
    ]


def test_wide_characters_take_two_columns():
    lines = format_table(["w"], [("日本",), ("ab",)])
    assert lines[1] == "------"
    assert lines[3] == " ab"


def test_display_values():
    assert display_value(None) == ""
    assert display_value(True) == "t" and display_value(False) == "f"
    assert display_value(b"\x00\xff") == "\\x00ff"
    assert display_value(0.1) == "0.1"
    assert display_value(float("nan")) == "NaN"
    assert display_value(float("-inf")) == "-Infinity"
    assert display_value(decimal.Decimal("1.50")) == "1.50"
    assert display_value(datetime.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert display_value(datetime.date(2024, 1, 2)) == "2024-01-02"
