"""Random token soup and mutated statements: every failure must be an aurora_lite error
(never a Python exception from the parser, binder, planner or executor). Seed printed;
AURORA_FUZZ_SEED replays, AURORA_FUZZ_CASES scales."""

from __future__ import annotations

import os
import random

from aurora_lite import frontend
from aurora_lite.errors import Error, InternalError

SEED = int(os.environ.get("AURORA_FUZZ_SEED", random.randrange(1 << 30)))
CASES = int(os.environ.get("AURORA_FUZZ_CASES", 300))

VOCABULARY = [
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "JOIN",
    "LEFT", "ON", "AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "LIKE", "CASE", "WHEN",
    "THEN", "ELSE", "END", "CAST", "AS", "DISTINCT", "count", "sum", "avg", "min", "max",
    "abs", "length", "substr", "coalesce", "nullif", "t", "u", "a", "b", "c", "t.a", "u.c",
    "*", "+", "-", "/", "%", "||", "=", "<>", "<", ">=", "(", ")", ",", "1", "0", "2.5",
    "'x'", "'1'", "?", "::", "INTEGER", "TEXT", "DESC", "NULLS", "FIRST", "INSERT", "INTO",
    "VALUES", "UPDATE", "SET", "DELETE", "CREATE", "TABLE", "INDEX", "true",
    "PRIMARY", "KEY", "DEFAULT", "UNIQUE", "EXPLAIN", "BEGIN", "COMMIT", "ROLLBACK", ";",
]
SEEDS = [
    "SELECT a, b FROM t WHERE a > 1 ORDER BY b DESC LIMIT 2",
    "SELECT t.a, u.c FROM t JOIN u ON t.a = u.a WHERE u.c IS NOT NULL",
    "SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 0",
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')",
    "UPDATE t SET b = b || 'z' WHERE a BETWEEN 1 AND 3",
    "DELETE FROM u WHERE c IN (1, 2, NULL)",
    "SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END FROM t",
    "SELECT CAST(a AS TEXT) || b, coalesce(b, 'n') FROM t LEFT JOIN u ON t.a = u.a",
]


OUTCOMES: dict[str, int] = {}


def _run(session, text: str, params) -> None:
    try:
        result = frontend.execute(session, text, params)
        list(result.rows)
        outcome = "ok"
    except InternalError:
        raise                      # an engine bug, not a user error
    except Error as error:
        outcome = type(error).__name__
    OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1


def test_fuzz_never_leaks_python_exceptions(session):
    print(f"seed={SEED} (AURORA_FUZZ_SEED to replay)")
    rng = random.Random(SEED)
    frontend.execute(session, "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    frontend.execute(session, "CREATE TABLE u (a INTEGER, c INTEGER)")
    frontend.execute(session, "INSERT INTO t VALUES (1, 'p'), (2, NULL), (3, 'q')")
    frontend.execute(session, "INSERT INTO u VALUES (1, 5), (NULL, 6), (3, NULL)")
    for _ in range(CASES):
        if rng.random() < 0.5:
            text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randrange(1, 14)))
        else:
            words = rng.choice(SEEDS).split(" ")
            for _ in range(rng.randrange(1, 3)):
                action = rng.random()
                position = rng.randrange(len(words))
                if action < 0.4:
                    words[position] = rng.choice(VOCABULARY)
                elif action < 0.7:
                    words.insert(position, rng.choice(VOCABULARY))
                elif len(words) > 1:
                    del words[position]
            text = " ".join(words)
        params = tuple(rng.choice([1, "x", None, 2.5]) for _ in range(text.count("?")))
        _run(session, text, params)
    print(OUTCOMES)
