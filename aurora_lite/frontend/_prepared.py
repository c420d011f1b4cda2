"""Prepared statements: parse once, bind and plan once per schema and parameter types, run.

``prepare(sql)`` keeps a bounded LRU cache keyed by the SQL text, so a repeated statement
never reaches sqlglot again. A ``Prepared`` keeps, per parameter signature (the Python types
of the values), the bound plan and its compiled executor tree together with the catalog
object they were made against; a different catalog (any DDL makes a new one, with a new
version) means a new binding. Plans that join tables also remember the row estimates they
were chosen with and are re-planned when the tables have grown or shrunk a lot. The planner
may read the two ends of a key (``column_range``) to estimate how many rows a range keeps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from aurora_lite.catalog import Catalog
from aurora_lite.errors import Error, ProgrammingError
from aurora_lite.exec import (
    CreateIndex, CreateTable, CreateView, DropIndex, DropTable, DropView, ExecContext, PlanNode,
    Result, build_executor, explain_lines,
)
from aurora_lite.frontend._bind_ddl import bind_create, bind_drop
from aurora_lite.frontend._bind_dml import bind_delete, bind_insert, bind_update
from aurora_lite.frontend._bind_select import SelectBinder
from aurora_lite.frontend._params import normalize, param_types, signature
from aurora_lite.frontend._parse import parse
from aurora_lite.frontend._planner import Planner
from aurora_lite.values import type_display_name

CACHE_SIZE = 1024
BINDINGS_PER_STATEMENT = 8
EAGER_ROWS = 4096          # a SELECT returns at most this many rows before going lazy
_BULK_ROWS = 8192          # executemany() writes gathered INSERT rows in chunks of this many
RECHECK_EVERY = 64         # executions between checks of a join plan's row estimates
_DDL_TAGS = {CreateTable: "CREATE TABLE", DropTable: "DROP TABLE", CreateIndex: "CREATE INDEX",
             DropIndex: "DROP INDEX", CreateView: "CREATE VIEW", DropView: "DROP VIEW"}
_EXPLAIN_DESCRIPTION = (("QUERY PLAN", "text", None, None, None, None, False),)


@dataclass
class Bound:
    catalog: Catalog
    plan: PlanNode
    executor: object
    description: tuple | None
    type_names: tuple[str, ...]
    estimates: dict[str, int] = field(default_factory=dict)
    uses: int = 0


def _describe(plan: PlanNode) -> tuple[tuple | None, tuple[str, ...]]:
    names = tuple("text" if column.type is None else type_display_name(column.type)
                  for column in plan.output)
    description = tuple((column.name, type_name, None, None, None, None, column.nullable)
                        for column, type_name in zip(plan.output, names))
    return description, names


def _result(description, rows, rowcount, lastrowid, tag, type_names) -> Result:
    """A Result without the frozen dataclass's per-field ``object.__setattr__`` calls (a few
    microseconds of a cached point select)."""
    result = object.__new__(Result)
    result.__dict__.update(description=description, rows=rows, rowcount=rowcount,
                           lastrowid=lastrowid, command_tag=tag, type_names=type_names)
    return result


def _first_number(batches) -> float | int | None:
    """The first non-NULL value of column 0 of a scan that yields one-column rows (None when
    it is not a number, or the first leaves hold only NULLs)."""
    for count, batch in enumerate(batches):
        for row in batch:
            value = row[0]
            if value is not None:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return value
                return None
        if count >= 2:
            break
    return None


def column_range(session, table: str, index: str | None, column: int) -> tuple | None:
    """(smallest, largest) value of a numeric column, read from both ends of the primary key
    (``index`` None) or of an index led by the column; for the planner's range estimates."""
    ends = []
    try:
        access = session.table(table)
        view = session.read_view()
        for reverse in (False, True):
            if index is None:
                source = access.scan(view, reverse=reverse, columns=(column,))
            else:
                source = access.index_scan(view, index, reverse=reverse, columns=(column,))
            ends.append(_first_number([(row[column],) for row in batch] for batch in source))
    except Error:
        return None                   # an estimate only: planning goes on with a guess
    if None in ends:
        return None
    return min(ends), max(ends)


