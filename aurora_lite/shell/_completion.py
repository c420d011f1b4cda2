"""Tab completion on the terminal: SQL keywords, table names, column names, meta-commands.

What is offered depends on where the cursor is:

* ``\\d acc<TAB>``, ``.schema acc<TAB>``: relation names; ``.mode <TAB>``: output modes;
  ``\\i <TAB>`` / ``.read <TAB>``: file names; ``\\ti<TAB>``: meta-command names;
* after FROM, JOIN, INTO, UPDATE, TABLE: table names;
* ``alias.<TAB>`` / ``table.<TAB>``: that table's columns (aliases from ``FROM t AS a``);
* anywhere else: columns of the tables the statement names (of all tables while it names
  none yet), then table names, keywords and functions.

Names come from the session's introspector (``_introspect``), asked when TAB is pressed, so
they follow DDL at once. A keyword is offered in the case the user is typing it in. A name
that needs quotes (``"Mixed Case"``) is inserted quoted. Completion never raises: a failing
introspector just offers fewer names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from aurora_lite.shell._formats import MODES
from aurora_lite.shell._introspect import Introspector, fold_name
from aurora_lite.shell._meta import argument_kind, complete_meta, is_meta

KEYWORDS = tuple(sorted(set("""
SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT OFFSET DISTINCT AS AND OR NOT NULL IS IN
BETWEEN LIKE ILIKE EXISTS CASE WHEN THEN ELSE END JOIN INNER LEFT RIGHT FULL OUTER CROSS ON
USING UNION ALL INTERSECT EXCEPT ASC DESC NULLS FIRST LAST INSERT INTO VALUES UPDATE SET
DELETE RETURNING CREATE TABLE INDEX UNIQUE VIEW DROP ALTER ADD COLUMN RENAME TO IF PRIMARY
KEY FOREIGN REFERENCES DEFAULT CHECK CONSTRAINT BEGIN COMMIT ROLLBACK SAVEPOINT RELEASE START
TRANSACTION EXPLAIN ANALYZE WITH RECURSIVE TRUE FALSE CAST INTEGER INT BIGINT SMALLINT REAL
DOUBLE PRECISION NUMERIC DECIMAL TEXT VARCHAR CHAR BOOLEAN BYTEA DATE TIMESTAMP TIME SHOW
""".split())))
FUNCTIONS = ("abs", "avg", "coalesce", "count", "length", "lower", "max", "min", "nullif",
             "round", "substr", "substring", "sum", "trim", "upper")
_TABLE_CONTEXT = {"FROM", "JOIN", "INTO", "UPDATE", "TABLE"}
_IDENTIFIER = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_WORD_BEFORE_CURSOR = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*$|$")
_QUALIFIED = re.compile(rf"({_IDENTIFIER})\.([A-Za-z0-9_$]*)$")
_PREVIOUS_WORD = re.compile(r"([A-Za-z_]+)\s+(?:[A-Za-z_][A-Za-z0-9_$]*)?$")
_TABLE_REFERENCE = re.compile(
    rf"\b(?:FROM|JOIN|UPDATE|INTO)\s+({_IDENTIFIER})(?:\s+(?:AS\s+)?({_IDENTIFIER}))?"
    rf"|,\s*({_IDENTIFIER})(?:\s+(?:AS\s+)?({_IDENTIFIER}))?", re.I)
_MAX_TABLES_FOR_COLUMNS = 50
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def insertable(name: str) -> str:
    """A stored name as it must be typed: quoted unless it is a plain lower-case name."""
    if _PLAIN_NAME.fullmatch(name) and name.upper() not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def table_references(text: str) -> dict[str, str]:
    """Names by which the statement refers to tables -> the tables: ``{"a": "accounts",
    "accounts": "accounts"}`` for ``FROM accounts a``."""
    found: dict[str, str] = {}
    for match in _TABLE_REFERENCE.finditer(text):
        table, alias = (match.group(1), match.group(2)) if match.group(1) \
            else (match.group(3), match.group(4))
        if not table:
            continue
        table_name = fold_name(table)
        found[table_name] = table_name
        if alias and alias.upper() not in KEYWORDS:
            found[fold_name(alias)] = table_name
    return found


class SqlCompleter(Completer):
    def __init__(self, introspector: Introspector) -> None:
        self.introspector = introspector
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        try:
            yield from self._completions(document, complete_event)
        except Exception:  # noqa: BLE001 - completion must never break the prompt
            return

    def _completions(self, document: Document,
                     complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        if "\n" not in before and is_meta(before):
            return self._meta(before.lstrip(), complete_event)
        qualified = _QUALIFIED.search(before)
        if qualified:
            tables = table_references(document.text)
            qualifier = fold_name(qualified.group(1))
            table = tables.get(qualifier, qualifier)
            return self._names(qualified.group(2), self._columns(table), "column")
        word = _WORD_BEFORE_CURSOR.search(before).group(0)
        previous = _PREVIOUS_WORD.search(before)
        if previous and previous.group(1).upper() in _TABLE_CONTEXT:
            return self._names(word, self._tables(), "table")
        tables = self._tables()
        # Columns of the tables the statement names; before it names any (SELECT a<TAB>
        # ... FROM comes later), those of every table.
        referenced = sorted(set(table_references(document.text).values())) \
            or tables[:_MAX_TABLES_FOR_COLUMNS]
        columns: list[str] = []
        for table in referenced:
            columns += [name for name in self._columns(table) if name not in columns]
        completions = list(self._names(word, columns, "column"))
        completions += self._names(word, tables, "table")
        completions += self._keywords(word)
        return completions

    def _meta(self, text: str, complete_event: CompleteEvent) -> Iterable[Completion]:
        name, space, argument = text.partition(" ")
        if not space:
            return [Completion(candidate, -len(name), display_meta="command")
                    for candidate in complete_meta(name)]
        kind = argument_kind(name)
        argument = argument.lstrip()
        if kind == "relation":
            return self._names(argument, self._tables(), "relation")
        if kind == "mode":
            return [Completion(mode, -len(argument)) for mode in MODES
                    if mode.startswith(argument.lower())]
        if kind == "switch":
            return [Completion(value, -len(argument)) for value in ("on", "off")
                    if value.startswith(argument.lower())]
        if kind == "file":
            return self._paths.get_completions(Document(argument), complete_event)
        return []

    def _tables(self) -> list[str]:
        try:
            return self.introspector.table_names()
        except Exception:  # noqa: BLE001
            return []

    def _columns(self, table: str) -> list[str]:
        try:
            return self.introspector.column_names(table)
        except Exception:  # noqa: BLE001
            return []

    @staticmethod
    def _names(word: str, names: Iterable[str], meta: str) -> Iterator[Completion]:
        folded = word.lower()
        for name in names:
            if name.lower().startswith(folded):
                yield Completion(insertable(name), -len(word), display=name, display_meta=meta)

    @staticmethod
    def _keywords(word: str) -> list[Completion]:
        lower = bool(word) and word == word.lower()
        prefix = word.upper()
        found = [Completion(keyword.lower() if lower else keyword, -len(word),
                            display_meta="keyword")
                 for keyword in KEYWORDS if keyword.startswith(prefix)]
        found += [Completion(name if lower or not word else name.upper(), -len(word),
                             display_meta="function")
                  for name in FUNCTIONS if name.startswith(word.lower())]
        return found
