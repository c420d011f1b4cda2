"""Splitting input into statements: semicolons inside literals and comments do not count."""

import os
import random

import pytest

from aurora_lite.shell import StatementSplitter


def split(text):
    splitter = StatementSplitter()
    statements = splitter.feed(text)
    rest = splitter.flush()
    return statements + ([rest] if rest is not None else [])


@pytest.mark.parametrize("text, expected", [
    ("select 1; select 2;", ["select 1", "select 2"]),
    ("select\n  1\n;", ["select\n  1"]),
    ("select 'a;b';", ["select 'a;b'"]),
    ("select 'it''s;';", ["select 'it''s;'"]),
    ('select "we;ird""name" from t;', ['select "we;ird""name" from t']),
    ("select E'\\';' ;", ["select E'\\';'"]),
    ("select e'a\\\\'; select 2;", ["select e'a\\\\'", "select 2"]),
    # 'e' ending an identifier does not start an E-string: the backslash is plain text.
    ("select name'x\\'; select 2;", ["select name'x\\'", "select 2"]),
    ("select $$a;b$$;", ["select $$a;b$$"]),
    ("select $fn$ $$; $fn$;", ["select $fn$ $$; $fn$"]),
    ("select $1; select 2;", ["select $1", "select 2"]),
    ("select 1 -- no; end\n, 2;", ["select 1 -- no; end\n, 2"]),
    ("select /* a /* nested; */ still; */ 1;", ["select /* a /* nested; */ still; */ 1"]),
    (";; ; -- just a comment;\n/* ; */ ;", []),
    ("select 1; select 2", ["select 1", "select 2"]),  # the last one is flushed at the end
    ("-- trailing comment only", []),
])
def test_split(text, expected):
    assert split(text) == expected


def test_statements_span_lines_and_state_is_kept_between_feeds():
    splitter = StatementSplitter()
    assert splitter.at_statement_start
    assert splitter.feed("select 'one\n") == []
    assert splitter.in_literal and not splitter.at_statement_start
    assert splitter.feed("two;' as x\n") == []
    assert not splitter.in_literal
    assert splitter.feed("from t; select\n") == ["select 'one\ntwo;' as x\nfrom t"]
    assert not splitter.at_statement_start
    assert splitter.feed("2;\n") == ["select\n2"]
    assert splitter.at_statement_start and splitter.pending.strip() == ""


def test_blank_and_comment_lines_leave_the_splitter_at_a_statement_start():
    splitter = StatementSplitter()
    assert splitter.feed("\n-- comment\n   \n") == []
    assert splitter.at_statement_start
    splitter.feed("/* open\n")
    assert splitter.in_literal and not splitter.at_statement_start
    splitter.feed("closed */\n")
    assert splitter.at_statement_start


def test_feeding_in_random_pieces_gives_the_same_statements():
    seed = int(os.environ.get("SHELL_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed={seed} (replay with SHELL_TEST_SEED={seed})")
    rng = random.Random(seed)
    pieces = ["select 1", ";", "'a;''b'", '"c;""d"', "E'\\';'", "$$;$$", "$q$ ;$$ $q$",
              "-- x;\n", "/* /* ; */ */", " ", "\n", "x", "$1"]
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        whole = split(text)
        splitter = StatementSplitter()
        statements = []
        position = 0
        while position < len(text):
            step = rng.randint(1, 7)
            statements += splitter.feed(text[position:position + step])
            position += step
        rest = splitter.flush()
        assert statements + ([rest] if rest is not None else []) == whole, (seed, text)
