"""Fixtures of the frontend tests: ``session`` (one per engine in tests.support.engines) and
``sql``, a helper that runs a statement and returns its rows (or its Result)."""

from __future__ import annotations

import pytest

from aurora_lite import frontend
from tests.support.engines import ENGINES, open_session


@pytest.fixture(params=ENGINES)
def session(request, tmp_path):
    with open_session(request.param, tmp_path) as session:
        yield session


class Runner:
    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, sql: str, params=None) -> list[tuple] | int:
        """Rows of a query, or the row count of anything else."""
        result = frontend.execute(self.session, sql, params)
        if result.description is None:
            return result.rowcount
        return list(result.rows)

    def result(self, sql: str, params=None):
        return frontend.execute(self.session, sql, params)

    def one(self, sql: str, params=None):
        rows = self(sql, params)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]

    def script(self, text: str) -> None:
        for statement in frontend.split_statements(text):
            frontend.execute(self.session, statement)

    def explain(self, sql: str, params=None) -> str:
        return "\n".join(row[0] for row in self("EXPLAIN " + sql, params))


@pytest.fixture
def sql(session):
    return Runner(session)
