"""Subqueries inside expressions: the runtime that runs a subplan for the value it yields.

Generated expression code calls ``runner(p, key)`` (EXISTS, scalar) or
``runner.test(p, key, value)`` (IN, ANY, ALL), where ``p`` is the execution's parameter tuple
(an ``ExecParams``: it carries the session and read view) and ``key`` the values of the outer
columns the subquery refers to. The subplan runs with ``p + key`` as its parameters, so a
correlated predicate is an ordinary parameter to it (and can drive an index range).

Results are cached in ``p.shared`` for one execution of the statement, per distinct key: an
uncorrelated subquery runs once, a correlated one once per distinct set of outer values
(the cache is bounded; past the bound it starts over). IN / ANY / ALL keep the subquery's
values as a set (or a list, for ordered comparisons) and apply SQL's three-valued logic.
"""

from __future__ import annotations

import operator

from aurora_lite.errors import ProgrammingError
from aurora_lite.exec._expr import Subquery
from aurora_lite.exec._plan import ExecContext, build_executor

CACHE_LIMIT = 65536
_OPS = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


class SubqueryRunner:
    """Runs one planned ``Subquery`` expression; see the module docstring."""

    def __init__(self, expr: Subquery) -> None:
        self.kind = expr.kind
        self.first = expr.first_param
        self.executor = build_executor(expr.query)
        self.compare = _OPS.get(expr.op)

    def _run(self, p, key: tuple):
        ctx = ExecContext(p.session, p.view, p[:self.first] + key, p.shared)
        batches = self.executor.batches(ctx)
        kind = self.kind
        try:
            if kind == "exists":
                for batch in batches:
                    if batch:
                        return True
                return False
            if kind == "scalar":
                found = None
                for batch in batches:
                    if not batch:
                        continue
                    if found is not None or len(batch) > 1:
                        raise ProgrammingError("more than one row returned by a subquery used "
                                               "as an expression", sqlstate="21000")
                    found = batch
                return None if found is None else found[0][0]
            values = [row[0] for batch in batches for row in batch]
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        present = [value for value in values if value is not None]
        has_null = len(present) != len(values)
        if kind == "in":
            return frozenset(present), has_null
        return list(dict.fromkeys(present)), has_null

    def _result(self, p, key: tuple):
        cache = p.shared.get(self)
        if cache is None:
            cache = p.shared[self] = {}
        elif key in cache:
            return cache[key]
        result = self._run(p, key)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[key] = result
        return result

    def __call__(self, p, key: tuple):
        """The value of an EXISTS or scalar subquery."""
        return self._result(p, key)

    def test(self, p, key: tuple, value):
        """``value IN (...)``, ``value op ANY (...)`` or ``value op ALL (...)``: True, False
        or None (NULL)."""
        values, has_null = self._result(p, key)
        if not values and not has_null:
            return self.kind == "all"          # nothing to compare with
        if value is None:
            return None
        if self.kind == "in":
            if value in values:
                return True
            return None if has_null else False
        compare = self.compare
        if self.kind == "any":
            for item in values:
                if compare(value, item):
                    return True
            return None if has_null else False
        for item in values:
            if not compare(value, item):
                return False
        return None if has_null else True
