"""Schema statements as plan nodes: CREATE/DROP TABLE, CREATE/DROP INDEX, CREATE/DROP VIEW.

They carry fully checked definitions (the binder resolved types and constraints) and run by
calling the session's DDL methods, which own persistence and the catalog version.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.catalog import ColumnDef, ViewDef
from aurora_lite.exec._plan import ExecContext, Executor, PlanNode, executor_for


@dataclass(frozen=True)
class CreateTable(PlanNode):
    name: str
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    if_not_exists: bool = False
    output: tuple = ()

    def describe(self) -> str:
        return f"Create Table {self.name}"


@dataclass(frozen=True)
class DropTable(PlanNode):
    names: tuple[str, ...]
    if_exists: bool = False
    output: tuple = ()

    def describe(self) -> str:
        return f"Drop Table {', '.join(self.names)}"


@dataclass(frozen=True)
class CreateIndex(PlanNode):
    name: str
    table: str
    columns: tuple[str, ...]
    descending: tuple[bool, ...]
    unique: bool = False
    if_not_exists: bool = False
    output: tuple = ()

    def describe(self) -> str:
        return f"Create Index {self.name} on {self.table}"


@dataclass(frozen=True)
class DropIndex(PlanNode):
    names: tuple[str, ...]
    if_exists: bool = False
    output: tuple = ()

    def describe(self) -> str:
        return f"Drop Index {', '.join(self.names)}"


@dataclass(frozen=True)
class CreateView(PlanNode):
    """A view: its defining SELECT is stored as text and expanded where the view is read."""

    name: str
    sql: str
    columns: tuple[str, ...] | None = None
    depends_on: tuple[str, ...] = ()          # the tables and views the SELECT reads
    output: tuple = ()

    def describe(self) -> str:
        return f"Create View {self.name}"


@dataclass(frozen=True)
class DropView(PlanNode):
    names: tuple[str, ...]
    if_exists: bool = False
    output: tuple = ()

    def describe(self) -> str:
        return f"Drop View {', '.join(self.names)}"


@executor_for(CreateTable)
class CreateTableExecutor(Executor):
    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        plan = self.plan
        ctx.session.create_table(plan.name, list(plan.columns), plan.primary_key,
                                 [tuple(cols) for cols in plan.unique],
                                 if_not_exists=plan.if_not_exists)
        return -1, None


@executor_for(DropTable)
class DropTableExecutor(Executor):
    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        for name in self.plan.names:
            ctx.session.drop_table(name, if_exists=self.plan.if_exists)
        return -1, None


@executor_for(CreateIndex)
class CreateIndexExecutor(Executor):
    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        plan = self.plan
        ctx.session.create_index(plan.name, plan.table, plan.columns, plan.descending,
                                 unique=plan.unique, if_not_exists=plan.if_not_exists)
        return -1, None


@executor_for(DropIndex)
class DropIndexExecutor(Executor):
    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        for name in self.plan.names:
            ctx.session.drop_index(name, if_exists=self.plan.if_exists)
        return -1, None


@executor_for(CreateView)
class CreateViewExecutor(Executor):
    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        plan = self.plan
        ctx.session.create_view(ViewDef(plan.name, plan.sql, plan.columns, plan.depends_on))
        return -1, None


@executor_for(DropView)
class DropViewExecutor(Executor):
    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        for name in self.plan.names:
            ctx.session.drop_view(name, if_exists=self.plan.if_exists)
        return -1, None
