"""The expression compiler: three-valued logic, NULL-check elision, helpers' semantics."""

from __future__ import annotations

import itertools
import random

import pytest

from aurora_lite.errors import DataError
from aurora_lite.exec import (
    And, Arith, Case, Cast, Coalesce, Compare, Concat, Const, Field, Func, InList, IsDistinct,
    IsNull, Like, Negate, Not, Or, evaluate_constant, fold_constant,
)
from aurora_lite.exec._codegen import Codegen
from aurora_lite.exec._runtime import float_text, int_div, int_mod
from aurora_lite.values import SqlType

B, I, R, T = SqlType.BOOLEAN, SqlType.INTEGER, SqlType.REAL, SqlType.TEXT
TRUTH = [True, False, None]


def compiled(expr, truth=False, width=3):
    generator = Codegen()
    body = generator.truth(expr) if truth else generator.value(expr)
    return generator.compile(f"def f(r, p=()):\n    return {body}\n", "f")


def field(i, sql_type=B, nullable=True):
    return Field(i, sql_type, nullable, f"c{i}")


def sql_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def sql_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


@pytest.mark.parametrize("a, b", list(itertools.product(TRUTH, TRUTH)))
def test_and_or_not_truth_tables(a, b):
    row = (a, b)
    and_ = And((field(0), field(1)))
    or_ = Or((field(0), field(1)))
    assert compiled(and_)(row) is sql_and(a, b)
    assert compiled(or_)(row) is sql_or(a, b)
    assert bool(compiled(and_, truth=True)(row)) is (sql_and(a, b) is True)
    assert bool(compiled(or_, truth=True)(row)) is (sql_or(a, b) is True)
    expected_not = None if a is None else not a
    assert compiled(Not(field(0)))(row) is expected_not
    assert bool(compiled(Not(field(0)), truth=True)(row)) is (expected_not is True)
    # NOT (a AND b) evaluated in filter position must still use three-valued logic.
    assert bool(compiled(Not(and_), truth=True)(row)) is (sql_and(a, b) is False)


@pytest.mark.parametrize("op", ["=", "<>", "<", "<=", ">", ">="])
def test_comparison_null_and_nonnull_paths_agree(op):
    python = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
              "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]
    values = [None, -1, 0, 2, 2.5]
    for nullable_left, nullable_right in itertools.product([True, False], repeat=2):
        expr = Compare(op, field(0, I, nullable_left), field(1, I, nullable_right))
        value, truth = compiled(expr), compiled(expr, truth=True)
        for a, b in itertools.product(values, values):
            if (a is None and not nullable_left) or (b is None and not nullable_right):
                continue
            expected = None if a is None or b is None else python(a, b)
            assert value((a, b)) is expected
            assert bool(truth((a, b))) is (expected is True)


def test_in_list_with_nulls_and_expressions():
    constants = InList(field(0, I), (Const(1, I), Const(None, I), Const(3, I)))
    assert compiled(constants)((1,)) is True
    assert compiled(constants)((2,)) is None
    assert compiled(constants)((None,)) is None
    assert not compiled(constants, truth=True)((2,))
    negated = InList(field(0, I), (Const(1, I), Const(3, I)), negated=True)
    assert compiled(negated)((2,)) is True and compiled(negated)((1,)) is False
    dynamic = InList(Arith("+", field(0, I), Const(1, I), I), (field(1, I), field(2, I)))
    assert compiled(dynamic)((1, 5, 2)) is True
    assert compiled(dynamic)((1, 5, None)) is None
    assert compiled(dynamic)((1, 5, 6)) is False
    negated_dynamic = InList(field(0, I), (field(1, I),), negated=True)
    assert compiled(negated_dynamic)((1, None)) is None
    assert compiled(negated_dynamic)((1, 2)) is True


def test_is_distinct_and_is_null():
    expr = IsDistinct(field(0, I), field(1, I))
    assert [compiled(expr)(row) for row in [(1, 1), (1, None), (None, None), (1, 2)]] == \
        [False, True, False, True]
    assert compiled(IsNull(field(0, I)))((None,)) is True
    assert compiled(IsNull(field(0, I, False), negated=True))((1,)) is True


