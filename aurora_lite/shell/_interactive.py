"""The terminal session: prompt_toolkit with history, completion and multi-line statements.

* Enter runs the input once it is complete - every statement ended by ``;`` outside quotes and
  comments, or a meta-command line - and otherwise starts a new line under the continuation
  prompt ``aurora-> ``. The whole multi-line statement is one history entry.
* History persists in ``$AURORA_LITE_HISTORY`` or else ``~/.aurora_lite_history``; up-arrow
  recalls entries of earlier sessions too. If the file cannot be written, history lasts for
  this session only (and the shell says so).
* TAB completes (``_completion``); completion is never started by typing alone.
* Ctrl-C at the prompt clears the input; while a statement runs it cancels the statement
  (``_cancel``). Ctrl-D on an empty line leaves.
* The prompt is ``aurora=> ``, ``aurora=*> `` inside a transaction, ``aurora=!> `` inside a
  failed one.
"""

from __future__ import annotations

import os
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from aurora_lite.shell._completion import SqlCompleter
from aurora_lite.shell._meta import QUIT_COMMANDS, is_meta
from aurora_lite.shell._session import CONTINUATION_PROMPT, Session, prompt_for
from aurora_lite.shell._splitter import StatementSplitter

HISTORY_VARIABLE = "AURORA_LITE_HISTORY"
HISTORY_FILE = ".aurora_lite_history"
BANNER = "aurora-lite shell on {target}; statements end with ';', \\? or .help for help, \\q quits."


def history_path() -> str:
    return os.environ.get(HISTORY_VARIABLE) or os.path.join(os.path.expanduser("~"),
                                                           HISTORY_FILE)


def open_history(err: TextIO) -> History:
    path = history_path()
    try:
        with open(path, "a", encoding="utf-8"):
            pass  # FileHistory fails only when it writes; find out now
    except OSError as exc:
        err.write(f"note: history is not kept: cannot write {path}: {exc.strerror or exc}\n")
        return InMemoryHistory()
    return FileHistory(path)


def input_is_complete(text: str) -> bool:
    """True when Enter should run ``text``: it holds no unfinished statement, or its last
    line is a meta-command (which runs at once, as in psql)."""
    splitter = StatementSplitter()
    lines = text.split("\n")
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        if line.strip() in QUIT_COMMANDS and not splitter.in_literal:
            return True
        if splitter.at_statement_start and is_meta(line):
            if last:
                return True
            continue
        splitter.feed(line + "\n")
    return splitter.at_statement_start


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.complete_state = None  # Enter takes the chosen completion, nothing more
        elif input_is_complete(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.newline(copy_margin=False)

    return bindings


def _continuation(width: int, line_number: int, wrapped: bool) -> str:
    return "" if wrapped else CONTINUATION_PROMPT  # a soft-wrapped line is no new line


def interact(session: Session, out: TextIO) -> None:
    err = session.executor.err
    prompt_session: PromptSession[str] = PromptSession(
        history=open_history(err), completer=SqlCompleter(session.introspector),
        complete_while_typing=False, multiline=True, key_bindings=_key_bindings(),
        prompt_continuation=_continuation,
        enable_history_search=False, mouse_support=False)
    out.write(BANNER.format(target=session.target.description) + "\n")
    out.flush()
    while not session.finished:
        try:
            text = prompt_session.prompt(prompt_for(session.executor.transaction_marker()))
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt: the input is dropped
        except EOFError:
            out.write("\n")
            break
        try:
            session.feed_text(text)
        except KeyboardInterrupt:
            # Ctrl-C outside a statement (a meta-command's queries, printing): drop the rest
            session.splitter.reset()
            session.executor.failures += 1
            session.executor.report_lines(["ERROR:  canceled by the user"])
