"""The interactive SQL shell (``aurora-lite shell [DIR | URL]``); docs/shell.md.

Public surface: ``add_arguments`` and ``run_command`` (the command line, used by
``aurora_lite.cli``); ``run`` (a session on a ``Target``: an embedded directory or a
postgresql:// URL, see ``target_for``); ``StatementSplitter``, ``Executor``, ``command_tag``,
``format_table``, ``display_value`` and ``render`` (the output modes), the pieces other tools
and the wire server's tests may reuse.

The terminal front end (prompt_toolkit) is imported only when a terminal session starts, so
``-c``, ``-f`` and piped input stay quick to start.
"""

from aurora_lite.shell._command import add_arguments, run_command
from aurora_lite.shell._connect import Target, target_for
from aurora_lite.shell._executor import Executor, command_tag
from aurora_lite.shell._formats import MODES, render
from aurora_lite.shell._session import run
from aurora_lite.shell._splitter import StatementSplitter
from aurora_lite.shell._table import display_value, format_table

__all__ = ["add_arguments", "run_command", "run", "Target", "target_for", "Executor",
           "command_tag", "StatementSplitter", "format_table", "display_value", "render",
           "MODES"]
