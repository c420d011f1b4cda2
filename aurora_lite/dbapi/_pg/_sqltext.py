"""Just enough SQL lexing for a wire protocol: split at semicolons, find and rewrite placeholders.

Neither end of the protocol parses SQL (the frontend does); but the server must split a
simple Query into statements, count the ``$n`` of a statement it is asked to describe, and the
remote driver must turn ``?`` and ``:name`` into the ``$n`` the protocol carries. All three
need to know what is a quoted string, a quoted identifier, a dollar-quoted string or a
comment, and nothing else. The rules are PostgreSQL's (as in aurora_lite.shell's splitter):
``'...'`` with ``''``; ``E'...'`` with backslash escapes; ``"..."``; ``$tag$...$tag$``;
``-- ...`` and nesting ``/* ... */``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aurora_lite.errors import ProgrammingError

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<line>--[^\n]*)
  | (?P<block>/\*)
  | (?P<estring>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z))
  | (?P<string>'(?:[^']|'')*(?:'|\Z))
  | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
  | (?P<dollar>\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$)
  | (?P<number_param>\$[0-9]+)
  | (?P<qmark>\?)
  | (?P<cast>::)
  | (?P<named>:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<semicolon>;)
  | (?P<word>[A-Za-z_\x80-\uffff][A-Za-z0-9_$\x80-\uffff]*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class Token:
    kind: str
    start: int
    end: int
    text: str


def tokens(sql: str) -> list[Token]:
    """The lexical tokens of ``sql``; an unterminated quote or comment runs to the end."""
    out: list[Token] = []
    position = 0
    length = len(sql)
    while position < length:
        match = _TOKEN.match(sql, position)
        assert match is not None  # (?P<other>.) matches any character
        kind = match.lastgroup or "other"
        end = match.end()
        if kind == "block":
            depth = 1
            while depth and end < length:
                if sql.startswith("/*", end):
                    depth += 1
                    end += 2
                elif sql.startswith("*/", end):
                    depth -= 1
                    end += 2
                else:
                    end += 1
        elif kind == "dollar":
            tag = match.group()
            close = sql.find(tag, end)
            end = length if close < 0 else close + len(tag)
        out.append(Token(kind, position, end, sql[position:end]))
        position = end
    return out


_INVISIBLE = {"space", "line", "block"}


def split_statements(sql: str) -> list[tuple[int, str]]:
    """The statements of ``sql`` as (offset of the statement in ``sql``, its text without the
    semicolon); statements with nothing but blanks and comments are dropped."""
    statements = []
    start = None
    end = 0
    for token in tokens(sql):
        if token.kind == "semicolon":
            if start is not None:
                statements.append((start, sql[start:end]))
            start = None
        elif token.kind not in _INVISIBLE:
            if start is None:
                start = token.start
            end = token.end
        elif start is not None and token.kind != "space":
            end = token.end
    if start is not None:
        statements.append((start, sql[start:end]))
    return statements


_PLAIN_START = re.compile(r"\s*([A-Za-z_]+)(?![A-Za-z0-9_$'])")


def leading_keyword(sql: str) -> str:
    """The first word of a statement in upper case ("" when it has none)."""
    match = _PLAIN_START.match(sql)
    if match:  # the usual case, without lexing: no comment or quote before the first word
        return match.group(1).upper()
    for token in tokens(sql[:400]):
        if token.kind in _INVISIBLE:
            continue
        return token.text.upper() if token.kind == "word" else ""
    return ""


def leading_words(sql: str, count: int = 3) -> list[str]:
    words = []
    for token in tokens(sql[:400]):
        if token.kind in _INVISIBLE:
            continue
        if token.kind != "word":
            break
        words.append(token.text.upper())
        if len(words) == count:
            break
    return words


def count_parameters(sql: str) -> int:
    """The highest ``$n`` of a statement (0 when it has none)."""
    highest = 0
    for token in tokens(sql):
        if token.kind == "number_param":
            highest = max(highest, int(token.text[1:]))
    return highest


def to_numbered(sql: str, parameters: Sequence | Mapping | None) -> tuple[str, list]:
    """Rewrite ``?`` or ``:name`` placeholders to ``$1..$n`` and order the values to match.

    ``$n`` placeholders are left as they are. A mapping needs ``:name`` placeholders (each
    distinct name becomes one ``$n``, reused where the name repeats); a sequence needs ``?``
    or ``$n``. Mismatches raise ProgrammingError, as the embedded driver does.
    """
    if parameters is None:
        parameters = ()
    named = isinstance(parameters, Mapping)
    pieces: list[str] = []
    values: list = []
    names: dict[str, int] = {}
    cursor = 0
    used_qmark = used_named = used_numbered = False
    for token in tokens(sql):
        if token.kind == "qmark":
            used_qmark = True
            if named:
                raise ProgrammingError("? placeholders need a sequence of values",
                                       sqlstate="08P01")
            if len(values) >= len(parameters):
                raise ProgrammingError(f"the statement needs more than the {len(parameters)} "
                                       f"parameter(s) given", sqlstate="08P01")
            values.append(parameters[len(values)])
            replacement = f"${len(values)}"
        elif token.kind == "named" and named:
            used_named = True
            name = token.text[1:]
            if name not in parameters:
                raise ProgrammingError(f"missing value for parameter :{name}",
                                       sqlstate="08P01")
            if name not in names:
                values.append(parameters[name])
                names[name] = len(values)
            replacement = f"${names[name]}"
        else:
            if token.kind == "number_param":
                used_numbered = True
            continue
        pieces.append(sql[cursor:token.start])
        pieces.append(replacement)
        cursor = token.end
    if used_numbered and (used_qmark or used_named):
        raise ProgrammingError("a statement cannot mix $n with ? or :name placeholders",
                               sqlstate="42601")
    if named and not used_named and parameters:
        raise ProgrammingError("a mapping of parameters needs :name placeholders",
                               sqlstate="08P01")
    if used_qmark and len(values) != len(parameters):
        raise ProgrammingError(f"the statement needs {len(values)} parameter(s) but "
                               f"{len(parameters)} were given", sqlstate="08P01")
    if not (used_qmark or used_named):
        if named:
            return sql, []
        return sql, list(parameters)
    pieces.append(sql[cursor:])
    return "".join(pieces), values
