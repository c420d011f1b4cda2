"""Type rules of the binder, after PostgreSQL: operators, 'unknown' literals, assignment.

A quoted literal ('5') or a str parameter is *untyped*: it takes the type its context needs,
converted when the statement is bound (a literal: now, so a bad one is an error before any
row is read) or per execution (a parameter, through a Cast). Everything else must match:
``text = integer`` is ProgrammingError 42883, as in PostgreSQL.
"""

from __future__ import annotations

from aurora_lite.errors import DataError, ProgrammingError
from aurora_lite.exec import Cast, Const, Expr, Param, common_type
from aurora_lite.exec._runtime import cast_function
from aurora_lite.frontend._errors import DATATYPE_MISMATCH, UNDEFINED_FUNCTION
from aurora_lite.values import SqlType, type_display_name

NUMERIC = (SqlType.INTEGER, SqlType.REAL)
_INPUT_NAMES = {SqlType.INTEGER: "bigint", SqlType.REAL: "double precision",
                SqlType.BOOLEAN: "boolean", SqlType.DATE: "date",
                SqlType.TIMESTAMP: "timestamp", SqlType.BYTEA: "bytea", SqlType.TEXT: "text"}


def type_name(sql_type: SqlType | None) -> str:
    return "unknown" if sql_type is None else type_display_name(sql_type)


def is_untyped(expr: Expr) -> bool:
    return isinstance(expr, (Const, Param)) and expr.untyped


def convert_untyped(expr: Expr, target: SqlType | None, position: int | None = None) -> Expr:
    """An untyped literal or parameter as a value of ``target``."""
    if target is None or target is SqlType.TEXT or not is_untyped(expr):
        return expr
    if isinstance(expr, Const):
        if expr.value is None:
            return Const(None, target)
        try:
            return Const(cast_function(SqlType.TEXT, target)(expr.value), target)
        except DataError as error:
            message = error.message
            if "invalid input syntax" not in message and target in _INPUT_NAMES:
                message = (f'invalid input syntax for type {_INPUT_NAMES[target]}: '
                           f'"{expr.value}"')
            raise DataError(message, sqlstate=error.sqlstate if error.sqlstate != "22000"
                            else "22P02", position=position) from None
    return Cast(expr, target)


def operator_error(op: str, left: Expr, right: Expr, position: int | None) -> ProgrammingError:
    return ProgrammingError(f"operator does not exist: {type_name(left.type)} {op} "
                            f"{type_name(right.type)}", sqlstate=UNDEFINED_FUNCTION,
                            position=position)


def unify_comparison(op: str, left: Expr, right: Expr, position: int | None
                     ) -> tuple[Expr, Expr]:
    """Operands of a comparison made comparable (or ProgrammingError 42883)."""
    if is_untyped(left) and not is_untyped(right):
        left = convert_untyped(left, right.type, position)
    elif is_untyped(right) and not is_untyped(left):
        right = convert_untyped(right, left.type, position)
    a, b = left.type, right.type
    if a is None or b is None or a == b:
        return left, right
    if a in NUMERIC and b in NUMERIC:
        return left, right
    if {a, b} == {SqlType.DATE, SqlType.TIMESTAMP}:
        if a is SqlType.DATE:
            return Cast(left, SqlType.TIMESTAMP), right
        return left, Cast(right, SqlType.TIMESTAMP)
    raise operator_error(op, left, right, position)