def _lazy(first: list, batches):
    yield from first
    for batch in batches:
        yield from batch


class Prepared:
    """One parsed statement and its bindings; ``execute`` runs it in a session."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.parsed = parse(sql)
        self.kind = self.parsed.kind
        self.explain = self.parsed.explain
        self._bindings: dict[tuple, Bound] = {}

    @property
    def param_count(self) -> int:
        return self.parsed.param_count

    @property
    def param_style(self) -> str | None:
        return self.parsed.param_style

    # -- binding ---------------------------------------------------------------------------------
    def _bind(self, session, catalog: Catalog, sig: tuple) -> Bound:
        params = param_types(sig)
        planner = Planner(catalog, lambda name: session.table(name).estimated_rows(),
                          len(params), lambda *key: column_range(session, *key))
        tree = self.parsed.tree
        kind = self.kind
        description, type_names = None, ()
        if kind == "select":
            query = SelectBinder(catalog, params, self.parsed).bind_query(tree)
            plan = planner.plan_query(query)
            description, type_names = _describe(plan)
        elif kind == "insert":
            plan = bind_insert(tree, catalog, params, self.parsed, planner)
        elif kind == "update":
            plan = bind_update(tree, catalog, params, self.parsed, planner)
        elif kind == "delete":
            plan = bind_delete(tree, catalog, params, self.parsed, planner)
        elif kind == "create":
            plan = bind_create(tree, catalog, params, self.parsed)
        elif kind == "drop":
            plan = bind_drop(tree, catalog, params, self.parsed)
        else:
            raise ProgrammingError(f"cannot plan a {kind} statement")
        executor = None if self.explain else build_executor(plan)
        estimates = planner.estimates if len(planner.estimates) > 1 else {}
        return Bound(catalog, plan, executor, description, type_names, dict(estimates))

    def bound(self, session, values: tuple) -> Bound:
        """The binding for this session's catalog and these parameter values."""
        catalog = session.catalog
        sig = signature(values) if values else ()
        bound = self._bindings.get(sig)
        if bound is not None and bound.catalog is catalog:
            bound.uses += 1
            if bound.estimates and bound.uses % RECHECK_EVERY == 0 and \
                    self._estimates_moved(session, bound):
                bound = None
            else:
                return bound
        bound = self._bind(session, catalog, sig)
        bindings = self._bindings
        if len(bindings) >= BINDINGS_PER_STATEMENT and sig not in bindings:
            bindings.pop(next(iter(bindings)))
        bindings[sig] = bound
        return bound

    @staticmethod
    def _estimates_moved(session, bound: Bound) -> bool:
        for name, old in bound.estimates.items():
            new = session.table(name).estimated_rows()
            if max(new, old) > 4 * max(min(new, old), 1) and abs(new - old) > 100:
                return True
        return False

    def plan(self, session, params=None) -> PlanNode:
        """The plan this statement would run with (for tests and tools)."""
        return self.bound(session, normalize(self.parsed, params)).plan

    # -- execution -------------------------------------------------------------------------------
    def execute(self, session, params=None) -> Result:
        values = normalize(self.parsed, params)
        kind = self.kind
        if kind in ("begin", "commit", "rollback", "empty"):
            return self._transaction(session, kind)
        if self.explain:
            with session.statement(writes=False):
                lines = explain_lines(self.bound(session, values).plan)
            return Result(_EXPLAIN_DESCRIPTION, iter([(line,) for line in lines]), len(lines),
                          None, "EXPLAIN", ("text",))
        if kind == "select":
            return self._select(session, values)
        with session.statement(writes=True):
            bound = self.bound(session, values)
            ctx = ExecContext(session, session.read_view(), values)
            count, last = bound.executor.run(ctx)
        plan_type = type(bound.plan)
        if plan_type in _DDL_TAGS:
            return Result(command_tag=_DDL_TAGS[plan_type])
        tag = {"insert": f"INSERT 0 {count}", "update": f"UPDATE {count}",
               "delete": f"DELETE {count}"}[kind]
        return _result(None, iter(()), count, last, tag, ())

    def execute_many(self, session, seq_of_params) -> Result:
        """Run an INSERT, UPDATE or DELETE once per parameter set, as ONE statement (it
        succeeds or leaves nothing behind as a whole). An INSERT gathers the rows of every set
        and writes them in bulk."""
        if self.kind not in ("insert", "update", "delete") or self.explain:
            raise ProgrammingError("executemany() runs INSERT, UPDATE or DELETE statements",
                                   sqlstate="42601")
        total = 0
        last = None
        pending: list = []
        writer = None
        with session.statement(writes=True):
            for params in seq_of_params:
                values = normalize(self.parsed, params)
                bound = self.bound(session, values)
                ctx = ExecContext(session, session.read_view(), values)
                executor = bound.executor
                if hasattr(executor, "collect"):     # an INSERT: gather, write in bulk
                    pending.extend(executor.collect(ctx))
                    writer = (executor, ctx)
                    if len(pending) >= _BULK_ROWS:
                        count, last = executor.write(ctx, pending)
                        total += count
                        pending = []
                else:
                    count, last_id = executor.run(ctx)
                    total += count
                    last = last_id if last_id is not None else last
            if pending:
                count, last = writer[0].write(writer[1], pending)
                total += count
        tag = {"insert": f"INSERT 0 {total}", "update": f"UPDATE {total}",
               "delete": f"DELETE {total}"}[self.kind]
        return _result(None, iter(()), total, last, tag, ())

    def _select(self, session, values: tuple) -> Result:
        manager = session.statement(writes=False)
        manager.__enter__()
        try:
            bound = self.bound(session, values)
            ctx = ExecContext(session, session.read_view(), values)
            batches = bound.executor.batches(ctx)
            rows: list = []
            complete = True
            for batch in batches:
                if rows:
                    rows.extend(batch)
                else:
                    rows = batch
                if len(rows) >= EAGER_ROWS:
                    complete = False
                    break
        except BaseException as error:
            if not manager.__exit__(type(error), error, error.__traceback__):
                raise
            raise
        manager.__exit__(None, None, None)
        if complete:
            return _result(bound.description, iter(rows), len(rows), None,
                           f"SELECT {len(rows)}", bound.type_names)
        return _result(bound.description, _lazy(rows, batches), -1, None, "SELECT",
                       bound.type_names)

    @staticmethod
    def _transaction(session, kind: str) -> Result:
        if kind == "begin":
            try:
                session.begin()
            except ProgrammingError as error:
                # PostgreSQL only warns about BEGIN inside a transaction block.
                if error.sqlstate != "25001":
                    raise
            return Result(command_tag="BEGIN")
        if kind == "commit":
            session.commit()
            return Result(command_tag="COMMIT")
        if kind == "rollback":
            session.rollback()
            return Result(command_tag="ROLLBACK")
        return Result(command_tag="")


_CACHE: OrderedDict[str, Prepared] = OrderedDict()
_LOCK = threading.Lock()


def prepare(sql: str) -> Prepared:
    """The prepared form of ``sql``, from the LRU cache when it was seen before."""
    prepared = _CACHE.get(sql)
    if prepared is not None:
        try:
            _CACHE.move_to_end(sql)
        except KeyError:
            pass
        return prepared
    prepared = Prepared(sql)
    with _LOCK:
        _CACHE[sql] = prepared
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return prepared


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def cache_info() -> dict:
    return {"size": len(_CACHE), "capacity": CACHE_SIZE}
