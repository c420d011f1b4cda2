"""Delete: removes the rows its source finds (a scan with locators), all found first."""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lite.exec._plan import ExecContext, Executor, PlanNode, build_executor, executor_for


@dataclass(frozen=True)
class Delete(PlanNode):
    table: str
    source: PlanNode                 # yields (locator, row) pairs
    output: tuple = ()

    def inputs(self):
        return (self.source,)

    def describe(self) -> str:
        return f"Delete on {self.table}"


@executor_for(Delete)
class DeleteExecutor(Executor):
    def __init__(self, plan: Delete) -> None:
        super().__init__(plan)
        self._source = build_executor(plan.source)

    def run(self, ctx: ExecContext) -> tuple[int, int | None]:
        locators: list = []
        for batch in self._source.batches(ctx):
            locators.extend(locator for locator, _ in batch)
        if not locators:
            return 0, None
        return ctx.table(self.plan.table).delete(locators), None
