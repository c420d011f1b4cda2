"""Compile bound expressions to Python source, once per prepared plan.

Operators process whole batches with generated list comprehensions, so an expression becomes a
Python *expression string* over the row variable (``r`` by default, or any text a join asks
for) and the parameter tuple ``p``. SQL NULL is Python None; three-valued logic is spelled out
with assignment expressions (``(_t1 := ...)``) so that each operand is evaluated once, and NULL
checks are left out wherever the binder proved a value non-NULL.

Two renderings exist for boolean expressions: ``value`` (True / False / None, for SELECT lists)
and ``truth`` (a Python truth value that is true only when the SQL value is TRUE, for WHERE,
ON, HAVING and CASE WHEN, where FALSE and NULL act alike and most NULL logic disappears).
"""

from __future__ import annotations

import math
import re
from typing import Callable

from aurora_lite.errors import InternalError
from aurora_lite.exec._expr import (
    AggCall, And, Arith, Case, Cast, Coalesce, ColumnRef, Compare, Concat, Const, Expr, Field,
    Func, InList, IsDistinct, IsNull, Like, Negate, Not, Or, Param, Subquery, is_constant, walk,
)
from aurora_lite.exec._functions import FUNCTIONS
from aurora_lite.exec._runtime import RUNTIME, cast_function, like_matcher
from aurora_lite.exec._subquery import SubqueryRunner
from aurora_lite.values import SqlType

_CODE: dict[str, object] = {}
_CODE_LIMIT = 4096
_PY_OPS = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_MIN, _MAX = -(1 << 63), (1 << 63) - 1


def _simple(expr: Expr) -> bool:
    """Cheap to evaluate twice (no temporary needed)."""
    return isinstance(expr, (Field, Const, Param))


