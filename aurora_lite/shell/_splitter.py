"""Splitting typed or piped SQL text into statements at semicolons.

The splitter is incremental: text arrives a line at a time and a statement may span lines. A
semicolon ends a statement only outside of quoted text and comments, following PostgreSQL's
lexical rules:

* ``'...'`` strings (``''`` is a quote inside), ``E'...'`` strings (also ``\\'``),
* ``"..."`` identifiers (``""`` is a quote inside),
* ``$tag$ ... $tag$`` dollar-quoted strings (the tag may be empty),
* ``-- ...`` comments to the end of the line and ``/* ... */`` comments, which nest.

Statements consisting only of whitespace and comments are dropped.
"""

from __future__ import annotations

import enum
import re

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_DOLLAR_TAG_PREFIX = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_$\x80-\uffff]")


class _State(enum.Enum):
    NORMAL = 0
    QUOTE = 1          # '...'
    ESCAPE_QUOTE = 2   # E'...': backslash escapes the next character
    IDENTIFIER = 3     # "..."
    DOLLAR = 4         # $tag$...$tag$
    LINE_COMMENT = 5
    BLOCK_COMMENT = 6


class StatementSplitter:
    """Feed text with ``feed``; complete statements come back without their semicolon."""

    def __init__(self) -> None:
        self._text = ""
        self._position = 0          # next character of _text to scan
        self._state = _State.NORMAL
        self._depth = 0             # nesting of /* */ comments
        self._tag = ""              # the $tag$ of the open dollar quote
        self._has_content = False   # the pending statement has more than blanks and comments

    @property
    def at_statement_start(self) -> bool:
        """True when nothing but blanks and finished comments is pending."""
        return not self._has_content and self._state in (_State.NORMAL, _State.LINE_COMMENT)

    @property
    def in_literal(self) -> bool:
        """True inside a quoted string or identifier, or a block comment."""
        return self._state not in (_State.NORMAL, _State.LINE_COMMENT)

    @property
    def pending(self) -> str:
        return self._text

    def reset(self) -> None:
        self.__init__()

    def feed(self, text: str) -> list[str]:
        self._text += text
        statements: list[str] = []
        text = self._text
        i = self._position
        end = len(text)
        while i < end:
            char = text[i]
            state = self._state
            if state is _State.NORMAL:
                if char == ";":
                    if self._has_content:
                        statements.append(text[:i].strip())
                    text = text[i + 1:]
                    end = len(text)
                    i = 0
                    self._has_content = False
                    continue
                advanced = self._scan_normal(text, i)
                if advanced is None:
                    break
                i = advanced
                continue
            if state is _State.LINE_COMMENT:
                if char == "\n":
                    self._state = _State.NORMAL
            elif state is _State.BLOCK_COMMENT:
                if char in "/*" and i + 1 == end:
                    break  # may be the start of /* or */
                if text.startswith("/*", i):
                    self._depth += 1
                    i += 1
                elif text.startswith("*/", i):
                    self._depth -= 1
                    i += 1
                    if self._depth == 0:
                        self._state = _State.NORMAL
            elif state is _State.QUOTE or state is _State.IDENTIFIER:
                quote = "'" if state is _State.QUOTE else '"'
                if char == quote:
                    if i + 1 < end and text[i + 1] == quote:
                        i += 1  # doubled quote inside the literal
                    elif i + 1 == end:
                        break  # cannot tell yet whether the quote is doubled: wait for text
                    else:
                        self._state = _State.NORMAL
            elif state is _State.ESCAPE_QUOTE:
                if char == "\\":
                    if i + 1 == end:
                        break
                    i += 1
                elif char == "'":
                    if i + 1 < end and text[i + 1] == "'":
                        i += 1
                    elif i + 1 == end:
                        break
                    else:
                        self._state = _State.NORMAL
            elif state is _State.DOLLAR:
                if text.startswith(self._tag, i):
                    i += len(self._tag)
                    self._state = _State.NORMAL
                    continue
                if char == "$" and self._tag.startswith(text[i:]):
                    break  # the closing tag may be cut off at the end of the text
            i += 1
        self._text = text
        self._position = i
        return statements

    def _scan_normal(self, text: str, i: int) -> int | None:
        """Scan from a token start in NORMAL state: the index to go on from, or None when the
        text ends too early to tell what the token is (more text is needed)."""
        char = text[i]
        ahead = text[i + 1:i + 2]
        if char in "-/" and not ahead:
            return None  # may be the start of -- or /*
        if char == "-" and ahead == "-":
            self._state = _State.LINE_COMMENT
            return i + 2
        if char == "/" and ahead == "*":
            self._state = _State.BLOCK_COMMENT
            self._depth = 1
            return i + 2
        if not char.isspace():
            self._has_content = True
        previous = text[i - 1] if i > 0 else " "
        if char == "'":
            escaped = previous in "eE" and (i < 2 or not _IDENTIFIER_CHAR.match(text[i - 2]))
            self._state = _State.ESCAPE_QUOTE if escaped else _State.QUOTE
        elif char == '"':
            self._state = _State.IDENTIFIER
        elif char == "$" and not _IDENTIFIER_CHAR.match(previous):
            match = _DOLLAR_TAG.match(text, i)
            if match:
                self._tag = match.group(0)
                self._state = _State.DOLLAR
                return match.end()
            if _DOLLAR_TAG_PREFIX.fullmatch(text, i):
                return None  # "$ta" at the end of the text may become "$tag$"
        return i + 1

    def flush(self) -> str | None:
        """End of input: the unterminated statement, if there is one, and forget it."""
        statement = self._text.strip() if self._has_content else None
        self.reset()
        return statement
