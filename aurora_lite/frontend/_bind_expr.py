"""Binding of scalar expressions: sqlglot nodes -> typed ``aurora_lite.exec`` IR.

Every node type is handled explicitly; anything else is NotSupportedError naming it, so a
construct sqlglot understands but we do not is never silently misread. Names resolve through
a ``Scope``; aggregate calls are allowed only where the caller says so; constant
subexpressions are folded as they are built. Subqueries (scalar, EXISTS, IN, op ANY/ALL) are
bound by the statement's query binder (``queries``, see ``_bind_query``) in this scope, so
their references to this query's columns make them correlated.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.tokens import TokenType

from aurora_lite.errors import Error, NotSupportedError, ProgrammingError
from aurora_lite.exec import (
    And, Arith, Case, Cast, Coalesce, Compare, Concat, Const, Expr, InList, IsDistinct, IsNull,
    Like, Negate, Not, Or, Param, check_cast,
)
from aurora_lite.frontend._bind_calls import CallBinder, fold
from aurora_lite.frontend._errors import UNDEFINED_FUNCTION, not_supported
from aurora_lite.frontend._parse import tokenize
from aurora_lite.frontend._pg_names import CONSTRUCTS, is_pg_function
from aurora_lite.frontend._scope import Scope
from aurora_lite.frontend._typing import (
    arithmetic, concat_operands, convert_untyped, is_untyped, require_boolean, type_name,
    unify_comparison, unify_results,
)
from aurora_lite.values import INT64_MAX, INT64_MIN, SqlType, parse_type_name

_COMPARE = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_ARITH = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_NAME = re.compile(r'[A-Za-z_][A-Za-z_0-9$]*|"(?:[^"]|"")+"')
# Words that may stand before "(" without being the name of a call.
_NOT_CALLS = {"in", "exists", "values", "any", "all", "some", "over", "from", "as", "on",
              "using", "filter", "within", "and", "or", "not", "select", "where", "when",
              "then", "else", "by", "is", "like", "ilike", "between", "case"}
# Operators sqlglot turns into function nodes, spelled as PostgreSQL spells them.
_OPERATOR_TEXT = {"RegexpLike": ("~", "!~"), "RegexpILike": ("~*", "!~*")}


def identifier(node) -> str:
    """An identifier folded as PostgreSQL folds it (unquoted: lower case)."""
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.lower()
    if isinstance(node, str):
        return node.lower()
    return node.name.lower()


def _fold_name(text: str) -> str:
    """A name as PostgreSQL resolves it: quoted as written, unquoted in lower case."""
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def sql_type_of(node: exp.DataType, position: int | None) -> tuple[SqlType, int | None, str]:
    """(storage type, length limit, declared name) of a sqlglot DataType."""
    declared = node.sql(dialect="postgres")
    if declared.upper() in ("SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4",
                            "SERIAL8"):
        # Only a column definition may say SERIAL (it is not a type in PostgreSQL).
        raise ProgrammingError(f'type "{declared.lower()}" does not exist', sqlstate="42704",
                               position=position)
    try:
        sql_type, limit = parse_type_name(declared)
    except NotSupportedError:
        if node.this == exp.DataType.Type.USERDEFINED:
            raise ProgrammingError(f'type "{declared.lower()}" does not exist',
                                   sqlstate="42704", position=position) from None
        raise NotSupportedError(f"type {declared} is not supported",
                                position=position) from None
    return sql_type, limit, declared


class ExprBinder(CallBinder):
    """Binds expressions of one statement against a scope and the parameter types."""

    def __init__(self, scope: Scope, params: list, parsed) -> None:
        self.scope = scope
        self.params = params
        self.parsed = parsed
        self.allow_aggregates = False
        self.clause = "WHERE"
        self._in_aggregate = False
        self._starts: dict[int, tuple] = {}
        # The statement's query binder (``_bind_query.QueryBinder``), which binds subqueries;
        # None where PostgreSQL allows no subquery (DEFAULT, LIMIT).
        self.queries = None

    def position(self, node) -> int | None:
        """The 1-based position of ``node`` in the original text (its earliest token)."""
        return self.parsed.original_position(self._start(node))

    def _start(self, node) -> int | None:
        # Memoised per node: positions are asked for at every level of nested expressions,
        # and a fresh walk of each subtree would make binding quadratic in the nesting.
        key = id(node)
        if key in self._starts:
            return self._starts[key][1]
        meta = getattr(node, "_meta", None)
        best = meta.get("start") if meta else None
        if best is not None:
            best += 1
        for child in node.iter_expressions() if hasattr(node, "iter_expressions") else ():
            start = self._start(child)
            if start is not None and (best is None or start < best):
                best = start
        self._starts[key] = (node, best)
        return best

    # -- entry points --------------------------------------------------------------------------
    def bind(self, node, *, clause: str = "WHERE", aggregates: bool = False) -> Expr:
        saved = self.clause, self.allow_aggregates
        self.clause, self.allow_aggregates = clause, aggregates
        try:
            return self._bind(node)
        finally:
            self.clause, self.allow_aggregates = saved

    def bind_condition(self, node, clause: str, *, aggregates: bool = False) -> Expr:
        expr = self.bind(node, clause=clause, aggregates=aggregates)
        return require_boolean(expr, clause, self.position(node))

    def _bind(self, node) -> Expr:
        if isinstance(node, exp.Func) and getattr(node, "_meta", None) and \
                type(node) is not exp.Anonymous:
            # sqlglot maps other dialects' names onto its classes (MySQL's ifnull is a
            # Coalesce): a call is run only under a name PostgreSQL has.
            call = self.call_name(node)
            if call is not None and not is_pg_function(call[0]):
                raise self._undefined_function(call[0], node, call[1])
        method = getattr(self, "_b_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        for cls, op in _COMPARE.items():
            if type(node) is cls:
                return self._compare(op, node.this, node.expression, node)
        for cls, op in _ARITH.items():
            if type(node) is cls:
                return self._arith(op, node)
        bound = self.bind_call(node)
        if bound is not None:
            return bound
        return self._unsupported(node)

    def _unsupported(self, node) -> Expr:
        """Raise the error for a node this binder does not run, naming what the user wrote:
        NotSupportedError (0A000) for what PostgreSQL has, ProgrammingError 42883 for a
        function PostgreSQL does not have either."""
        position = self.position(node)
        if isinstance(node, (exp.Select, exp.Subquery, exp.Exists, exp.Union, exp.Intersect,
                             exp.Except)):
            raise not_supported(f"a subquery in {self.clause}", position)
        if isinstance(node, exp.Window):
            raise NotSupportedError("window functions (... OVER (...)) are not supported",
                                    position=position)
        if isinstance(node, exp.Star):
            raise ProgrammingError("* is allowed only in a select list or count(*)",
                                   sqlstate="42601", position=position)
        kind = type(node).__name__
        is_call = isinstance(node, (exp.Func, exp.IntDiv))      # IntDiv: div(a, b)
        call = self.call_name(node) if is_call else None
        if call is None and kind in _OPERATOR_TEXT:
            raise self._unsupported_operator(node, negated=False)
        if call is None and kind in CONSTRUCTS:
            raise not_supported(CONSTRUCTS[kind], position)
        if call is None and is_call:
            call = self._enclosing_call(node) or self._generated_call(node)
        if call is not None:
            name, at = call
            if is_pg_function(name):
                raise not_supported(f"function {name}", at or position)
            raise self._undefined_function(name, node, at or position)
        raise not_supported(f"the expression {node.sql(dialect='postgres')[:60]!r}", position)

    def _unsupported_operator(self, node, *, negated: bool) -> NotSupportedError:
        """``~`` and friends (sqlglot reads them as function nodes), pointed at the operator."""
        plain, negative = _OPERATOR_TEXT[type(node).__name__]
        written = plain
        at = self.position(node)
        left, right = self.position(node.this), self.position(node.expression)
        sql = self.parsed.sql
        if left is not None and right is not None and left < right:
            between = sql[left - 1:right - 1]
            for text in (negative, plain):
                found = between.rfind(text)
                if found >= 0:
                    written = text if negated else plain
                    at = left + found
                    break
        elif negated:
            written = negative
        what = "regular expression match" + (" (case-insensitive)" if "*" in plain else "")
        return not_supported(f"the {written} operator ({what})", at)

    def call_name(self, node) -> tuple[str, int | None] | None:
        """(name as written, 1-based position) of a call ``name(...)`` that sqlglot parsed
        into ``node``, when the node remembers the name's token; else None."""
        meta = getattr(node, "_meta", None)
        if not meta or meta.get("start") is None or meta.get("end") is None:
            return None
        at = self.parsed.original_position(meta["start"] + 1)
        text = self.parsed.sql[at - 1:at + meta["end"] - meta["start"]]
        if not _NAME.fullmatch(text) or \
                not self.parsed.sql[at + meta["end"] - meta["start"]:].lstrip().startswith("("):
            return None
        return _fold_name(text), at

    def _enclosing_call(self, node) -> tuple[str, int] | None:
        """The name before the innermost unclosed "(" ahead of the node's first token: the
        call's name for nodes sqlglot built without keeping it (string_agg, date_part)."""
        start = self.position(node)
        if start is None:
            return None
        try:
            tokens = tokenize(self.parsed.sql)
        except Error:
            return None
        before = [token for token in tokens if token.start < start - 1]
        depth = 0
        for index in range(len(before) - 1, 0, -1):
            kind = before[index].token_type
            if kind == TokenType.R_PAREN:
                depth += 1
            elif kind == TokenType.L_PAREN:
                if depth:
                    depth -= 1
                    continue
                candidate = before[index - 1]
                text = candidate.text
                if candidate.token_type == TokenType.IDENTIFIER:
                    text = '"' + text + '"'
                if _NAME.fullmatch(text) and text.lower() not in _NOT_CALLS:
                    return _fold_name(text), candidate.start + 1
        return None

    @staticmethod
    def _generated_call(node) -> tuple[str, None] | None:
        """The call's name as sqlglot writes the node in PostgreSQL's dialect."""
        try:
            text = node.sql(dialect="postgres")
        except Exception:             # noqa: BLE001 - a message only; never fail here
            return None
        match = re.match(r"([A-Za-z_][A-Za-z_0-9]*)\(", text)
        return (match.group(1).lower(), None) if match else None

    def _undefined_function(self, name: str, node, position) -> ProgrammingError:
        """42883 naming ``name`` with its argument types when they bind."""
        args = []
        for key in node.arg_types:
            value = node.args.get(key)
            for item in value if isinstance(value, list) else [value]:
                # Arguments sqlglot made up (log2(x) is Log(2, x)) have no position.
                if isinstance(item, exp.Expression) and self._start(item) is not None:
                    args.append(item)
        signature = name
        try:
            bound = [self._bind(arg) for arg in args]
        except Error:
            pass
        else:
            signature += "(" + ", ".join("unknown" if is_untyped(arg) else type_name(arg.type)
                                         for arg in bound) + ")"
        return ProgrammingError(f"function {signature} does not exist",
                                sqlstate=UNDEFINED_FUNCTION, position=position)

    # -- leaves --------------------------------------------------------------------------------
    def _b_Column(self, node: exp.Column) -> Expr:
        if isinstance(node.this, exp.Star):
            raise ProgrammingError("* is allowed only in a select list", sqlstate="42601",
                                   position=self.position(node))
        if node.args.get("db") or node.args.get("catalog"):
            raise not_supported("a schema-qualified column reference", self.position(node))
        qualifier = identifier(node.args["table"]) if node.args.get("table") else None
        return self.scope.resolve(identifier(node.this), qualifier, self.position(node))

    def _b_Literal(self, node: exp.Literal) -> Expr:
        text = node.this
        if node.is_string:
            return Const(text, SqlType.TEXT, untyped=True)
        if text.isdigit():
            value = int(text)
            if value <= INT64_MAX:
                return Const(value, SqlType.INTEGER)
        try:
            return Const(float(text), SqlType.REAL)
        except ValueError:
            raise ProgrammingError(f'invalid number "{text}"', sqlstate="42601",
                                   position=self.position(node)) from None

    def _b_RawString(self, node: exp.RawString) -> Expr:
        # PostgreSQL's dollar-quoted string ($$text$$, $tag$text$tag$): the text as written.
        return Const(node.this, SqlType.TEXT, untyped=True)

    def _b_Null(self, node) -> Expr:
        return Const(None, None)

    def _b_Boolean(self, node: exp.Boolean) -> Expr:
        return Const(bool(node.this), SqlType.BOOLEAN)

    def _b_Parameter(self, node: exp.Parameter) -> Expr:
        inner = node.this
        if not isinstance(inner, exp.Literal) or inner.is_string:
            raise not_supported("this parameter form", self.position(node))
        index = int(inner.this) - 1
        if not 0 <= index < len(self.params):
            raise ProgrammingError(f"there is no parameter ${index + 1}", sqlstate="42P02",
                                   position=self.position(node))
        sql_type, untyped, nullable = self.params[index]
        return Param(index, sql_type, nullable, untyped)

    def _b_Placeholder(self, node) -> Expr:
        raise not_supported("this placeholder form", self.position(node))

    def _b_Paren(self, node: exp.Paren) -> Expr:
        return self._bind(node.this)

    # -- subqueries ----------------------------------------------------------------------------
    def _value_subquery(self, query_node, kind: str, node, operand=None, op: str = "=") -> Expr:
        if self.queries is None:
            raise not_supported(f"a subquery in {self.clause}", self.position(node))
        return self.queries.value_subquery(query_node, kind, self, operand, op,
                                           self.position(node))

    def _b_Subquery(self, node: exp.Subquery) -> Expr:
        if node.args.get("alias") is not None:
            raise not_supported("an alias on a subquery here", self.position(node))
        return self._value_subquery(node, "scalar", node)

    def _b_Exists(self, node: exp.Exists) -> Expr:
        return self._value_subquery(node.this, "exists", node)

    def _quantified(self, op: str, left_node, right_node, node) -> Expr:
        kind = "all" if isinstance(right_node, exp.All) else "any"
        query = right_node.this
        if not isinstance(query, (exp.Select, exp.Subquery, exp.Union, exp.Intersect,
                                  exp.Except)):
            raise not_supported(f"{kind.upper()} with anything but a subquery",
                                self.position(right_node))
        operand = self._bind(left_node)
        return self._value_subquery(query, kind, node, operand, op)

    # -- operators -----------------------------------------------------------------------------
    def _compare(self, op: str, left_node, right_node, node) -> Expr:
        if isinstance(right_node, (exp.All, exp.Any)):
            return self._quantified(op, left_node, right_node, node)
        left, right = self._bind(left_node), self._bind(right_node)
        left, right = unify_comparison(op, left, right, self.position(node))
        return fold(Compare(op, left, right))

    def _arith(self, op: str, node) -> Expr:
        left, right = self._bind(node.this), self._bind(node.expression)
        left, right, result = arithmetic(op, left, right, self.position(node))
        return fold(Arith(op, left, right, result))

    def _b_Neg(self, node: exp.Neg) -> Expr:
        arg = self._bind(node.this)
        if is_untyped(arg):
            arg = convert_untyped(arg, SqlType.REAL, self.position(node))
        if arg.type not in (SqlType.INTEGER, SqlType.REAL, None):
            raise ProgrammingError(f"operator does not exist: - {type_name(arg.type)}",
                                   sqlstate="42883", position=self.position(node))
        if isinstance(arg, Const) and isinstance(arg.value, int) and arg.value == -INT64_MIN:
            return Const(INT64_MIN, SqlType.INTEGER)
        return fold(Negate(arg, arg.type or SqlType.INTEGER))

    def _b_DPipe(self, node: exp.DPipe) -> Expr:
        left, right = self._bind(node.this), self._bind(node.expression)
        left, right = concat_operands(left, right, self.position(node))
        return fold(Concat(left, right))

    def _b_NullSafeEQ(self, node) -> Expr:
        left, right = self._bind(node.this), self._bind(node.expression)
        left, right = unify_comparison("IS NOT DISTINCT FROM", left, right,
                                       self.position(node))
        return fold(IsDistinct(left, right, negated=True))

    def _b_NullSafeNEQ(self, node) -> Expr:
        left, right = self._bind(node.this), self._bind(node.expression)
        left, right = unify_comparison("IS DISTINCT FROM", left, right, self.position(node))
        return fold(IsDistinct(left, right, negated=False))

    def _logical(self, node, cls, what: str) -> Expr:
        parts = []
        stack = [node]
        while stack:
            current = stack.pop()
            if type(current) is type(node):
                stack.append(current.expression)
                stack.append(current.this)
            else:
                parts.append(require_boolean(self._bind(current), what, self.position(current)))
        flat = []
        for part in parts:
            flat.extend(part.args if isinstance(part, cls) else [part])
        return fold(cls(tuple(flat)))

    def _b_And(self, node) -> Expr:
        return self._logical(node, And, "AND")

    def _b_Or(self, node) -> Expr:
        return self._logical(node, Or, "OR")

    def _b_Not(self, node: exp.Not) -> Expr:
        inner = node.this
        if isinstance(inner, exp.Paren):
            inner = inner.this
        elif type(inner).__name__ in _OPERATOR_TEXT and not getattr(inner, "_meta", None):
            raise self._unsupported_operator(inner, negated=True)      # b !~ 'x'
        arg = require_boolean(self._bind(inner), "NOT", self.position(node))
        if isinstance(arg, IsNull):
            return IsNull(arg.arg, not arg.negated)
        if isinstance(arg, InList):
            return InList(arg.arg, arg.items, not arg.negated)
        if isinstance(arg, Like):
            return Like(arg.arg, arg.pattern, not arg.negated, arg.case_insensitive, arg.escape)
        if isinstance(arg, IsDistinct):
            return IsDistinct(arg.left, arg.right, not arg.negated)
        return fold(Not(arg))

    def _b_Is(self, node: exp.Is) -> Expr:
        arg = self._bind(node.this)
        target = node.expression
        negate = bool(node.args.get("negate"))
        if isinstance(target, exp.Null):
            return fold(IsNull(arg, negate))
        if isinstance(target, exp.Boolean):
            arg = require_boolean(arg, "IS", self.position(node))
            return fold(IsDistinct(arg, Const(bool(target.this), SqlType.BOOLEAN),
                                   negated=not negate))
        raise not_supported(f"IS {target.sql(dialect='postgres')}", self.position(node))

    def _b_Between(self, node: exp.Between) -> Expr:
        if node.args.get("symmetric"):
            raise not_supported("BETWEEN SYMMETRIC", self.position(node))
        position = self.position(node)
        arg = self._bind(node.this)
        low, high = self._bind(node.args["low"]), self._bind(node.args["high"])
        a1, low = unify_comparison(">=", arg, low, position)
        a2, high = unify_comparison("<=", arg, high, position)
        return fold(And((Compare(">=", a1, low), Compare("<=", a2, high))))

    def _b_In(self, node: exp.In) -> Expr:
        position = self.position(node)
        query = node.args.get("query")
        if query is not None:
            if isinstance(query, exp.Subquery) and isinstance(query.this, exp.Subquery):
                # "x IN ((SELECT ...))" is a list of one scalar subquery.
                return self._in_list(node, [query.this], position)
            if isinstance(node.this, exp.Tuple):
                raise not_supported("a row constructor IN (subquery)", position)
            return self._value_subquery(query, "in", node, self._bind(node.this))
        if node.args.get("unnest") is not None or node.args.get("field") is not None:
            raise not_supported("this form of IN", position)
        return self._in_list(node, node.expressions, position)

    def _in_list(self, node: exp.In, item_nodes: list, position: int | None) -> Expr:
        arg = self._bind(node.this)
        items = []
        for item_node in item_nodes:
            item = self._bind(item_node)
            left, item = unify_comparison("=", arg, item, position)
            if left is not arg and not is_untyped(arg):
                # The argument needed a conversion (date vs timestamp): compare converted.
                arg = left
            items.append(item)
        if is_untyped(arg):
            target = next((item.type for item in items if not is_untyped(item)), SqlType.TEXT)
            arg = convert_untyped(arg, target, position)
            items = [convert_untyped(item, target, position) for item in items]
        return fold(InList(arg, tuple(items), bool(node.args.get("negate"))))

    def _like(self, node, case_insensitive: bool, escape: str | None) -> Expr:
        position = self.position(node)
        arg, pattern = self._bind(node.this), self._bind(node.expression)
        for side in (arg, pattern):
            if side.type not in (SqlType.TEXT, None):
                op = "~~*" if case_insensitive else "~~"
                raise ProgrammingError(f"operator does not exist: {type_name(arg.type)} {op} "
                                       f"{type_name(pattern.type)}", sqlstate="42883",
                                       position=position)
        return fold(Like(arg, pattern, bool(node.args.get("negate")), case_insensitive, escape))

    def _b_Like(self, node) -> Expr:
        return self._like(node, False, "\\")

    def _b_ILike(self, node) -> Expr:
        return self._like(node, True, "\\")

    def _b_Escape(self, node: exp.Escape) -> Expr:
        inner = node.this
        escape = self._bind(node.expression)
        if not isinstance(escape, Const) or not isinstance(escape.value, str) or \
                len(escape.value) > 1:
            raise ProgrammingError("invalid escape string", sqlstate="22025",
                                   position=self.position(node))
        if not isinstance(inner, (exp.Like, exp.ILike)):
            raise not_supported("ESCAPE here", self.position(node))
        return self._like(inner, isinstance(inner, exp.ILike), escape.value or None)

    # -- conditional ---------------------------------------------------------------------------
    def _b_Case(self, node: exp.Case) -> Expr:
        position = self.position(node)
        operand = self._bind(node.this) if node.this is not None else None
        conditions = []
        results = []
        for branch in node.args.get("ifs") or []:
            if operand is not None:
                when = self._bind(branch.this)
                operand_used, when = unify_comparison("=", operand, when, position)
                if is_untyped(operand):
                    operand = operand_used
                conditions.append(when)
            else:
                conditions.append(require_boolean(self._bind(branch.this), "CASE/WHEN",
                                                  self.position(branch)))
            results.append(self._bind(branch.args["true"]))
        default = node.args.get("default")
        if default is not None:
            results.append(self._bind(default))
        results, result_type = unify_results(results, "CASE", position)
        whens = tuple(zip(conditions, results[:len(conditions)]))
        default_expr = results[-1] if default is not None else None
        return Case(operand, whens, default_expr, result_type)

    def _b_If(self, node: exp.If) -> Expr:
        # Only other dialects' if(c, a, b) / iif(c, a, b) become If: PostgreSQL has neither.
        name, at = self._enclosing_call(node) or ("if", None)
        raise self._undefined_function(name, node, at or self.position(node))

    def _b_Coalesce(self, node: exp.Coalesce) -> Expr:
        args = [self._bind(node.this)] + [self._bind(e) for e in node.expressions]
        args, result_type = unify_results(args, "COALESCE", self.position(node))
        return fold(Coalesce(tuple(args), result_type))

    def _b_Nullif(self, node: exp.Nullif) -> Expr:
        position = self.position(node)
        left, right = self._bind(node.this), self._bind(node.expression)
        left_cmp, right_cmp = unify_comparison("=", left, right, position)
        if is_untyped(left):
            left = left_cmp
        return fold(Case(None, ((Compare("=", left_cmp, right_cmp), Const(None, left.type)),),
                         left, left.type))

    def _b_Cast(self, node: exp.Cast) -> Expr:
        position = self.position(node)
        arg = self._bind(node.this)
        target, limit, declared = sql_type_of(node.args["to"], position)
        if is_untyped(arg) and target is not SqlType.TEXT:
            return convert_untyped(arg, target, position)
        check_cast(arg.type, target)
        if arg.type is None and isinstance(arg, Const):
            return Const(None, target)
        return fold(Cast(arg, target, limit, declared.lower()))