class Codegen:
    """Builds the source of one or more generated functions sharing a namespace."""

    def __init__(self, field: Callable[[int], str] | None = None) -> None:
        self.namespace: dict[str, object] = dict(RUNTIME)
        self.field = field or (lambda index: f"r[{index}]")
        self._count = 0
        self._params: set[int] = set()

    # -- names -----------------------------------------------------------------------------
    def temp(self) -> str:
        self._count += 1
        return f"_t{self._count}"

    def constant(self, value: object) -> str:
        if value is None or isinstance(value, bool):
            return repr(value)
        if isinstance(value, int):
            return f"({value})" if value < 0 else repr(value)
        if isinstance(value, float) and math.isfinite(value):
            return f"({value!r})" if value < 0 else repr(value)
        if isinstance(value, str) and len(value) < 200:
            return repr(value)
        return self.bind(value)

    def bind(self, value: object, prefix: str = "_k") -> str:
        """Put ``value`` in the namespace and return its name."""
        self._count += 1
        name = f"{prefix}{self._count}"
        self.namespace[name] = value
        return name

    def compile(self, source: str, name: str) -> Callable:
        source = self._hoist_parameters(source)
        code = _CODE.get(source)
        if code is None:
            # Many plans generate the same source (a join on r[0], a filter on r[1] > _p0):
            # compiling costs ~100 us, so code objects are shared; namespaces never are.
            code = compile(source, f"<aurora_lite generated {name}>", "exec")
            if len(_CODE) >= _CODE_LIMIT:
                _CODE.clear()
            _CODE[source] = code
        exec(code, self.namespace)          # noqa: S102 - source generated from the bound plan
        return self.namespace[name]

    def _hoist_parameters(self, source: str) -> str:
        """Read each parameter once per call into a local (``_p0 = p[0]``): the per-row code
        then loads a local or a cell instead of indexing the tuple for every row."""
        used = sorted(self._params)
        if not used:
            return source
        lines = []
        for line in source.split("\n"):
            lines.append(line)
            if line.startswith("def ") and re.match(r"def \w+\((.*\b)?p\b", line):
                lines.extend(f"    _p{index} = p[{index}]" for index in used)
        return "\n".join(lines)

    # -- NULL plumbing ---------------------------------------------------------------------
    def _strict(self, args: list[Expr], build: Callable[..., str]) -> str:
        """``build(*operand_sources)``, or NULL when a nullable operand is NULL."""
        checks = []
        operands = []
        for arg in args:
            source = self.value(arg)
            if arg.nullable:
                if isinstance(arg, Const):        # a NULL constant: the result is NULL
                    return "None"
                name = self.temp()
                checks.append(f"({name} := {source}) is None")
                operands.append(name)
            else:
                operands.append(source)
        body = build(*operands)
        if not checks:
            return body
        return f"(None if {' or '.join(checks)} else {body})"

    # -- values ----------------------------------------------------------------------------
    def value(self, expr: Expr) -> str:
        method = getattr(self, "_v_" + type(expr).__name__, None)
        if method is None:
            raise InternalError(f"cannot compile {type(expr).__name__}")
        return method(expr)

    def _v_Const(self, expr: Const) -> str:
        return self.constant(expr.value)

    def _v_Param(self, expr: Param) -> str:
        self._params.add(expr.index)
        return f"_p{expr.index}"

    def _v_Field(self, expr: Field) -> str:
        return self.field(expr.index)

    def _v_ColumnRef(self, expr: ColumnRef) -> str:
        raise InternalError(f"unresolved column reference {expr.name}")

    def _v_AggCall(self, expr: AggCall) -> str:
        raise InternalError("aggregate call outside an Aggregate operator")

    def _v_Arith(self, expr: Arith) -> str:
        op = expr.op
        left_type, right_type = expr.left.type, expr.right.type
        if SqlType.DATE in (left_type, right_type):
            if left_type is SqlType.DATE and right_type is SqlType.DATE:
                return self._strict([expr.left, expr.right], lambda a, b: f"_date_minus({a}, {b})")
            if left_type is SqlType.DATE:
                sign = "" if op == "+" else "-"
                return self._strict([expr.left, expr.right],
                                    lambda a, b: f"_date_plus({a}, {sign}{b})")
            return self._strict([expr.right, expr.left], lambda a, b: f"_date_plus({a}, {b})")
        if expr.type is SqlType.INTEGER:
            if op in "+-*":
                result = self.temp()
                return self._strict(
                    [expr.left, expr.right],
                    lambda a, b: f"({result} if {_MIN} <= ({result} := {a} {op} {b}) <= {_MAX} "
                                 f"else _overflow())")
            helper = "_idiv" if op == "/" else "_imod"
        else:
            if op in "+-*":
                return self._strict([expr.left, expr.right], lambda a, b: f"({a} {op} {b})")
            helper = "_fdiv" if op == "/" else "_fmod"
        return self._strict([expr.left, expr.right], lambda a, b: f"{helper}({a}, {b})")

    def _v_Negate(self, expr: Negate) -> str:
        if expr.type is SqlType.INTEGER:
            name = self.temp()
            return self._strict([expr.arg], lambda a: f"(-{name} if ({name} := {a}) != {_MIN} "
                                                      f"else _overflow())")
        return self._strict([expr.arg], lambda a: f"(-{a})")

    def _v_Concat(self, expr: Concat) -> str:
        return self._strict([expr.left, expr.right], lambda a, b: f"({a} + {b})")

    def _v_Compare(self, expr: Compare) -> str:
        op = _PY_OPS[expr.op]
        return self._strict([expr.left, expr.right], lambda a, b: f"({a} {op} {b})")

    def _v_IsDistinct(self, expr: IsDistinct) -> str:
        op = "==" if expr.negated else "!="
        return f"({self.value(expr.left)} {op} {self.value(expr.right)})"

    def _v_IsNull(self, expr: IsNull) -> str:
        if not expr.arg.nullable:
            return "False" if not expr.negated else "True"
        return f"({self.value(expr.arg)} is {'not ' if expr.negated else ''}None)"

    def _v_And(self, expr: And) -> str:
        if not expr.nullable:
            return "(" + " and ".join(self.value(arg) for arg in expr.args) + ")"
        result = self.value(expr.args[0])
        for arg in expr.args[1:]:
            a, b = self.temp(), self.temp()
            result = (f"(False if ({a} := {result}) is False or ({b} := {self.value(arg)}) is "
                      f"False else (None if {a} is None or {b} is None else True))")
        return result

    def _v_Or(self, expr: Or) -> str:
        if not expr.nullable:
            return "(" + " or ".join(self.value(arg) for arg in expr.args) + ")"
        result = self.value(expr.args[0])
        for arg in expr.args[1:]:
            a, b = self.temp(), self.temp()
            result = (f"(True if ({a} := {result}) is True or ({b} := {self.value(arg)}) is "
                      f"True else (None if {a} is None or {b} is None else False))")
        return result

    def _v_Not(self, expr: Not) -> str:
        return self._strict([expr.arg], lambda a: f"(not {a})")

    def _v_InList(self, expr: InList) -> str:
        constants = [item for item in expr.items if isinstance(item, Const)]
        if len(constants) == len(expr.items):
            members = frozenset(item.value for item in constants if item.value is not None)
            has_null = any(item.value is None for item in constants)
            name = self.bind(members, "_set")
            yes, no = ("False", "True") if expr.negated else ("True", "False")
            miss = "None" if has_null else no
            return self._strict([expr.arg], lambda a: f"({yes} if {a} in {name} else {miss})")
        # General items: x IN (a, b) is x = a OR x = b, evaluated with three-valued logic.
        arg = expr.arg
        prefix = ""
        if not _simple(arg):
            name = self.temp()
            prefix = f"{name} := {self.value(arg)}"
            arg = Field(-1, arg.type, arg.nullable, name)
            saved = self.field
            self.field = lambda index, saved=saved, name=name: name if index == -1 else \
                saved(index)
        else:
            saved = None
        try:
            body = self.value(Or(tuple(Compare("=", arg, item) for item in expr.items)))
        finally:
            if saved is not None:
                self.field = saved
        if expr.negated:
            inner = self.temp()
            body = f"(None if ({inner} := {body}) is None else not {inner})"
        return f"((({prefix}), {body})[1])" if prefix else body

    def _v_Like(self, expr: Like) -> str:
        if isinstance(expr.pattern, Const) and expr.pattern.value is not None:
            matcher = self.bind(like_matcher(expr.pattern.value, expr.escape,
                                             expr.case_insensitive), "_like")
            test = "is None" if expr.negated else "is not None"
            return self._strict([expr.arg], lambda a: f"({matcher}({a}) {test})")
        negate = "not " if expr.negated else ""
        escape, ci = repr(expr.escape), expr.case_insensitive
        return self._strict([expr.arg, expr.pattern],
                            lambda a, b: f"({negate}_like({a}, {b}, {escape}, {ci}))")

    def _v_Case(self, expr: Case) -> str:
        result = "None" if expr.default is None else self.value(expr.default)
        if expr.operand is None:
            for condition, value in reversed(expr.whens):
                result = f"({self.value(value)} if {self.truth(condition)} else {result})"
            return result
        operand = self.temp()
        for index, (when, value) in reversed(list(enumerate(expr.whens))):
            left = f"({operand} := {self.value(expr.operand)})" if index == 0 else operand
            test = f"{left} is not None and {operand} == {self.value(when)}"
            if not when.nullable:
                test = f"({test})"
            else:
                w = self.temp()
                test = f"({left} is not None and ({w} := {self.value(when)}) is not None and " \
                       f"{operand} == {w})"
            result = f"({self.value(value)} if {test} else {result})"
        return result

    def _v_Cast(self, expr: Cast) -> str:
        function = cast_function(expr.arg.type, expr.type, expr.max_length)
        if function is None:
            return self.value(expr.arg)
        name = self.bind(function, "_cast")
        return self._strict([expr.arg], lambda a: f"{name}({a})")

    def _v_Coalesce(self, expr: Coalesce) -> str:
        result = self.value(expr.args[-1])
        for arg in reversed(expr.args[:-1]):
            if not arg.nullable:
                result = self.value(arg)
                continue
            name = self.temp()
            result = f"({name} if ({name} := {self.value(arg)}) is not None else {result})"
        return result

    def _v_Func(self, expr: Func) -> str:
        function = FUNCTIONS[expr.name]
        name = self.bind(function.body, "_fn")
        if function.strict:
            return self._strict(list(expr.args),
                                lambda *args: f"{name}({', '.join(args)})")
        return f"{name}({', '.join(self.value(arg) for arg in expr.args)})"

    def _v_Subquery(self, expr: Subquery) -> str:
        runner = self.bind(SubqueryRunner(expr), "_sq")
        key = "(" + "".join(self.value(arg) + ", " for arg in expr.args) + ")"
        if expr.kind in ("exists", "scalar"):
            return f"{runner}(p, {key})"
        return f"{runner}.test(p, {key}, {self.value(expr.operand)})"

    # -- truth (WHERE / ON / HAVING) -------------------------------------------------------
    def truth(self, expr: Expr) -> str:
        """Python source that is truthy exactly when ``expr`` is SQL TRUE."""
        if isinstance(expr, And):
            return "(" + " and ".join(self.truth(arg) for arg in expr.args) + ")"
        if isinstance(expr, Or):
            return "(" + " or ".join(self.truth(arg) for arg in expr.args) + ")"
        if isinstance(expr, Compare):
            return self._compare_truth(expr)
        if isinstance(expr, Not) and expr.arg.nullable:
            return f"({self.value(expr.arg)} is False)"
        if isinstance(expr, InList) and not expr.negated and \
                all(isinstance(item, Const) for item in expr.items):
            members = frozenset(item.value for item in expr.items if item.value is not None)
            return f"({self.value(expr.arg)} in {self.bind(members, '_set')})"
        if isinstance(expr, Like) and isinstance(expr.pattern, Const) and \
                expr.pattern.value is not None and not expr.negated:
            matcher = self.bind(like_matcher(expr.pattern.value, expr.escape,
                                             expr.case_insensitive), "_like")
            if not expr.arg.nullable:
                return f"({matcher}({self.value(expr.arg)}) is not None)"
            name = self.temp()
            return f"(({name} := {self.value(expr.arg)}) is not None and " \
                   f"{matcher}({name}) is not None)"
        if isinstance(expr, Const):
            return "True" if expr.value is True else "False"
        if expr.nullable:
            return f"({self.value(expr)} is True)"
        return self.value(expr)

    def _compare_truth(self, expr: Compare) -> str:
        op = _PY_OPS[expr.op]
        left, right = expr.left, expr.right
        if isinstance(left, Const) and left.value is None or \
                isinstance(right, Const) and right.value is None:
            return "False"
        if not left.nullable and not right.nullable:
            return f"({self.value(left)} {op} {self.value(right)})"
        if op == "==" and not (left.nullable and right.nullable):
            return f"({self.value(left)} == {self.value(right)})"
        parts = []
        operands = []
        for side in (left, right):
            if side.nullable:
                name = self.temp()
                parts.append(f"({name} := {self.value(side)}) is not None")
                operands.append(name)
            else:
                operands.append(self.value(side))
        parts.append(f"{operands[0]} {op} {operands[1]}")
        return "(" + " and ".join(parts) + ")"


def evaluate_constant(expr: Expr, params: tuple = ()) -> object:
    """Evaluate an expression that reads no row (errors propagate)."""
    generator = Codegen()
    function = generator.compile(f"def _const(p):\n    return {generator.value(expr)}\n",
                                 "_const")
    return function(params)


def fold_constant(expr: Expr) -> Expr:
    """``expr`` replaced by a Const when it reads neither rows nor parameters nor volatile
    functions and evaluates without error (an error is left to happen at run time)."""
    if isinstance(expr, Const) or not is_constant(expr):
        return expr
    for node in walk(expr):
        if isinstance(node, (Param, Subquery)) or \
                isinstance(node, Func) and FUNCTIONS[node.name].volatile:
            return expr
    try:
        value = evaluate_constant(expr)
    except Exception:        # noqa: BLE001 - the error belongs to execution, not planning
        return expr
    return Const(value, expr.type)
