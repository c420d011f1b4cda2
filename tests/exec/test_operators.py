"""Operators built directly from plan nodes over Values inputs, checked against Python
references on random data (the seed is printed)."""

from __future__ import annotations

import functools
import random

import pytest

from aurora_lite.exec import (
    AggSpec, Aggregate, Compare, Const, Distinct, ExecContext, Field, Filter, HashJoin, Limit,
    NestedLoopJoin, OutputColumn, Project, Sort, SortKey, Values, build_executor, explain_lines,
)
from aurora_lite.values import SqlType

SEED = random.randrange(1 << 30)
I, T = SqlType.INTEGER, SqlType.TEXT


class StubSession:
    def check_interrupt(self) -> None:
        pass


def run(plan, params=()):
    ctx = ExecContext(StubSession(), None, params)
    return [row for batch in build_executor(plan).batches(ctx) for row in batch]


def values(rows, types):
    output = tuple(OutputColumn(f"c{i}", t, True) for i, t in enumerate(types))
    return Values(tuple(tuple(Const(v, t) for v, t in zip(row, types)) for row in rows), output)


def random_rows(rng, count, width=3):
    return [tuple(rng.choice([None, 0, 1, 2, 3, 5]) for _ in range(width)) for _ in range(count)]


@pytest.fixture
def rng():
    print(f"seed={SEED}")
    return random.Random(SEED)


def reference_sort(rows, keys):
    def compare(a, b):
        for index, descending, nulls_first in keys:
            x, y = a[index], b[index]
            if x == y:
                continue
            if x is None or y is None:
                x_first = (x is None) == nulls_first
                return -1 if x_first else 1
            result = -1 if x < y else 1
            return -result if descending else result
        return 0
    return sorted(rows, key=functools.cmp_to_key(compare))


def test_sort_against_reference(rng):
    for _ in range(60):
        rows = random_rows(rng, rng.randrange(0, 40))
        keys = [(rng.randrange(3), rng.random() < 0.5, rng.random() < 0.5)
                for _ in range(rng.randrange(1, 4))]
        source = values(rows, [I, I, I])
        plan = Sort(source, tuple(SortKey(Field(i, I, True), d, n) for i, d, n in keys),
                    source.output)
        assert run(plan) == reference_sort(rows, keys)
        # The limit is a hint (top-N by a heap when small): a Limit above cuts the rest.
        limited = Sort(source, plan.keys, source.output, Const(3, I))
        assert run(limited)[:3] == reference_sort(rows, keys)[:3]
        assert run(Limit(limited, Const(3, I), None, source.output)) == \
            reference_sort(rows, keys)[:3]


def test_aggregate_against_reference(rng):
    for _ in range(40):
        rows = random_rows(rng, rng.randrange(0, 30))
        source = values(rows, [I, I, I])
        specs = (AggSpec("count_star", None, False, I),
                 AggSpec("count", Field(1, I, True), False, I),
                 AggSpec("sum", Field(1, I, True), False, I),
                 AggSpec("min", Field(2, I, True), False, I),
                 AggSpec("max", Field(2, I, True), False, I),
                 AggSpec("avg", Field(1, I, True), False, SqlType.REAL),
                 AggSpec("count", Field(2, I, True), True, I),
                 AggSpec("sum", Field(2, I, True), True, I))
        output = tuple(OutputColumn(f"a{i}", I) for i in range(len(specs) + 1))
        grouped = run(Aggregate(source, (Field(0, I, True),), specs, output))
        expected = {}
        for row in rows:
            expected.setdefault(row[0], []).append(row)

        def summary(group):
            ones = [r[1] for r in group if r[1] is not None]
            twos = [r[2] for r in group if r[2] is not None]
            return (len(group), len(ones), sum(ones) if ones else None,
                    min(twos) if twos else None, max(twos) if twos else None,
                    sum(ones) / len(ones) if ones else None, len(set(twos)),
                    sum(set(twos)) if twos else None)
        assert sorted(grouped, key=repr) == sorted(
            [(key,) + summary(group) for key, group in expected.items()], key=repr)
        total = run(Aggregate(source, (), specs, output[1:]))
        assert total == [summary(rows)]


def test_count_star_fast_path_and_empty_input():
    source = values([], [I])
    plan = Aggregate(source, (), (AggSpec("count_star", None, False, I),),
                     (OutputColumn("count", I),))
    assert run(plan) == [(0,)]
    grouped = Aggregate(source, (Field(0, I, True),), (AggSpec("count_star", None, False, I),),
                        (OutputColumn("k", I), OutputColumn("count", I)))
    assert run(grouped) == []


@pytest.mark.parametrize("kind", ["inner", "left"])
@pytest.mark.parametrize("build_left", [False, True])
def test_hash_join_against_nested_loop(rng, kind, build_left):
    if kind == "left" and build_left:
        pytest.skip("a left join always builds on the right")
    for _ in range(30):
        left_rows = random_rows(rng, rng.randrange(0, 15), 2)
        right_rows = random_rows(rng, rng.randrange(0, 15), 2)
        left, right = values(left_rows, [I, I]), values(right_rows, [I, I])
        output = left.output + right.output
        residual = Compare("<", Field(1, I, True), Field(3, I, True)) \
            if rng.random() < 0.5 else None
        hashed = HashJoin(left, right, (Field(0, I, True),), (Field(0, I, True),), residual,
                          kind, output, build_left)
        condition = Compare("=", Field(0, I, True), Field(2, I, True))
        full = condition if residual is None else \
            __import__("aurora_lite.exec", fromlist=["And"]).And((condition, residual))
        looped = NestedLoopJoin(left, right, full, kind, output)
        assert sorted(run(hashed), key=repr) == sorted(run(looped), key=repr)
        expected = []
        for l in left_rows:
            matches = [l + r for r in right_rows
                       if l[0] is not None and l[0] == r[0] and
                       (residual is None or (l[1] is not None and r[1] is not None and
                                             l[1] < r[1]))]
            expected += matches or ([l + (None, None)] if kind == "left" else [])
        assert sorted(run(looped), key=repr) == sorted(expected, key=repr)


def test_limit_offset_filter_project_distinct():
    rows = [(i, i % 3) for i in range(10)]
    source = values(rows, [I, I])
    assert run(Limit(source, Const(3, I), Const(2, I), source.output)) == rows[2:5]
    assert run(Limit(source, None, Const(8, I), source.output)) == rows[8:]
    assert run(Limit(source, Const(0, I), None, source.output)) == []
    keep = Filter(source, Compare("=", Field(1, I, False), Const(0, I)), source.output)
    assert run(keep) == [r for r in rows if r[1] == 0]
    project = Project(source, (Field(1, I, False),), (OutputColumn("m", I),))
    assert run(project) == [(r[1],) for r in rows]
    assert run(Distinct(project, project.output)) == [(0,), (1,), (2,)]


def test_explain_lines_shape():
    source = values([(1, 2)], [I, I])
    plan = Limit(Filter(source, Compare(">", Field(0, I, False, "t.a"), Const(0, I)),
                        source.output), Const(1, I), None, source.output)
    lines = explain_lines(plan)
    assert lines[0] == "Limit"
    assert lines[1] == "  Count: 1"
    assert lines[2] == "  ->  Filter"
    assert lines[3] == "        Filter: (t.a > 0)"
    assert lines[4].startswith("        ->  Values")
