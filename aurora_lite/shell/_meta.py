"""Meta-commands: lines starting with ``\\`` (psql's) or ``.`` (sqlite's), run by the shell.

Both dialects are accepted for each command (see ``COMMANDS``; ``\\?`` / ``.help`` lists
them). A meta-command takes the whole line and is recognised where a statement may start
(``\\q`` and its aliases also in the middle of a statement, which is then dropped). A failing
meta-command prints an ``ERROR:`` line and counts as a failed statement for the exit status.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aurora_lite.shell._cluster_view import cluster_lines
from aurora_lite.shell._connect import Target
from aurora_lite.shell._describe import describe_relation, relation_list
from aurora_lite.shell._executor import Executor
from aurora_lite.shell._formats import MODES, mode_name
from aurora_lite.shell._introspect import Introspector, Unavailable


class Shell(Protocol):
    """What a meta-command may use of the session running it."""

    executor: Executor
    introspector: Introspector
    target: Target
    finished: bool

    def run_file(self, path: str) -> None: ...


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]
    arguments: str
    help: str
    run: Callable[[Shell, str, str], None]   # (shell, name as typed, argument text)


class MetaError(Exception):
    """A meta-command that cannot do what was asked; the message is shown as an ERROR."""


def _quit(shell: Shell, name: str, argument: str) -> None:
    shell.finished = True


def _help(shell: Shell, name: str, argument: str) -> None:
    shell.executor.write_lines(help_lines())


def _describe(shell: Shell, name: str, argument: str) -> None:
    executor = shell.executor
    if not argument:
        if name == ".schema":
            names = [r.name for r in shell.introspector.relations() if r.kind != "index"]
            for relation in names:
                executor.write_lines(describe_relation(shell.introspector, f'"{relation}"',
                                                       executor.mode) or [])
            if not names:
                executor.write_lines(["Did not find any relations."])
            return
        kinds = {"\\dt": ("table",), "\\dv": ("view",), "\\di": ("index",)}.get(
            name.rstrip("+"), ("table", "view"))
        executor.write_lines(relation_list(shell.introspector, executor.mode, kinds))
        return
    lines = describe_relation(shell.introspector, argument, executor.mode)
    if lines is None:
        raise MetaError(f'Did not find any relation named "{argument}".')
    executor.write_lines(lines)


def _tables(shell: Shell, name: str, argument: str) -> None:
    shell.executor.write_lines(relation_list(shell.introspector, shell.executor.mode,
                                             ("table", "view")))


def _on_off(argument: str, current: bool, name: str) -> bool:
    word = argument.lower()
    if not word:
        return not current
    if word in ("on", "true", "1", "yes"):
        return True
    if word in ("off", "false", "0", "no"):
        return False
    raise MetaError(f"unrecognized value \"{argument}\" for \"{name}\": on or off expected")


def _timing(shell: Shell, name: str, argument: str) -> None:
    executor = shell.executor
    executor.timing = _on_off(argument, executor.timing, name)
    executor.write_lines([f"Timing is {'on' if executor.timing else 'off'}."])


def _set_mode(shell: Shell, argument: str) -> None:
    executor = shell.executor
    if argument:
        mode = mode_name(argument)
        if mode is None:
            raise MetaError(f"unknown output mode \"{argument}\"; one of: {', '.join(MODES)}")
        executor.mode = mode
    executor.write_lines([f"Output mode is {executor.mode}."])


def _mode(shell: Shell, name: str, argument: str) -> None:
    _set_mode(shell, argument)


def _pset(shell: Shell, name: str, argument: str) -> None:
    option, _, value = argument.partition(" ")
    if option != "format":
        raise MetaError(f"\\pset {option or '(nothing)'}: only \\pset format is supported")
    _set_mode(shell, value.strip())


def _expanded(shell: Shell, name: str, argument: str) -> None:
    executor = shell.executor
    on = _on_off(argument, executor.mode == "line", name)
    executor.mode = "line" if on else "table"
    executor.write_lines([f"Expanded display is {'on' if on else 'off'}."])


def _read(shell: Shell, name: str, argument: str) -> None:
    if not argument:
        raise MetaError(f"{name}: missing required argument FILE")
    try:
        paths = shlex.split(argument)
    except ValueError as exc:
        raise MetaError(f"{name}: {exc}") from None
    if len(paths) != 1:
        raise MetaError(f"{name}: exactly one FILE expected")
    shell.run_file(paths[0])


def _cluster(shell: Shell, name: str, argument: str) -> None:
    shell.executor.write_lines(cluster_lines(shell.target, shell.executor.connection,
                                             shell.executor.mode))


def _conninfo(shell: Shell, name: str, argument: str) -> None:
    shell.executor.write_lines([f"You are connected to {shell.target.description}."])


COMMANDS: tuple[Command, ...] = (
    Command(("\\d", ".schema"), "[NAME]", "list tables and views, or describe one (columns, "
            "types, NOT NULL, defaults, keys, indexes)", _describe),
    Command(("\\dt", "\\dv", "\\di"), "", "list tables / views / indexes", _describe),
    Command((".tables",), "", "list tables and views", _tables),
    Command(("\\timing", ".timer"), "[on|off]", "print the time each statement takes",
            _timing),
    Command((".mode", "\\pset format"), "[MODE]", "output mode: table, csv, json or line",
            _mode),
    Command(("\\x",), "[on|off]", "expanded display (line mode) on or off", _expanded),
    Command(("\\i", ".read"), "FILE", "run the statements and commands in FILE", _read),
    Command((".cluster",), "", "storage (segments, SCL per protection group, VDL) and "
            "replicas (read point, lag)", _cluster),
    Command(("\\conninfo",), "", "what this shell is connected to", _conninfo),
    Command(("\\?", ".help"), "", "show this help", _help),
    Command(("\\q", ".quit", ".exit"), "", "leave the shell (so does Ctrl-D)", _quit),
)
_HIDDEN_ALIASES = {"\\quit": "\\q", "\\h": "\\?", "\\help": "\\?", "\\d+": "\\d",
                   "\\dt+": "\\dt", "\\dv+": "\\dv", "\\di+": "\\di", ".q": ".quit"}
_BY_NAME: dict[str, Command] = {name: command for command in COMMANDS
                                for name in command.names if " " not in name}
_BY_NAME["\\pset"] = Command(("\\pset",), "format MODE", "", _pset)
for _alias, _target in _HIDDEN_ALIASES.items():
    _BY_NAME.setdefault(_alias, _BY_NAME[_target])

QUIT_COMMANDS = frozenset({"\\q", "\\quit", ".quit", ".exit", ".q"})
NAMES = tuple(sorted(_BY_NAME))


def help_lines() -> list[str]:
    lines = ["SQL statements end with ';' and may span lines. Meta-commands (one per line):"]
    for command in COMMANDS:
        usage = ", ".join(f"{name} {command.arguments}".strip() for name in command.names)
        if len(usage) > 30:
            lines += [f"  {usage}", f"  {'':<30} {command.help}"]
        else:
            lines.append(f"  {usage:<30} {command.help}")
    lines.append("Ctrl-C cancels the running statement (or clears the line); Ctrl-D leaves.")
    return lines


def is_meta(line: str) -> bool:
    return line.lstrip()[:1] in ("\\", ".")


def run_meta(shell: Shell, line: str) -> bool:
    """Run one meta-command line; True on success (an error has been reported otherwise)."""
    text = line.strip()
    name, _, argument = text.partition(" ")
    argument = argument.strip().rstrip(";").strip()
    command = _BY_NAME.get(name)
    executor = shell.executor
    if command is None:
        executor.failures += 1
        executor.report_lines([f"ERROR:  invalid command {name}; try \\? or .help for help"])
        return False
    try:
        command.run(shell, name, argument)
    except (MetaError, Unavailable) as exc:
        executor.failures += 1
        executor.report_lines([f"ERROR:  {name}: {exc}" if isinstance(exc, Unavailable)
                               else f"ERROR:  {exc}"])
        return False
    except Exception as exc:  # noqa: BLE001 - never a traceback
        executor.failures += 1
        executor.report_error(exc)
        return False
    return True


def complete_meta(prefix: str) -> list[str]:
    """Meta-command names starting with ``prefix`` (for completion)."""
    return [name for name in NAMES if name.startswith(prefix)]


def argument_kind(name: str) -> str | None:
    """What a meta-command's argument names: "relation", "file", "mode" or None."""
    if name in ("\\d", "\\d+", ".schema"):
        return "relation"
    if name in ("\\i", ".read"):
        return "file"
    if name in (".mode",):
        return "mode"
    if name in ("\\timing", ".timer", "\\x"):
        return "switch"
    return None

