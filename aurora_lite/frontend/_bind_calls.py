"""Binding of calls: scalar functions (the ``exec`` registry) and aggregates.

A mixin of ``ExprBinder``: sqlglot turns many functions into their own node classes (Abs,
Substring, Trim, ...); ``_FUNCTIONS`` maps those to registry names and their arguments in SQL
order, and unknown names arrive as Anonymous. Aggregates become ``AggCall`` nodes, allowed
only where the caller allows them and never nested.
"""

from __future__ import annotations

from sqlglot import exp

from aurora_lite.errors import ProgrammingError
from aurora_lite.exec import AggCall, Const, Expr, Func, fold_constant, resolve_function
from aurora_lite.exec._functions import FUNCTIONS
from aurora_lite.frontend._errors import GROUPING_ERROR, not_supported
from aurora_lite.frontend._pg_names import is_pg_function
from aurora_lite.frontend._typing import (
    convert_untyped, is_untyped, type_name, unify_results,
)
from aurora_lite.values import SqlType

_AGGREGATES = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min",
               exp.Max: "max"}

# sqlglot function classes -> (registry name, argument keys in SQL order)
_FUNCTIONS = {
    exp.Abs: ("abs", ["this"]), exp.Ceil: ("ceil", ["this"]), exp.Floor: ("floor", ["this"]),
    exp.Sqrt: ("sqrt", ["this"]), exp.Exp: ("exp", ["this"]), exp.Ln: ("ln", ["this"]),
    exp.Sign: ("sign", ["this"]), exp.Pow: ("power", ["this", "expression"]),
    exp.Round: ("round", ["this", "decimals"]), exp.Trunc: ("trunc", ["this", "decimals"]),
    exp.Length: ("length", ["this"]), exp.Lower: ("lower", ["this"]),
    exp.Upper: ("upper", ["this"]), exp.Initcap: ("initcap", ["this"]),
    exp.Reverse: ("reverse", ["this"]), exp.Ascii: ("ascii", ["this"]),
    exp.Substring: ("substr", ["this", "start", "length"]),
    exp.Left: ("left", ["this", "expression"]), exp.Right: ("right", ["this", "expression"]),
    exp.Repeat: ("repeat", ["this", "times"]),
    exp.Replace: ("replace", ["this", "expression", "replacement"]),
    exp.StrPosition: ("strpos", ["this", "substr"]),
    exp.Pi: ("pi", []), exp.Rand: ("random", []),
    exp.CurrentTimestamp: ("now", []), exp.CurrentDate: ("current_date", []),
    exp.Localtimestamp: ("localtimestamp", []),
}




def fold(expr: Expr) -> Expr:
    """Fold ``expr`` when all its operands are constants."""
    children = expr.children()
    if children and all(isinstance(child, Const) for child in children):
        return fold_constant(expr)
    return expr


