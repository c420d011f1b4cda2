"""Execution: plan nodes (frozen dataclasses, one operator per module), their executors, the
expression IR and its compiler, and the statement ``Result``.

Public surface:

* ``Result`` - what executing one statement returns (``_result``).
* Expression IR (``_expr``): ``Expr`` and its nodes, ``walk``, ``transform``, ``conjuncts``,
  ``make_and``, ``is_constant``, ``relations_of``; ``Subquery`` (a subquery used as a value,
  run by ``_subquery``); ``expr_sql`` renders one; ``fold_constant`` and
  ``evaluate_constant`` evaluate row-free expressions; ``resolve_function`` and
  ``common_type`` type scalar functions; ``check_cast`` validates a CAST.
* Plan nodes: ``TableScan``, ``PkLookup``, ``PkMultiLookup``, ``IndexScan``, ``HashedScan``,
  ``Filter``, ``Project``, ``Values``, ``Sort`` (with ``SortKey``), ``Limit``, ``Distinct``,
  ``Aggregate``
  (with ``AggSpec``), ``HashJoin``, ``NestedLoopJoin``, ``SetOp``, ``Insert`` (``NextSerial``
  marks a SERIAL value to allocate), ``Update``,
  ``Delete``, ``CreateTable``, ``DropTable``, ``CreateIndex``, ``DropIndex``, ``CreateView``,
  ``DropView``; ``OutputColumn``, ``PlanNode``.
* ``build_executor(plan)`` -> an executor tree (reusable across executions);
  ``ExecContext(session, view, params)`` (its ``params`` is an ``ExecParams``);
  ``explain_lines(plan)``.
"""

from aurora_lite.exec._aggregate import AggSpec, Aggregate
from aurora_lite.exec._codegen import evaluate_constant, fold_constant
from aurora_lite.exec._ddl import (
    CreateIndex, CreateTable, CreateView, DropIndex, DropTable, DropView,
)
from aurora_lite.exec._delete import Delete
from aurora_lite.exec._distinct import Distinct
from aurora_lite.exec._explain import explain_lines
from aurora_lite.exec._expr import (
    AggCall, And, Arith, Case, Cast, Coalesce, ColumnRef, Compare, Concat, Const, Expr, Field,
    Func, InList, IsDistinct, IsNull, Like, Negate, Not, Or, Param, Subquery, conjuncts,
    is_constant, make_and, relations_of, transform, walk,
)
from aurora_lite.exec._filter import Filter
from aurora_lite.exec._format import expr_sql, literal_sql
from aurora_lite.exec._functions import FUNCTIONS, common_type, resolve as resolve_function
from aurora_lite.exec._hash_join import HashJoin
from aurora_lite.exec._hashed_scan import HashedScan
from aurora_lite.exec._index_scan import IndexScan
from aurora_lite.exec._insert import Insert, NextSerial
from aurora_lite.exec._limit import Limit
from aurora_lite.exec._lookup import PkLookup
from aurora_lite.exec._multi_lookup import PkMultiLookup
from aurora_lite.exec._nested_loop_join import NestedLoopJoin
from aurora_lite.exec._plan import (
    ExecContext, ExecParams, Executor, OutputColumn, PlanNode, build_executor,
)
from aurora_lite.exec._project import Project
from aurora_lite.exec._result import Result
from aurora_lite.exec._runtime import check_cast
from aurora_lite.exec._scan import TableScan
from aurora_lite.exec._set_op import SetOp
from aurora_lite.exec._sort import Sort, SortKey
from aurora_lite.exec._update import Update
from aurora_lite.exec._values import Values

__all__ = [
    "AggCall", "AggSpec", "Aggregate", "And", "Arith", "Case", "Cast", "Coalesce", "ColumnRef",
    "Compare", "Concat", "Const", "CreateIndex", "CreateTable", "CreateView", "Delete", "Distinct",
    "DropIndex", "DropTable", "DropView", "ExecContext", "ExecParams", "Executor", "Expr",
    "FUNCTIONS", "Field", "Filter", "Func", "HashJoin", "HashedScan", "InList", "IndexScan",
    "Insert", "IsDistinct", "IsNull", "Like", "Limit", "Negate", "NestedLoopJoin", "NextSerial",
    "Not", "Or", "OutputColumn", "Param", "PkLookup", "PkMultiLookup", "PlanNode", "Project",
    "Result", "SetOp", "Sort", "SortKey", "Subquery", "TableScan", "Update", "Values",
    "build_executor", "check_cast", "common_type", "conjuncts", "evaluate_constant",
    "explain_lines", "expr_sql", "fold_constant", "is_constant", "literal_sql", "make_and",
    "relations_of", "resolve_function", "transform", "walk",
]
