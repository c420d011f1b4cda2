"""Scalar SQL functions: the registry the binder resolves names against, and their bodies.

A function is resolved by name and argument types (``resolve``) to its result type; the body
is a plain Python function of non-NULL values for ``strict`` functions (the generated code
returns NULL before calling it), or of possibly-NULL values otherwise.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass
from typing import Callable

from aurora_lite.errors import DataError, ProgrammingError
from aurora_lite.exec._runtime import int_mod, real_mod, to_text
from aurora_lite.values import INT64_MIN, SqlType, type_display_name

NUMERIC = (SqlType.INTEGER, SqlType.REAL)


@dataclass(frozen=True)
class ScalarFunction:
    name: str
    body: Callable
    # One kind per argument: "num" (integer or double), "int", "text", "any".
    args: tuple[str, ...]
    optional: int = 0                # how many trailing args may be left out
    result: object = SqlType.TEXT    # a SqlType, "arg0" (type of the first argument), "common"
    strict: bool = True              # NULL argument -> NULL result without calling the body
    variadic: bool = False           # the last kind repeats
    volatile: bool = False           # never folded into a constant at plan time
    may_return_null: bool = False


def _abs(value):
    if isinstance(value, int) and value == INT64_MIN:
        raise DataError("bigint out of range", sqlstate="22003")
    return abs(value)


def _round(value, digits=None):
    if digits is None:
        if isinstance(value, int):
            return value
        return float(round(value))              # half to even, like rint() for double
    factor = 10.0 ** digits                    # numeric rounding: half away from zero
    scaled = abs(value) * factor
    rounded = math.floor(scaled + 0.5) / factor
    return float(math.copysign(rounded, value))


def _ceil(value):
    return value if isinstance(value, int) else float(math.ceil(value))


def _floor(value):
    return value if isinstance(value, int) else float(math.floor(value))


def _trunc(value, digits=None):
    if digits is None:
        return value if isinstance(value, int) else float(math.trunc(value))
    factor = 10.0 ** digits
    return math.trunc(value * factor) / factor


def _sign(value):
    result = (value > 0) - (value < 0)
    return result if isinstance(value, int) else float(result)


def _sqrt(value):
    if value < 0:
        raise DataError("cannot take square root of a negative number", sqlstate="2201F")
    return math.sqrt(value)


def _ln(value):
    if value <= 0:
        raise DataError("cannot take logarithm of " +
                        ("zero" if value == 0 else "a negative number"), sqlstate="2201E")
    return math.log(value)


def _log(a, b=None):
    if b is None:
        return _ln(a) / math.log(10)
    return _ln(b) / _ln(a)


def _power(a, b):
    try:
        result = float(a) ** float(b)
    except ZeroDivisionError:
        raise DataError("zero raised to a negative power is undefined",
                        sqlstate="2201F") from None
    except OverflowError:
        raise DataError("value out of range: overflow", sqlstate="22003") from None
    if isinstance(result, complex):
        raise DataError("a negative number raised to a non-integer power yields a complex "
                        "result", sqlstate="2201F")
    return result


def _exp(value):
    try:
        return math.exp(value)
    except OverflowError:
        raise DataError("value out of range: overflow", sqlstate="22003") from None


def _mod(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return int_mod(a, b)
    return real_mod(a, b)


def _substr(text: str, start: int, length: int | None = None) -> str:
    # SQL positions are 1-based and a start before 1 eats into the length (PostgreSQL).
    if length is None:
        return text[max(start, 1) - 1:]
    if length < 0:
        raise DataError("negative substring length not allowed", sqlstate="22011")
    end = start + length
    begin = max(start, 1)
    if end <= begin:
        return ""
    return text[begin - 1:end - 1]


def _trim(text: str, chars: str = " ") -> str:
    return text.strip(chars)


def _ltrim(text: str, chars: str = " ") -> str:
    return text.lstrip(chars)


def _rtrim(text: str, chars: str = " ") -> str:
    return text.rstrip(chars)


def _left(text: str, count: int) -> str:
    return text[:count]                 # a negative count drops that many from the end


def _right(text: str, count: int) -> str:
    if count >= 0:
        return text[max(len(text) - count, 0):] if count else ""
    return text[-count:]


def _repeat(text: str, count: int) -> str:
    return text * max(count, 0)


def _lpad(text: str, length: int, fill: str = " ") -> str:
    if length <= len(text):
        return text[:max(length, 0)]
    if not fill:
        return text
    pad = (fill * length)[:length - len(text)]
    return pad + text


def _rpad(text: str, length: int, fill: str = " ") -> str:
    if length <= len(text):
        return text[:max(length, 0)]
    if not fill:
        return text
    return text + (fill * length)[:length - len(text)]


def _strpos(text: str, sub: str) -> int:
    return text.find(sub) + 1


def _initcap(text: str) -> str:
    out = []
    previous_alnum = False
    for char in text:
        out.append(char.lower() if previous_alnum else char.upper())
        previous_alnum = char.isalnum()
    return "".join(out)


def _chr(code: int) -> str:
    if code <= 0 or code > 0x10FFFF:
        raise DataError("requested character too large for encoding" if code > 0 else
                        "null character not permitted", sqlstate="54000")
    return chr(code)


def _concat(*values) -> str:
    return "".join(to_text(value) for value in values if value is not None)


def _concat_ws(separator, *values):
    if separator is None:
        return None
    return separator.join(to_text(value) for value in values if value is not None)


def _greatest(*values):
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _least(*values):
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _random() -> float:
    return random.random()


def _now() -> datetime.datetime:
    return datetime.datetime.now()


def _today() -> datetime.date:
    return datetime.date.today()


def _f(name, body, args, **options) -> ScalarFunction:
    return ScalarFunction(name, body, tuple(args), **options)


FUNCTIONS: dict[str, ScalarFunction] = {f.name: f for f in [
    _f("abs", _abs, ["num"], result="arg0"),
    _f("round", _round, ["num", "int"], optional=1, result="arg0"),
    _f("ceil", _ceil, ["num"], result="arg0"),
    _f("ceiling", _ceil, ["num"], result="arg0"),
    _f("floor", _floor, ["num"], result="arg0"),
    _f("trunc", _trunc, ["num", "int"], optional=1, result="arg0"),
    _f("sign", _sign, ["num"], result="arg0"),
    _f("sqrt", _sqrt, ["num"], result=SqlType.REAL),
    _f("exp", _exp, ["num"], result=SqlType.REAL),
    _f("ln", _ln, ["num"], result=SqlType.REAL),
    _f("log", _log, ["num", "num"], optional=1, result=SqlType.REAL),
    _f("log10", _log, ["num"], result=SqlType.REAL),
    _f("power", _power, ["num", "num"], result=SqlType.REAL),
    _f("pow", _power, ["num", "num"], result=SqlType.REAL),
    _f("mod", _mod, ["num", "num"], result="common"),
    _f("pi", lambda: math.pi, [], result=SqlType.REAL),
    _f("random", _random, [], result=SqlType.REAL, volatile=True),
    _f("length", len, ["text"], result=SqlType.INTEGER),
    _f("char_length", len, ["text"], result=SqlType.INTEGER),
    _f("character_length", len, ["text"], result=SqlType.INTEGER),
    _f("octet_length", lambda text: len(text.encode("utf-8")), ["text"],
       result=SqlType.INTEGER),
    _f("lower", str.lower, ["text"]),
    _f("upper", str.upper, ["text"]),
    _f("initcap", _initcap, ["text"]),
    _f("reverse", lambda text: text[::-1], ["text"]),
    _f("substr", _substr, ["text", "int", "int"], optional=1),
    _f("substring", _substr, ["text", "int", "int"], optional=1),
    _f("trim", _trim, ["text", "text"], optional=1),
    _f("btrim", _trim, ["text", "text"], optional=1),
    _f("ltrim", _ltrim, ["text", "text"], optional=1),
    _f("rtrim", _rtrim, ["text", "text"], optional=1),
    _f("replace", lambda text, old, new: text.replace(old, new), ["text", "text", "text"]),
    _f("strpos", _strpos, ["text", "text"], result=SqlType.INTEGER),
    _f("position", _strpos, ["text", "text"], result=SqlType.INTEGER),
    _f("left", _left, ["text", "int"]),
    _f("right", _right, ["text", "int"]),
    _f("repeat", _repeat, ["text", "int"]),
    _f("lpad", _lpad, ["text", "int", "text"], optional=1),
    _f("rpad", _rpad, ["text", "int", "text"], optional=1),
    _f("ascii", lambda text: ord(text[0]) if text else 0, ["text"], result=SqlType.INTEGER),
    _f("chr", _chr, ["int"]),
    _f("concat", _concat, ["any"], variadic=True, strict=False, optional=1),
    _f("concat_ws", _concat_ws, ["text", "any"], variadic=True, strict=False,
       may_return_null=True),
    _f("greatest", _greatest, ["any"], variadic=True, strict=False, result="common",
       may_return_null=True),
    _f("least", _least, ["any"], variadic=True, strict=False, result="common",
       may_return_null=True),
    _f("now", _now, [], result=SqlType.TIMESTAMP, volatile=True),
    _f("current_timestamp", _now, [], result=SqlType.TIMESTAMP, volatile=True),
    _f("localtimestamp", _now, [], result=SqlType.TIMESTAMP, volatile=True),
    _f("current_date", _today, [], result=SqlType.DATE, volatile=True),
]}


def _kind_ok(kind: str, sql_type: SqlType | None) -> bool:
    if sql_type is None or kind == "any":
        return True
    if kind == "num":
        return sql_type in NUMERIC
    if kind == "int":
        return sql_type is SqlType.INTEGER
    return sql_type is SqlType.TEXT


def _signature(name: str, types) -> str:
    return f"{name}(" + ", ".join("unknown" if t is None else type_display_name(t)
                                  for t in types) + ")"


def common_type(types) -> SqlType | None:
    """The type several values unify to (CASE, COALESCE, greatest): integers widen to double;
    None (a bare NULL) unifies with anything. Raises ValueError when they cannot unify."""
    found = None
    for sql_type in types:
        if sql_type is None or sql_type == found:
            continue
        if found is None:
            found = sql_type
        elif {found, sql_type} == {SqlType.INTEGER, SqlType.REAL}:
            found = SqlType.REAL
        elif {found, sql_type} == {SqlType.DATE, SqlType.TIMESTAMP}:
            found = SqlType.TIMESTAMP
        else:
            raise ValueError((found, sql_type))
    return found


def resolve(name: str, types: list[SqlType | None]) -> tuple[ScalarFunction, SqlType | None]:
    """The function ``name`` accepting arguments of ``types`` and its result type
    (ProgrammingError 42883 when there is none)."""
    function = FUNCTIONS.get(name)
    if function is None:
        raise ProgrammingError(f"function {_signature(name, types)} does not exist",
                               sqlstate="42883")
    kinds = list(function.args)
    if function.variadic:
        kinds += [kinds[-1]] * max(0, len(types) - len(kinds))
    if not len(kinds) - function.optional <= len(types) <= len(kinds):
        raise ProgrammingError(f"function {_signature(name, types)} does not exist",
                               sqlstate="42883")
    if not all(_kind_ok(kind, sql_type) for kind, sql_type in zip(kinds, types)):
        raise ProgrammingError(f"function {_signature(name, types)} does not exist",
                               sqlstate="42883")
    result = function.result
    if result == "arg0":
        result = types[0] if types[0] is not None else SqlType.REAL
    elif result == "common":
        try:
            result = common_type(types)
        except ValueError:
            raise ProgrammingError(f"function {_signature(name, types)} does not exist",
                                   sqlstate="42883") from None
    return function, result