class CallBinder:
    """Function and aggregate calls (mixed into ExprBinder, which provides ``_bind``,
    ``position``, ``allow_aggregates``, ``clause`` and ``_in_aggregate``)."""

    def bind_call(self, node) -> Expr | None:
        """The bound call, or None when ``node`` is not a call this binder knows."""
        for cls, name in _AGGREGATES.items():
            if type(node) is cls:
                return self._aggregate(name, node)
        if type(node) in _FUNCTIONS:
            name, keys = _FUNCTIONS[type(node)]
            args = [node.args.get(key) for key in keys]
            while args and args[-1] is None:
                args.pop()
            return self._function(name, args, node)
        return None

    # -- functions -----------------------------------------------------------------------------
    def _function(self, name: str, arg_nodes: list, node) -> Expr:
        position = self.position(node)
        args = [self._bind(arg) if arg is not None else Const(None, None) for arg in arg_nodes]
        function_def = FUNCTIONS.get(name)
        if function_def is not None:
            kinds = list(function_def.args)
            if function_def.variadic and kinds:
                kinds += [kinds[-1]] * max(0, len(args) - len(kinds))
            converted = []
            for arg, kind in zip(args, kinds + ["any"] * len(args)):
                if is_untyped(arg) and kind in ("int", "num"):
                    arg = convert_untyped(arg, SqlType.INTEGER if kind == "int" else
                                          SqlType.REAL, position)
                converted.append(arg)
            args = converted
        try:
            function_def, result_type = resolve_function(name, [a.type for a in args])
        except ProgrammingError as error:
            error.position = position
            raise
        if function_def.result == "common":
            args, result_type = unify_results(args, name, position)
        nullable = any(arg.nullable for arg in args) if function_def.strict else True
        if function_def.may_return_null:
            nullable = True
        if not function_def.strict and name == "concat":
            nullable = False
        expr = Func(name, tuple(args), result_type, nullable)
        return expr if function_def.volatile else fold(expr)

    def _b_Anonymous(self, node: exp.Anonymous) -> Expr:
        name = node.name.lower()
        if name == "row":
            raise not_supported("row constructors (ROW(...))", self.position(node))
        if name not in FUNCTIONS and is_pg_function(name):
            raise not_supported(f"function {name}", self.position(node))
        return self._function(name, list(node.expressions), node)

    def _b_Trim(self, node: exp.Trim) -> Expr:
        position = (node.args.get("position") or "BOTH").upper()
        name = {"BOTH": "btrim", "LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "btrim")
        args = [node.this]
        if node.args.get("expression") is not None:
            args.append(node.args["expression"])
        if node.args.get("collation") is not None:
            raise not_supported("TRIM ... COLLATE", self.position(node))
        return self._function(name, args, node)

    def _b_Pad(self, node: exp.Pad) -> Expr:
        args = [node.this, node.args.get("expression")]
        if node.args.get("fill_pattern") is not None:
            args.append(node.args["fill_pattern"])
        return self._function("lpad" if node.args.get("is_left") else "rpad", args, node)

    def _b_Log(self, node: exp.Log) -> Expr:
        args = [node.this] + ([node.expression] if node.expression is not None else [])
        return self._function("log", args, node)

    def _b_Concat(self, node: exp.Concat) -> Expr:
        return self._function("concat", list(node.expressions), node)

    def _b_ConcatWs(self, node: exp.ConcatWs) -> Expr:
        return self._function("concat_ws", list(node.expressions), node)

    def _b_Greatest(self, node) -> Expr:
        return self._function("greatest", [node.this] + list(node.expressions), node)

    def _b_Least(self, node) -> Expr:
        return self._function("least", [node.this] + list(node.expressions), node)

    def _b_Chr(self, node) -> Expr:
        call = self._enclosing_call(node)
        if call is not None and call[0] != "chr":          # MySQL's char(65)
            raise self._undefined_function(call[0], node, call[1])
        return self._function("chr", list(node.expressions), node)

    # -- aggregates ----------------------------------------------------------------------------
    def _aggregate(self, name: str, node) -> Expr:
        position = self.position(node)
        if not self.allow_aggregates:
            raise ProgrammingError(f"aggregate functions are not allowed in {self.clause}",
                                   sqlstate=GROUPING_ERROR, position=position)
        if self._in_aggregate:
            raise ProgrammingError("aggregate function calls cannot be nested",
                                   sqlstate=GROUPING_ERROR, position=position)
        arg_node = node.this
        distinct = False
        if isinstance(arg_node, exp.Distinct):
            if len(arg_node.expressions) != 1:
                raise not_supported(f"{name}(DISTINCT ...) with several arguments", position)
            distinct = True
            arg_node = arg_node.expressions[0]
        if node.args.get("expressions"):
            raise ProgrammingError(f"function {name} takes one argument", sqlstate="42883",
                                   position=position)
        if name == "count" and (arg_node is None or isinstance(arg_node, exp.Star)):
            if distinct:
                raise near_star(position)
            return AggCall("count_star", None, False, SqlType.INTEGER, False)
        if arg_node is None:
            raise ProgrammingError(f"function {name}() does not exist", sqlstate="42883",
                                   position=position)
        self._in_aggregate = True
        try:
            arg = self._bind(arg_node)
        finally:
            self._in_aggregate = False
        if is_untyped(arg):
            arg = convert_untyped(arg, SqlType.TEXT, position)
        if name == "count":
            return AggCall("count", arg, distinct, SqlType.INTEGER, False)
        if name in ("sum", "avg"):
            if arg.type not in (SqlType.INTEGER, SqlType.REAL, None):
                raise ProgrammingError(f"function {name}({type_name(arg.type)}) does not exist",
                                       sqlstate="42883", position=position)
            result = SqlType.REAL if name == "avg" else (arg.type or SqlType.INTEGER)
            return AggCall(name, arg, distinct, result, True)
        return AggCall(name, arg, False, arg.type, True)


def near_star(position: int | None) -> ProgrammingError:
    return ProgrammingError('syntax error at or near "*"', sqlstate="42601", position=position)
