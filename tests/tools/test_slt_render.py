"""Rendering values (I/R/T), sorting modes and md5 hashing as the corpus expects them."""

import datetime
import decimal
import hashlib
import os
import random

import pytest

from _slt import hash_line, md5_of, render_rows, render_value, sorted_values


@pytest.mark.parametrize("value, expected", [
    (7, "7"), (-7, "-7"), (2.9, "2"), (-2.9, "-2"), (True, "1"), (False, "0"),
    (decimal.Decimal("-3.5"), "-3"), ("12abc", "12"), ("abc", "0"), (None, "NULL"),
    (float("inf"), str((1 << 63) - 1)),
])
def test_integer_rendering_truncates_toward_zero(value, expected):
    assert render_value(value, "I") == expected


@pytest.mark.parametrize("value, expected", [
    (1, "1.000"), (2.5, "2.500"), (-0.0004, "-0.000"), (-0.0, "0.000"), (True, "1.000"),
    ("1.25x", "1.250"), (None, "NULL"),
    # SQLite's printf keeps 16 significant digits: the corpus holds these exact strings.
    (-9223372036854775808, "-9223372036854776000.000"),
    (-18446744073709551616.0, "-18446744073709550000.000"),
])
def test_real_rendering(value, expected):
    assert render_value(value, "R") == expected


@pytest.mark.parametrize("value, expected", [
    ("abc", "abc"), ("", "(empty)"), ("a\tb\nc\x7f", "a@b@c@"), (None, "NULL"), (3, "3"),
    (1.5, "1.5"), (100.0, "100.0"), (1e20, "1.0e+20"), (True, "1"), (b"xy", "xy"),
    (datetime.date(2024, 2, 29), "2024-02-29"),
    (datetime.datetime(2024, 2, 29, 1, 2, 3), "2024-02-29 01:02:03"),
])
def test_text_rendering(value, expected):
    assert render_value(value, "T") == expected


def test_sort_modes():
    rows = render_rows([(3, "b"), (10, "a"), (3, "a")], "IT")
    assert sorted_values(rows, "nosort") == ["3", "b", "10", "a", "3", "a"]
    # Rows compare value by value as strings, so "10" sorts before "3".
    assert sorted_values(rows, "rowsort") == ["10", "a", "3", "a", "3", "b"]
    assert sorted_values(rows, "valuesort") == ["10", "3", "3", "a", "a", "b"]


def test_md5_is_of_every_value_followed_by_a_newline():
    values = ["1", "NULL", "(empty)"]
    assert md5_of(values) == hashlib.md5(b"1\nNULL\n(empty)\n").hexdigest()
    assert hash_line(values) == f"3 values hashing to {md5_of(values)}"
    assert md5_of([]) == hashlib.md5(b"").hexdigest()


def test_rowsort_hash_does_not_depend_on_row_order():
    seed = int(os.environ.get("SLT_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed={seed} (replay with SLT_TEST_SEED={seed})")
    rng = random.Random(seed)
    rows = [(rng.randint(-50, 50), rng.choice(["a", "", "zz", None]), rng.uniform(-9, 9))
            for _ in range(rng.randint(1, 40))]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    for mode in ("rowsort", "valuesort"):
        first = sorted_values(render_rows(rows, "ITR"), mode)
        second = sorted_values(render_rows(shuffled, "ITR"), mode)
        assert md5_of(first) == md5_of(second)
    # Row order matters for nosort unless the rows happen to be equal.
    if render_rows(rows, "ITR") != render_rows(shuffled, "ITR"):
        assert (sorted_values(render_rows(rows, "ITR"), "nosort")
                != sorted_values(render_rows(shuffled, "ITR"), "nosort"))
