"""A shell session: input lines -> statements and meta-commands; the sources run in order.

Input comes from ``-c`` strings and ``-f`` files in the order given, or else from standard
input: through prompt_toolkit on a terminal (``_interactive``), line by line without prompts
when it is piped. A statement ends at ``;``; at the end of a ``-c`` string, a file or piped
input, an unterminated statement is executed as it is. Meta-commands (``_meta``) take a line of
their own where a statement may start; ``\\q`` and its aliases also end the session in the
middle of a statement, which is dropped.

Exit status: 0; 1 when a statement or meta-command failed (not in a terminal session); 2 when
the database or a file could not be opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from aurora_lite.shell._connect import Target, open_connection, served_writer_hint
from aurora_lite.shell._executor import Executor
from aurora_lite.shell._introspect import Introspector, introspector_for
from aurora_lite.shell._meta import QUIT_COMMANDS, is_meta, run_meta
from aurora_lite.shell._splitter import StatementSplitter

PROMPT = "aurora=> "
CONTINUATION_PROMPT = "aurora-> "
MAX_FILE_DEPTH = 16

EXIT_OK = 0
EXIT_STATEMENT_FAILED = 1
EXIT_USAGE = 2


def prompt_for(marker: str) -> str:
    """``aurora=> ``; ``aurora=*> `` inside a transaction, ``aurora=!> `` in a failed one."""
    return f"aurora={marker}> "


class Session:
    """Feeds lines to the splitter, statements to the executor and meta-commands to
    ``_meta``. A file run with ``.read`` / ``\\i`` gets a child session with its own
    splitter that shares everything else."""

    def __init__(self, executor: Executor, introspector: Introspector, target: Target,
                 *, depth: int = 0) -> None:
        self.executor = executor
        self.introspector = introspector
        self.target = target
        self.splitter = StatementSplitter()
        self.finished = False
        self.depth = depth

    @property
    def prompt(self) -> str:
        if not self.splitter.at_statement_start:
            return CONTINUATION_PROMPT
        return prompt_for(self.executor.transaction_marker())

    def feed_line(self, line: str) -> None:
        """One line of input, with or without its line end."""
        command = line.strip()
        if command in QUIT_COMMANDS and not self.splitter.in_literal:
            self.finished = True
            return
        if self.splitter.at_statement_start and is_meta(command):
            run_meta(self, command)
            return
        for statement in self.splitter.feed(line if line.endswith("\n") else line + "\n"):
            self.execute(statement)
            if self.finished:
                return

    def feed_text(self, text: str) -> None:
        """Several lines at once (what a terminal user entered)."""
        for line in text.split("\n"):
            self.feed_line(line)
            if self.finished:
                return

    def execute(self, statement: str) -> bool:
        ok = self.executor.execute(statement)
        if ok:
            self.introspector.observe(statement)
        return ok

    def end_of_input(self) -> None:
        """Execute an unterminated last statement (end of a -c string, a file, a pipe)."""
        statement = self.splitter.flush()
        if statement is not None and not self.finished:
            self.execute(statement)

    def feed_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.feed_line(line)
            if self.finished:
                return
        self.end_of_input()

    def run_file(self, path: str) -> bool:
        """``-f FILE``, ``.read FILE``, ``\\i FILE``: its lines in a child session. False
        (after an ERROR line) when the file cannot be read."""
        if self.depth >= MAX_FILE_DEPTH:
            self.executor.failures += 1
            self.executor.report_lines([f"ERROR:  {path}: files nested more than "
                                        f"{MAX_FILE_DEPTH} deep (does it read itself?)"])
            return False
        try:
            handle = open(os.path.expanduser(path), encoding="utf-8", errors="replace")
        except OSError as exc:
            self.executor.failures += 1
            self.executor.report_lines([f"ERROR:  cannot read {path}: {exc.strerror or exc}"])
            return False
        child = Session(self.executor, self.introspector, self.target, depth=self.depth + 1)
        with handle:
            child.feed_lines(handle)
        self.finished = self.finished or child.finished
        return True


def run(target: Target, sources: Sequence[tuple[str, str]], *,
        stdin: TextIO | None = None, stdout: TextIO | None = None,
        stderr: TextIO | None = None, connect: Callable[[], Any] | None = None) -> int:
    """Run a shell session on ``target``; ``sources`` are ("command", SQL) and
    ("file", PATH) pairs. ``connect`` overrides how the connection is opened (tests)."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    terminal = not sources and _isatty(stdin)
    interactive = terminal and _isatty(stdout)
    try:
        if connect is not None:
            connection = connect()
        else:
            connection = open_connection(target, _ask_password if terminal else None)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - an ERROR line, no traceback
        # The remote driver's messages already say "cannot connect to HOST:PORT: ...".
        context = "" if target.kind == "remote" else "cannot open the database: "
        if isinstance(exc, OSError):  # the directory itself: not a bug, say what is wrong
            where = f": {exc.filename}" if exc.filename else ""
            lines = [f"ERROR:  {context}{exc.strerror or exc}{where}"]
        else:
            lines = Executor(None, stdout, stderr).error_lines(exc, context=context)
        hint = served_writer_hint(target)
        if hint is not None:
            lines.append(hint)
        stderr.write("\n".join(lines) + "\n")
        return EXIT_USAGE
    executor = Executor(connection, stdout, stderr)
    session = Session(executor, introspector_for(connection, lambda: executor.in_transaction),
                      target)
    status = EXIT_OK
    try:
        if interactive:
            from aurora_lite.shell._interactive import interact
            interact(session, stdout)
        elif terminal:
            _plain_terminal(session, stdin, stdout)
        elif not sources:
            session.feed_lines(stdin)
        for kind, value in sources:
            if kind == "command":
                session.feed_lines(value.split("\n"))
            elif value == "-":
                session.feed_lines(stdin)
            elif not session.run_file(value):
                status = EXIT_USAGE
                break
            if session.finished:
                break
    except BrokenPipeError:
        _silence_stdout()
    finally:
        _close(connection, executor)
    if status == EXIT_OK and executor.failures and not terminal:
        status = EXIT_STATEMENT_FAILED
    return status


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _ask_password(prompt: str) -> str:
    import getpass
    return getpass.getpass(prompt)


def _plain_terminal(session: Session, stdin: TextIO, stdout: TextIO) -> None:
    """A terminal on stdin but not on stdout (``aurora-lite shell | tee log``): plain lines,
    the prompts on stderr so that they stay out of the redirected output."""
    while not session.finished:
        try:
            sys.stderr.write(session.prompt)
            sys.stderr.flush()
            line = stdin.readline()
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            session.splitter.reset()
            continue
        if not line:
            break
        session.feed_line(line)
    session.end_of_input()


def _silence_stdout() -> None:
    """The reader of our output went away (``| head``): stop writing, exit quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _close(connection: Any, executor: Executor) -> None:
    try:
        connection.close()
    except Exception as exc:  # noqa: BLE001
        executor.report_error(exc)
