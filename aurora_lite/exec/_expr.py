"""Bound scalar expressions: the immutable IR that plans carry and ``_codegen`` compiles.

The frontend's binder turns SQL text into these nodes, with every name resolved and every type
known: ``type`` is the SqlType of the value (None only for a bare NULL, PostgreSQL's "unknown"),
``nullable`` says whether the value can be NULL (False lets the compiler drop NULL checks).
Column references come in two forms: ``ColumnRef`` (relation id, column) as the binder makes
them, and ``Field`` (a position in the operator's input row) after the planner has fixed the
row layout. Executors only ever see ``Field``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Iterator

from aurora_lite.values import SqlType


class Expr:
    """Base of every expression node (all are frozen dataclasses, compared structurally)."""

    __slots__ = ()
    type: SqlType | None
    nullable: bool

    def children(self) -> tuple["Expr", ...]:
        return ()


@dataclass(frozen=True)
class Const(Expr):
    value: object
    type: SqlType | None
    # A quoted literal ('5') whose type is decided by its context, like PostgreSQL's 'unknown'.
    untyped: bool = False

    @property
    def nullable(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Param(Expr):
    """The index-th statement parameter; its type comes from the Python value bound."""

    index: int
    type: SqlType | None
    nullable: bool = True
    untyped: bool = False


@dataclass(frozen=True)
class ColumnRef(Expr):
    rel: int
    column: int
    type: SqlType
    nullable: bool
    name: str


@dataclass(frozen=True)
class Field(Expr):
    index: int
    type: SqlType | None
    nullable: bool
    name: str = ""


@dataclass(frozen=True)
class Arith(Expr):
    op: str                      # + - * / %
    left: Expr
    right: Expr
    type: SqlType

    @property
    def nullable(self) -> bool:
        return self.left.nullable or self.right.nullable

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Negate(Expr):
    arg: Expr
    type: SqlType

    @property
    def nullable(self) -> bool:
        return self.arg.nullable

    def children(self):
        return (self.arg,)


@dataclass(frozen=True)
class Concat(Expr):
    left: Expr
    right: Expr
    type: SqlType = SqlType.TEXT

    @property
    def nullable(self) -> bool:
        return self.left.nullable or self.right.nullable

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class Compare(Expr):
    op: str                      # = <> < <= > >=
    left: Expr
    right: Expr
    type: SqlType = SqlType.BOOLEAN

    @property
    def nullable(self) -> bool:
        return self.left.nullable or self.right.nullable

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class IsDistinct(Expr):
    """``left IS [NOT] DISTINCT FROM right``: never NULL."""

    left: Expr
    right: Expr
    negated: bool = False
    type: SqlType = SqlType.BOOLEAN
    nullable: bool = False

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True)
class And(Expr):
    args: tuple[Expr, ...]
    type: SqlType = SqlType.BOOLEAN

    @property
    def nullable(self) -> bool:
        return any(arg.nullable for arg in self.args)

    def children(self):
        return self.args


@dataclass(frozen=True)
class Or(Expr):
    args: tuple[Expr, ...]
    type: SqlType = SqlType.BOOLEAN

    @property
    def nullable(self) -> bool:
        return any(arg.nullable for arg in self.args)

    def children(self):
        return self.args


@dataclass(frozen=True)
class Not(Expr):
    arg: Expr
    type: SqlType = SqlType.BOOLEAN

    @property
    def nullable(self) -> bool:
        return self.arg.nullable

    def children(self):
        return (self.arg,)


@dataclass(frozen=True)
class IsNull(Expr):
    arg: Expr
    negated: bool = False
    type: SqlType = SqlType.BOOLEAN
    nullable: bool = False

    def children(self):
        return (self.arg,)


@dataclass(frozen=True)
class InList(Expr):
    arg: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    type: SqlType = SqlType.BOOLEAN

    @property
    def nullable(self) -> bool:
        return self.arg.nullable or any(item.nullable for item in self.items)

    def children(self):
        return (self.arg,) + self.items


@dataclass(frozen=True)
class Like(Expr):
    arg: Expr
    pattern: Expr
    negated: bool = False
    case_insensitive: bool = False
    escape: str | None = "\\"
    type: SqlType = SqlType.BOOLEAN

    @property
    def nullable(self) -> bool:
        return self.arg.nullable or self.pattern.nullable

    def children(self):
        return (self.arg, self.pattern)


@dataclass(frozen=True)
class Case(Expr):
    """Searched CASE, or simple CASE when ``operand`` is set (WHEN values compared with =)."""

    operand: Expr | None
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None
    type: SqlType | None

    @property
    def nullable(self) -> bool:
        return self.default is None or self.default.nullable or \
            any(result.nullable for _, result in self.whens)

    def children(self):
        out = [] if self.operand is None else [self.operand]
        for condition, result in self.whens:
            out += [condition, result]
        if self.default is not None:
            out.append(self.default)
        return tuple(out)


@dataclass(frozen=True)
class Cast(Expr):
    arg: Expr
    type: SqlType
    max_length: int | None = None
    type_name: str = ""

    @property
    def nullable(self) -> bool:
        return self.arg.nullable

    def children(self):
        return (self.arg,)


@dataclass(frozen=True)
class Coalesce(Expr):
    args: tuple[Expr, ...]
    type: SqlType | None

    @property
    def nullable(self) -> bool:
        return all(arg.nullable for arg in self.args)

    def children(self):
        return self.args


@dataclass(frozen=True)
class Func(Expr):
    """A scalar function from ``_functions.FUNCTIONS`` (by name)."""

    name: str
    args: tuple[Expr, ...]
    type: SqlType | None
    nullable: bool = True

    def children(self):
        return self.args


@dataclass(frozen=True)
class AggCall(Expr):
    """An aggregate call as the binder finds it; the planner replaces it by a Field of the
    Aggregate operator's output. ``func`` is count_star, count, sum, avg, min or max."""

    func: str
    arg: Expr | None
    distinct: bool
    type: SqlType | None
    nullable: bool = True

    def children(self):
        return () if self.arg is None else (self.arg,)


