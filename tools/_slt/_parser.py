"""Parsing a sqllogictest script into records.

A script is a sequence of records separated by blank lines. Lines starting with ``#`` are
comments: they are dropped wherever they appear and do not separate records. Line endings may
be LF or CRLF. A record is:

    [skipif ENGINE | onlyif ENGINE]...     conditions, any number, any order
    statement ok|error                     then the SQL (one or more lines)
    query TYPES [SORT] [LABEL]             then the SQL, optionally ``----`` and expected lines
    hash-threshold N
    halt

Anything after the first word of a condition line (e.g. ``onlyif sqlite # empty RHS``) other
than the engine name is ignored. A record whose command is not one of the above is kept as an
``UnknownRecord`` so that the runner can count it as a failure instead of silently dropping it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SORT_MODES = ("nosort", "rowsort", "valuesort")

HASH_LINE = re.compile(r"^(\d+) values hashing to ([0-9a-fA-F]{32})$")


@dataclass(frozen=True)
class Condition:
    """``skipif ENGINE`` (only=False) or ``onlyif ENGINE`` (only=True)."""

    only: bool
    engine: str

    def allows(self, engine_name: str) -> bool:
        return (self.engine == engine_name) == self.only


@dataclass(frozen=True)
class Record:
    """Common part of every record: where it starts and the conditions guarding it."""

    line: int
    conditions: tuple[Condition, ...] = field(default=(), kw_only=True)

    def applies_to(self, engine_name: str) -> bool:
        return all(condition.allows(engine_name) for condition in self.conditions)

    @property
    def is_test(self) -> bool:
        """Tests are what the corpus counts: one statement or query record is one test."""
        return False


@dataclass(frozen=True)
class Statement(Record):
    sql: str
    expect_error: bool

    @property
    def is_test(self) -> bool:
        return True


@dataclass(frozen=True)
class Query(Record):
    sql: str
    types: str
    sort: str
    label: str | None
    # None when the record has no ``----`` line: the query must only run without error.
    expected: tuple[str, ...] | None

    @property
    def is_test(self) -> bool:
        return True

    @property
    def expected_hash(self) -> tuple[int, str] | None:
        """(count, md5) when the expected result is a single ``N values hashing to MD5`` line."""
        if self.expected is not None and len(self.expected) == 1:
            match = HASH_LINE.match(self.expected[0])
            if match:
                return int(match.group(1)), match.group(2).lower()
        return None


@dataclass(frozen=True)
class HashThreshold(Record):
    threshold: int


@dataclass(frozen=True)
class Halt(Record):
    pass


@dataclass(frozen=True)
class UnknownRecord(Record):
    """A record the parser could not understand; the runner counts it as failed."""

    text: str
    problem: str

    @property
    def is_test(self) -> bool:
        return True


class _Block:
    """The lines of one record (comments removed), each with its 1-based line number."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []


def _blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.startswith("#"):
            continue
        if not line.strip():
            current = None
            continue
        if current is None:
            current = _Block()
            blocks.append(current)
        current.lines.append((number, line))
    return blocks


def _parse_block(block: _Block) -> Record:
    conditions: list[Condition] = []
    index = 0
    while index < len(block.lines):
        words = block.lines[index][1].split()
        if words[0] in ("skipif", "onlyif") and len(words) >= 2:
            conditions.append(Condition(only=words[0] == "onlyif", engine=words[1]))
            index += 1
            continue
        break
    first_line = block.lines[0][0]
    if index == len(block.lines):
        return UnknownRecord(first_line, conditions=tuple(conditions),
                             text="\n".join(line for _, line in block.lines),
                             problem="condition lines without a command")
    line_number, header = block.lines[index]
    words = header.split()
    body = [line for _, line in block.lines[index + 1:]]
    keyword = words[0]
    common = {"conditions": tuple(conditions)}

    def unknown(problem: str) -> UnknownRecord:
        return UnknownRecord(line_number, text="\n".join([header, *body]), problem=problem,
                             **common)

    if keyword == "statement":
        if len(words) < 2 or words[1] not in ("ok", "error"):
            return unknown(f"expected 'statement ok' or 'statement error', got {header!r}")
        if not body:
            return unknown("statement without SQL")
        return Statement(line_number, sql="\n".join(body), expect_error=words[1] == "error",
                         **common)
    if keyword == "query":
        if len(words) < 2:
            return unknown("query without column types")
        types = words[1]
        if any(letter not in "ITR" for letter in types):
            return unknown(f"unknown column type letters in {types!r} (expected I, T or R)")
        sort = "nosort"
        label = None
        rest = words[2:]
        if rest and rest[0] in SORT_MODES:
            sort = rest.pop(0)
        if rest:
            label = rest.pop(0)
        separator = next((i for i, line in enumerate(body) if line.strip() == "----"), None)
        if separator is None:
            sql_lines, expected = body, None
        else:
            sql_lines, expected = body[:separator], tuple(body[separator + 1:])
        if not sql_lines:
            return unknown("query without SQL")
        return Query(line_number, sql="\n".join(sql_lines), types=types, sort=sort, label=label,
                     expected=expected, **common)
    if keyword == "hash-threshold":
        if len(words) < 2 or not words[1].isdigit():
            return unknown(f"bad hash-threshold line {header!r}")
        return HashThreshold(line_number, threshold=int(words[1]), **common)
    if keyword == "halt":
        return Halt(line_number, **common)
    return unknown(f"unknown record type {keyword!r}")


def parse_script(text: str) -> list[Record]:
    """Parse the text of a script into its records, in order."""
    return [_parse_block(block) for block in _blocks(text)]


def read_script(path: str) -> list[Record]:
    """Parse a script file. Non-UTF-8 bytes are replaced rather than rejected."""
    with open(path, "rb") as handle:
        data = handle.read()
    return parse_script(data.decode("utf-8", errors="replace"))
