"""Plan nodes, executors and the factory that turns one into the other (BusTub style).

A plan is an immutable tree of frozen dataclasses (one operator per module of this package);
``build_executor`` makes the executor tree for it once, compiling every expression, and the
frontend caches that tree with the prepared statement. Executors keep no per-execution state
in themselves: everything a run needs is in the ``ExecContext`` and in local variables of
``batches``, so one executor tree serves every execution of a prepared statement.

Row producers implement ``batches(ctx)``, yielding lists of row tuples (never one generator
step per row: operators transform whole batches with generated comprehensions). Statements
that change data or schema implement ``run(ctx) -> (rowcount, lastrowid)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from aurora_lite.errors import InternalError
from aurora_lite.exec._expr import Expr, Field
from aurora_lite.exec._format import expr_sql
from aurora_lite.values import SqlType


@dataclass(frozen=True)
class OutputColumn:
    """One column an operator produces: a display name, a type (None: unknown), nullability."""

    name: str
    type: SqlType | None
    nullable: bool = True


class PlanNode:
    """Base of plan nodes. Subclasses are frozen dataclasses with an ``output`` field."""

    output: tuple[OutputColumn, ...]

    def inputs(self) -> tuple["PlanNode", ...]:
        return ()

    def describe(self) -> str:
        """The EXPLAIN headline of this node."""
        return type(self).__name__

    def details(self) -> list[str]:
        """Further EXPLAIN lines (conditions, keys)."""
        return []

    def fields(self) -> tuple[Field, ...]:
        """Field expressions naming each output column, for the operator above."""
        return tuple(Field(index, column.type, column.nullable, column.name)
                     for index, column in enumerate(self.output))


class ExecParams(tuple):
    """The parameter tuple of one execution, as generated code sees it (``p``).

    It also carries what a subquery inside an expression needs to run its own plan: the
    session, the read view and ``shared``, a per-execution dict (table handles, subquery
    results cached per distinct outer values). It holds no reference to the ExecContext, so
    no reference cycle keeps a read view alive after the statement.
    """

    session: object
    view: object
    shared: dict


class ExecContext:
    """What one execution of a plan needs: the session, its read view and the parameters."""

    __slots__ = ("session", "view", "params", "_tables")

    def __init__(self, session, view, params: tuple, shared: dict | None = None) -> None:
        self.session = session
        self.view = view
        values = ExecParams(params)
        values.session = session
        values.view = view
        values.shared = {} if shared is None else shared
        self.params = values
        self._tables = values.shared.setdefault("tables", {})

    def table(self, name: str):
        access = self._tables.get(name)
        if access is None:
            access = self._tables[name] = self.session.table(name)
        return access


class Executor:
    """Base of executors; ``plan`` is the node it was built from."""

    def __init__(self, plan: PlanNode) -> None:
        self.plan = plan

    def batches(self, ctx: ExecContext) -> Iterator[list]:
        raise InternalError(f"{type(self.plan).__name__} produces no rows")

    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        raise InternalError(f"{type(self.plan).__name__} is not a statement")


_FACTORY: dict[type, Callable[[PlanNode], Executor]] = {}


def executor_for(plan_type: type):
    """Class decorator registering the executor of ``plan_type``."""
    def register(executor_type):
        _FACTORY[plan_type] = executor_type
        return executor_type
    return register


def build_executor(plan: PlanNode) -> Executor:
    """The executor tree for ``plan`` (compiles every expression of the tree once)."""
    factory = _FACTORY.get(type(plan))
    if factory is None:
        raise InternalError(f"no executor for plan node {type(plan).__name__}")
    return factory(plan)


def predicate_lines(label: str, predicate: Expr | None) -> list[str]:
    return [] if predicate is None else [f"{label}: {expr_sql(predicate)}"]
