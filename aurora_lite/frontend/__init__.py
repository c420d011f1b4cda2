"""The SQL frontend: parse (sqlglot, PostgreSQL dialect, strictly checked), bind, plan, run.

sqlglot is imported only inside this package (tests/test_layering.py).

Public surface:

* ``execute_many(session, sql, seq_of_params) -> Result`` runs one INSERT/UPDATE/DELETE per
  parameter set as a single statement (INSERT rows are written in bulk).
* ``execute(session, sql, params=None) -> aurora_lite.exec.Result`` runs ONE statement in an
  engine session (``aurora_lite.txn.Session``). Parameters: ``?`` or ``$1`` with a sequence,
  ``:name`` with a mapping.
* ``prepare(sql) -> Prepared``: the cached parsed statement (LRU keyed by the SQL text);
  ``Prepared.execute(session, params)``, ``Prepared.plan(session, params)``,
  ``Prepared.kind``, ``Prepared.param_count``, ``Prepared.param_style``.
* ``split_statements(text) -> list[str]`` splits a script at top-level semicolons.
* ``clear_cache()``, ``cache_info()`` for tools and tests.
"""

from aurora_lite.exec import Result
from aurora_lite.frontend._parse import split_statements
from aurora_lite.frontend._prepared import Prepared, cache_info, clear_cache, prepare


def execute(session, sql: str, params=None) -> Result:
    """Run one SQL statement in ``session`` and return its Result."""
    return prepare(sql).execute(session, params)


def execute_many(session, sql: str, seq_of_params) -> Result:
    """Run an INSERT, UPDATE or DELETE once per parameter set, as one statement."""
    return prepare(sql).execute_many(session, seq_of_params)


__all__ = ["execute", "execute_many", "prepare", "Prepared", "split_statements", "clear_cache", "cache_info",
           "Result"]