@dataclass(frozen=True, eq=False)
class Subquery(Expr):
    """A subquery used as a value (PostgreSQL's SubLink).

    ``kind`` is ``scalar`` (the single value of at most one row), ``exists``, ``in`` (``operand
    IN (query)``) or ``any`` / ``all`` (``operand op ANY/ALL (query)``). ``query`` is the
    binder's logical query while binding and the ``PlanNode`` once planned. The query reads
    the statement's parameters followed by one parameter per entry of ``args``: the values of
    the outer query's columns it refers to (empty when it is uncorrelated). ``first_param`` is
    the index of the first of those in the subquery's parameter tuple. Two subqueries are
    equal only when they are the same object (a logical query is not hashable).
    """

    kind: str
    query: object
    args: tuple[Expr, ...]
    type: SqlType | None
    nullable: bool
    operand: Expr | None = None
    op: str = "="
    first_param: int = 0

    def children(self):
        return self.args if self.operand is None else (self.operand,) + self.args


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of ``expr``, parents first."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


_EXPR_FIELDS: dict[type, tuple[str, ...]] = {}


def _expr_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that may hold expressions (by their annotation): a planner
    pass transforms every node of every expression, so this is looked up once per class."""
    names = _EXPR_FIELDS.get(cls)
    if names is None:
        names = _EXPR_FIELDS[cls] = tuple(f.name for f in fields(cls) if "Expr" in str(f.type))
    return names


def transform(expr: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild ``expr`` bottom-up through ``fn`` (return None to keep a node as rebuilt).
    ``fn`` sees a node before its children: returning a node stops the descent."""
    replaced = fn(expr)
    if replaced is not None:
        return replaced
    names = _expr_fields(type(expr))
    if not names:
        return expr
    changes = {}
    for name in names:
        value = getattr(expr, name)
        if isinstance(value, Expr):
            new = transform(value, fn)
            if new is not value:
                changes[name] = new
        elif isinstance(value, tuple) and value and isinstance(value[0], (Expr, tuple)):
            new_items = tuple(_transform_item(item, fn) for item in value)
            if any(a is not b for a, b in zip(new_items, value)):
                changes[name] = new_items
    return replace(expr, **changes) if changes else expr


def _transform_item(item, fn):
    if isinstance(item, Expr):
        return transform(item, fn)
    if isinstance(item, tuple):
        new = tuple(_transform_item(x, fn) for x in item)
        return item if all(a is b for a, b in zip(new, item)) else new
    return item


def is_constant(expr: Expr) -> bool:
    """True when ``expr`` reads no row (it may read parameters): evaluated once per execution."""
    return not any(isinstance(node, (Field, ColumnRef, AggCall)) for node in walk(expr))


def relations_of(expr: Expr) -> frozenset[int]:
    return frozenset(node.rel for node in walk(expr) if isinstance(node, ColumnRef))


def conjuncts(expr: Expr | None) -> list[Expr]:
    """Split an AND tree into its conjuncts."""
    if expr is None:
        return []
    if isinstance(expr, And):
        out = []
        for arg in expr.args:
            out.extend(conjuncts(arg))
        return out
    return [expr]


def make_and(parts: list[Expr]) -> Expr | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))
