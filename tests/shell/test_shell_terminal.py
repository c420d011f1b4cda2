"""The shell on a pseudo-terminal, typed at like a person: prompts, a multi-line statement,
TAB completion, Ctrl-C at the prompt and during a long statement, the transaction marker in
the prompt, history recalled with the up arrow in a second session, Ctrl-D to leave."""

import os
import pathlib
import sys
import time

import pytest

from tests.shell._terminal import CTRL_C, CTRL_D, ENTER, TAB, UP, Terminal

pytest.importorskip("termios")

REPO = pathlib.Path(__file__).resolve().parents[2]
# 13 doublings: 8192 rows; the self join below then compares 67 million pairs (tens of
# seconds), checking for cancellation after every leaf page of the outer side.
BIG_TABLE = ("CREATE TABLE big (a INTEGER); INSERT INTO big VALUES (1); "
             + " ".join(f"INSERT INTO big SELECT a + {1 << i} FROM big;" for i in range(13)))
LONG_STATEMENT = "SELECT count(*) FROM big x, big y WHERE x.a + y.a < 0;"


def _terminal(tmp_path, *args):
    env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", HOME=str(tmp_path),
               AURORA_LITE_HISTORY=str(tmp_path / "history"))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return Terminal([sys.executable, "-m", "aurora_lite", "shell", str(tmp_path / "data"),
                     *args], cwd=str(tmp_path), env=env)


def test_a_terminal_session(tmp_path):
    term = _terminal(tmp_path)
    try:
        at = term.expect(r"aurora-lite shell on the embedded database in .*\n")
        at = term.expect(r"aurora=>", start=at)
        term.type("CREATE TABLE my_table (alpha INTEGER, beta TEXT);" + ENTER)
        at = term.expect(r"\nCREATE TABLE\n", start=at)
        term.type("INSERT INTO my_table VALUES (7, 'x');" + ENTER)
        at = term.expect(r"\nINSERT 0 1\n", start=at)

        # A statement over two lines: Enter continues it under the continuation prompt.
        term.type("SELECT 41 + 1" + ENTER)
        at = term.expect(r"aurora->", start=at)
        term.type("  AS answer;" + ENTER)
        at = term.expect(r"\n answer\n-+\n +42\n\(1 row\)\n", start=at)

        # TAB completes a column (no table named yet) and a table name.
        term.expect(r"aurora=>", start=at)
        term.type("SELECT alp" + TAB + " FROM my_t" + TAB + ";" + ENTER)
        at = term.expect(r"\n alpha\n-+\n +7\n\(1 row\)\n", start=at)

        # Ctrl-C at the prompt drops what was typed.
        before = term.expect(r"aurora=>", start=at)
        term.type("SELECT this would be a syntax error")
        term.send(CTRL_C)
        term.quiet(0.3)
        term.type("SELECT 5 AS five;" + ENTER)
        at = term.expect(r"\n five\n-+\n +5\n\(1 row\)\n", start=at)
        assert "ERROR" not in term.text[before:at]

        # Ctrl-C during a long statement cancels it; the shell and the transaction go on.
        term.send(BIG_TABLE + ENTER)
        at = term.expect(r"\nINSERT 0 4096\n", start=at)
        term.type("BEGIN;" + ENTER)
        at = term.expect(r"aurora=\*>", start=at)  # the prompt shows the open transaction
        term.send(LONG_STATEMENT + ENTER)
        term.quiet(1.5)
        sent = time.monotonic()
        term.send(CTRL_C)
        at = term.expect(r"ERROR:  canceling statement due to user request \(SQLSTATE 57014\)",
                         start=at, timeout=20)
        assert time.monotonic() - sent < 20
        at = term.expect(r"aurora=\*>", start=at)
        term.type("ROLLBACK;" + ENTER)
        at = term.expect(r"\nROLLBACK\n", start=at)
        term.expect(r"aurora=>", start=at)

        term.send(CTRL_D)
        assert term.wait() == 0
        assert "Traceback" not in term.text
    finally:
        term.close()


def test_history_is_recalled_in_the_next_session(tmp_path):
    first = _terminal(tmp_path, "--driver", "sqlite3")
    try:
        first.expect(r"aurora=>")
        first.type("SELECT 4242" + ENTER + "  AS recalled;" + ENTER)
        at = first.expect(r"\n recalled\n-+\n +4242\n")
        first.expect(r"aurora=>", start=at)
        first.send(CTRL_D)
        assert first.wait() == 0
    finally:
        first.close()
    assert "AS recalled;" in (tmp_path / "history").read_text()
    second = _terminal(tmp_path, "--driver", "sqlite3")
    try:
        at = second.expect(r"aurora=>")
        second.send(UP)
        at = second.expect(r"AS recalled;", start=at)  # the whole two-line statement
        second.send(ENTER)
        at = second.expect(r"\n recalled\n-+\n +4242\n", start=at)
        second.expect(r"aurora=>", start=at)
        second.send(CTRL_D)
        assert second.wait() == 0
    finally:
        second.close()