def test_like_patterns():
    cases = [("abc", "a%", True), ("abc", "a_", False), ("a_c", "a\\_c", True),
             ("abc", "a\\_c", False), ("50%", "50\\%", True), ("x.y", "x.y", True),
             ("xzy", "x.y", False), ("", "%", True), ("ABC", "abc", False)]
    for text, pattern, expected in cases:
        static = Like(Const(text, T), Const(pattern, T))
        assert evaluate_constant(static) is expected, (text, pattern)
        dynamic = Like(field(0, T), field(1, T))
        assert compiled(dynamic)((text, pattern)) is expected
    assert evaluate_constant(Like(Const("ABC", T), Const("a%", T), case_insensitive=True))
    assert evaluate_constant(Like(Const("a%", T), Const("a!%", T), escape="!"))


def test_case_forms():
    searched = Case(None, ((Compare(">", field(0, I), Const(1, I)), Const("big", T)),),
                    Const("small", T), T)
    assert compiled(searched)((5,)) == "big"
    assert compiled(searched)((None,)) == "small"
    simple = Case(field(0, I), ((Const(1, I), Const("one", T)), (field(1, I), Const("b", T))),
                  None, T)
    assert compiled(simple)((1, 7)) == "one"
    assert compiled(simple)((7, 7)) == "b"
    assert compiled(simple)((None, None)) is None
    assert compiled(simple)((7, None)) is None


def test_coalesce_concat_negate_cast():
    expr = Coalesce((field(0, I), field(1, I), Const(9, I)), I)
    assert compiled(expr)((None, None)) == 9 and compiled(expr)((None, 2)) == 2
    assert compiled(Concat(field(0, T), Const("x", T)))((None,)) is None
    assert compiled(Negate(field(0, I), I))((5,)) == -5
    with pytest.raises(DataError):
        compiled(Negate(field(0, I), I))((-(1 << 63),))
    assert compiled(Cast(field(0, R), I))((2.5,)) == 2
    assert compiled(Cast(field(0, R), T))((0.1,)) == "0.1"
    assert compiled(Cast(field(0, I), R))((3,)) == 3.0


def test_integer_division_and_modulo_match_truncation():
    rng = random.Random(7)
    for _ in range(2000):
        a = rng.randrange(-10 ** 6, 10 ** 6)
        b = rng.choice([rng.randrange(-1000, 1000) or 1, 1, -1])
        quotient = int_div(a, b)
        assert quotient == int(a / b) or abs(a) > 2 ** 52
        assert int_mod(a, b) == a - b * quotient
    with pytest.raises(DataError) as caught:
        int_div(1, 0)
    assert caught.value.sqlstate == "22012"


def test_integer_overflow_is_an_error():
    expr = Arith("*", field(0, I), field(1, I), I)
    assert compiled(expr)((1 << 31, 1 << 31)) == 1 << 62
    with pytest.raises(DataError) as caught:
        compiled(expr)((1 << 32, 1 << 32))
    assert caught.value.sqlstate == "22003"


@pytest.mark.parametrize("value, text", [
    (1.0, "1"), (1.5, "1.5"), (-0.25, "-0.25"), (1e15, "1e+15"), (123456789012345.0,
                                                                   "123456789012345"),
    (1e-5, "1e-05"), (0.0001, "0.0001"), (1.2345e-7, "1.2345e-07"), (float("inf"), "Infinity"),
    (float("nan"), "NaN"), (0.1 + 0.2, "0.30000000000000004"), (-0.0, "-0"),
])
def test_float_text_like_postgres(value, text):
    assert float_text(value) == text


def test_fold_constant_leaves_errors_and_volatile_calls():
    assert fold_constant(Arith("+", Const(1, I), Const(2, I), I)) == Const(3, I)
    division = Arith("/", Const(1, I), Const(0, I), I)
    assert fold_constant(division) is division
    volatile = Func("random", (), R)
    assert fold_constant(volatile) is volatile


def test_generated_functions_do_not_share_temporaries():
    # Two compiled expressions in one namespace must not clobber each other's temporaries.
    generator = Codegen()
    first = generator.value(Arith("+", field(0, I), field(1, I), I))
    second = generator.value(Arith("*", field(1, I), field(2, I), I))
    function = generator.compile(f"def f(r, p=()):\n    return ({first}, {second})\n", "f")
    assert function((1, 2, 3)) == (3, 6)
    assert function((None, 2, 3)) == (None, 6)