def arithmetic(op: str, left: Expr, right: Expr, position: int | None
               ) -> tuple[Expr, Expr, SqlType]:
    """Operands and result type of ``left op right`` for + - * / %."""
    if is_untyped(left) and not is_untyped(right) and right.type in NUMERIC + (SqlType.DATE,):
        left = convert_untyped(left, right.type if right.type in NUMERIC else SqlType.INTEGER,
                               position)
    if is_untyped(right) and not is_untyped(left) and left.type in NUMERIC + (SqlType.DATE,):
        right = convert_untyped(right, left.type if left.type in NUMERIC else
                                SqlType.INTEGER, position)
    a, b = left.type, right.type
    if a is None and b is None:
        return left, right, SqlType.INTEGER
    if a is None or b is None:
        known = a if b is None else b
        if known in NUMERIC:
            return left, right, known
    if a in NUMERIC and b in NUMERIC:
        return left, right, SqlType.INTEGER if a == b == SqlType.INTEGER else SqlType.REAL
    if op in "+-" and a is SqlType.DATE and b is SqlType.INTEGER:
        return left, right, SqlType.DATE
    if op == "+" and a is SqlType.INTEGER and b is SqlType.DATE:
        return left, right, SqlType.DATE
    if op == "-" and a is SqlType.DATE and b is SqlType.DATE:
        return left, right, SqlType.INTEGER
    raise operator_error(op, left, right, position)


def as_text(expr: Expr) -> Expr:
    if expr.type is SqlType.TEXT or expr.type is None:
        return expr
    return Cast(expr, SqlType.TEXT)


def concat_operands(left: Expr, right: Expr, position: int | None) -> tuple[Expr, Expr]:
    """``||``: text with anything (the other side converted to text)."""
    text_like = (SqlType.TEXT, None)
    if left.type not in text_like and right.type not in text_like:
        raise operator_error("||", left, right, position)
    return as_text(left), as_text(right)


def require_boolean(expr: Expr, what: str, position: int | None) -> Expr:
    if is_untyped(expr):
        expr = convert_untyped(expr, SqlType.BOOLEAN, position)
    if expr.type not in (SqlType.BOOLEAN, None):
        raise ProgrammingError(f"argument of {what} must be type boolean, not type "
                               f"{type_name(expr.type)}", sqlstate=DATATYPE_MISMATCH,
                               position=position)
    return expr


def unify_results(exprs: list[Expr], what: str, position: int | None
                  ) -> tuple[list[Expr], SqlType | None]:
    """Branches of CASE / COALESCE / greatest made one type (integers widen to double)."""
    typed = [e.type for e in exprs if not is_untyped(e)]
    try:
        result = common_type(typed)
    except ValueError as error:
        a, b = error.args[0]
        raise ProgrammingError(f"{what} types {type_name(a)} and {type_name(b)} cannot be "
                               "matched", sqlstate=DATATYPE_MISMATCH, position=position) from None
    if result is None and any(is_untyped(e) for e in exprs):
        result = SqlType.TEXT
    out = []
    for expr in exprs:
        if is_untyped(expr):
            expr = convert_untyped(expr, result, position)
        elif expr.type is not None and expr.type != result and result is not None:
            expr = Cast(expr, result)
        elif expr.type is None and result is not None and isinstance(expr, Const):
            expr = Const(None, result)
        out.append(expr)
    return out, result


# Implicit conversions allowed when a value is assigned to a column (INSERT, UPDATE).
_ASSIGNABLE = {
    SqlType.INTEGER: {SqlType.INTEGER, SqlType.REAL},
    SqlType.REAL: {SqlType.INTEGER, SqlType.REAL},
    SqlType.TEXT: set(SqlType),
    SqlType.BOOLEAN: {SqlType.BOOLEAN},
    SqlType.BYTEA: {SqlType.BYTEA},
    SqlType.DATE: {SqlType.DATE, SqlType.TIMESTAMP},
    SqlType.TIMESTAMP: {SqlType.DATE, SqlType.TIMESTAMP},
}


def assignment(expr: Expr, target: SqlType, column: str, position: int | None) -> Expr:
    """``expr`` as assigned to a column of type ``target`` (42804 if it cannot be)."""
    if is_untyped(expr):
        return convert_untyped(expr, target, position)
    source = expr.type
    if source is None or source == target:
        return expr
    if source not in _ASSIGNABLE[target]:
        raise ProgrammingError(f'column "{column}" is of type {type_name(target)} but '
                               f"expression is of type {type_name(source)}",
                               sqlstate=DATATYPE_MISMATCH, position=position)
    return Cast(expr, target)
