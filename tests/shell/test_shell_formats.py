"""The output modes: table, csv, json and line, and how each writes values."""

import csv
import datetime
import decimal
import io
import json

import pytest

from aurora_lite.shell import MODES, render
from aurora_lite.shell._formats import mode_name

NAMES = ["n", "s", "f", "d", "b", "y"]
ROWS = [(1, "a,b", None, decimal.Decimal("1.50"), True, b"\x01"),
        (2, 'x\n"y"', float("nan"), None, False, None)]


def test_table_mode_is_psql_s_with_a_blank_line_after():
    assert render("table", ["a"], [(1,), (None,)]) == [" a", "---", " 1", "", "(2 rows)", ""]
    assert render("table", ["a"], [(1,)], footer=False) == [" a", "---", " 1", ""]


def test_csv_mode_quotes_as_rfc_4180_and_null_is_empty():
    text = "\n".join(render("csv", NAMES, ROWS)) + "\n"
    assert text == 'n,s,f,d,b,y\n1,"a,b",,1.50,t,\\x01\n2,"x\n""y""",NaN,,f,\n'
    assert list(csv.reader(io.StringIO(text)))[2][1] == 'x\n"y"'
    assert render("csv", ["a"], []) == ["a"]


def test_json_mode_is_one_array_with_one_object_per_line():
    lines = render("json", NAMES, ROWS)
    assert lines == [
        '[{"n": 1, "s": "a,b", "f": null, "d": 1.50, "b": true, "y": "\\\\x01"},',
        ' {"n": 2, "s": "x\\n\\"y\\"", "f": "NaN", "d": null, "b": false, "y": null}]']
    parsed = json.loads("\n".join(lines))
    assert parsed[0]["d"] == 1.5 and parsed[1]["s"] == 'x\n"y"'
    assert render("json", ["a"], []) == ["[]"]
    assert json.loads(render("json", ["t", "日本"], [(datetime.date(2024, 1, 2), "é")])[0]) \
        == [{"t": "2024-01-02", "日本": "é"}]


def test_line_mode_aligns_names_and_separates_rows():
    assert render("line", ["a", "long"], [(1, "x\ny"), (None, "z")]) == [
        "   a = 1",
        "long = x",
        "       y",
        "",
        "   a =",
        "long = z",
        "",
    ]
    assert render("line", ["a"], []) == ["(0 rows)"]


@pytest.mark.parametrize("word, mode", [("table", "table"), ("aligned", "table"),
                                        ("CSV", "csv"), ("json", "json"), ("line", "line"),
                                        ("expanded", "line"), ("html", None), ("", None)])
def test_mode_names(word, mode):
    assert mode_name(word) == mode
    assert set(MODES) == {"table", "csv", "json", "line"}
