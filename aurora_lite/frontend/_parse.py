"""From SQL text to one checked sqlglot tree: tokenize, classify, normalise parameters, parse.

sqlglot is a lenient, multi-dialect parser: it reads ``selec oops`` as a column with an alias
and ``EXPLAIN ...`` as an opaque Command, accepts MySQL's ``INSERT t VALUE (1)`` and a
trailing comma in a select list. PostgreSQL rejects all of these, so before sqlglot parses we
check the token stream: the statement must start with a keyword we execute (others are
NotSupportedError or a syntax error, 42601, at the first word), and ``_strict`` rejects the
constructs sqlglot would silently repair. After parsing, the tree's type must match the first
keyword. Transaction statements and EXPLAIN are read here, without sqlglot's parser.

Parameters: ``?`` (qmark), ``:name`` (named) and ``$1`` (numeric) are all rewritten to ``$n``
before parsing, so the binder sees numbered parameters only; positions in error messages are
mapped back to the original text.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import TokenType

from aurora_lite.errors import Error, NotSupportedError, ProgrammingError
from aurora_lite.frontend._errors import near, not_supported, syntax_error
from aurora_lite.frontend._strict import check_tokens, token_position
from aurora_lite.frontend._strict import word as _word

DIALECT = Dialect.get_or_raise("postgres")

# First words of the statements this frontend executes.
STATEMENTS = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "EXPLAIN", "BEGIN",
              "START", "COMMIT", "END", "ROLLBACK", "ABORT", "WITH", "VALUES", "TABLE"}
TRANSACTION = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT"}
# PostgreSQL commands that we know but do not run: NotSupportedError rather than 42601.
KNOWN_COMMANDS = {
    "ALTER", "TRUNCATE", "GRANT", "REVOKE", "SET", "SHOW", "RESET", "ANALYZE", "VACUUM", "COPY",
    "SAVEPOINT", "RELEASE", "PREPARE", "EXECUTE", "DEALLOCATE", "LOCK", "COMMENT", "REINDEX",
    "CLUSTER", "DISCARD", "LISTEN", "NOTIFY", "UNLISTEN", "DO", "CALL", "MERGE", "REFRESH",
    "DECLARE", "FETCH", "MOVE", "CLOSE", "CHECKPOINT", "LOAD", "IMPORT", "SECURITY",
    "REASSIGN", "ABORT", "CHECKPOINT",
}
@dataclass
class Parsed:
    """One statement, classified; ``tree`` is None for transaction control statements."""

    sql: str
    kind: str                          # select, insert, ..., begin, commit, rollback
    tree: exp.Expression | None
    explain: bool = False
    param_style: str | None = None     # "qmark", "named", "numeric" or None
    param_count: int = 0
    param_names: tuple[str, ...] = ()
    # (offset in the parsed text, offset in the statement body) pairs, for error positions,
    # and the offset of the body in the original text (after EXPLAIN).
    offsets: list[tuple[int, int]] = field(default_factory=list)
    base: int = 0
    # Offsets (in the user's text) after which a space was inserted to separate "$n" from
    # the next character (see _space_parameters).
    inserted: tuple[int, ...] = ()

    def original_position(self, position: int | None) -> int | None:
        """Map a 1-based position in the parsed (rewritten) text back to the original."""
        if position is None:
            return None
        offset = position - 1
        result = offset
        for parsed_at, original_at in self.offsets:
            if parsed_at <= offset:
                result = offset - parsed_at + original_at
        return _unspace(result + self.base, self.inserted) + 1


def _unspace(offset: int, inserted: tuple[int, ...]) -> int:
    """Map a 0-based offset in the spaced text back to the user's text."""
    for count, at in enumerate(inserted):
        if offset <= at + count:
            break
        offset -= 1
    return offset


_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def _space_parameters(sql: str) -> tuple[str, tuple[int, ...]]:
    """Put a space after every ``$n`` parameter that touches the next character.

    sqlglot reads ``$1,$2`` as the start of a dollar-quoted string tagged "1," (PostgreSQL tags
    never start with a digit), so ``VALUES ($1,$2)`` would not tokenize. Quoted strings,
    identifiers, comments and dollar-quoted strings are left alone.
    """
    if "$" not in sql:
        return sql, ()
    pieces = []
    inserted = []
    index = 0
    last = 0
    length = len(sql)
    while index < length:
        char = sql[index]
        if char in "'\"":
            end = index + 1
            while end < length:
                if sql[end] == char:
                    if end + 1 < length and sql[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            index = end + 1
        elif char == "-" and sql.startswith("--", index):
            end = sql.find("\n", index)
            index = length if end < 0 else end + 1
        elif char == "/" and sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            index = length if end < 0 else end + 2
        elif char == "$":
            match = _DOLLAR_TAG.match(sql, index)
            if match:
                end = sql.find(match.group(0), match.end())
                index = length if end < 0 else end + len(match.group(0))
                continue
            end = index + 1
            while end < length and sql[end].isdigit():
                end += 1
            if end > index + 1 and end < length and not sql[end].isspace():
                pieces.append(sql[last:end])
                pieces.append(" ")
                inserted.append(end - 1)
                last = end
            index = end
        else:
            index += 1
    if not inserted:
        return sql, ()
    pieces.append(sql[last:])
    return "".join(pieces), tuple(inserted)


def tokenize(sql: str) -> list:
    try:
        return DIALECT.tokenize(sql)
    except TokenError as error:
        raise _token_error(sql, error) from None


def _token_error(sql: str, error: TokenError) -> ProgrammingError:
    # sqlglot says only "Error tokenizing"; find the usual culprit, an unterminated quote.
    for quote, what in (("'", "quoted string"), ('"', "quoted identifier"), ("$$", "dollar")):
        index = _unterminated(sql, quote)
        if index is not None:
            if quote == "$$":
                return syntax_error("unterminated dollar-quoted string", index + 1)
            return syntax_error(f"unterminated {what} at or near \"{sql[index:index + 20]}\"",
                                index + 1)
    return syntax_error(f"invalid SQL text: {str(error).splitlines()[0][:120]}")


def _unterminated(sql: str, quote: str) -> int | None:
    index = 0
    while True:
        start = sql.find(quote, index)
        if start < 0:
            return None
        end = sql.find(quote, start + len(quote))
        while quote == "'" and end >= 0 and sql[end + 1:end + 2] == "'":
            end = sql.find(quote, end + 2)
        if end < 0:
            return start
        index = end + len(quote)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _rewrite_parameters(sql: str, tokens: list, parsed: Parsed) -> str:
    """Replace ``?`` and ``:name`` by ``$n``; record the style and count on ``parsed``."""
    pieces = []
    cursor = 0
    styles = set()
    names: list[str] = []
    count = 0
    numbered = 0
    skip_next = False
    for index, token in enumerate(tokens):
        if skip_next:
            skip_next = False
            continue
        kind = token.token_type
        if kind == TokenType.PLACEHOLDER and token.text == "?":
            styles.add("qmark")
            count += 1
            # The space keeps "$1,$2" from reading as a dollar quote (see _space_parameters).
            replacement = f"${count} "
            end = token.end
        elif kind == TokenType.COLON and index + 1 < len(tokens) and \
                tokens[index + 1].start == token.end + 1 and \
                _NAME.fullmatch(tokens[index + 1].text) is not None or \
                kind == TokenType.PLACEHOLDER and token.text.startswith(":"):
            # ``:name`` - also when the name is a keyword (``:date``, ``:type``, ``:limit``).
            if kind == TokenType.COLON:
                name_token = tokens[index + 1]
                skip_next = True
                end = name_token.end
                name = name_token.text
            else:
                name = token.text[1:]
                end = token.end
            styles.add("named")
            if name not in names:
                names.append(name)
            replacement = f"${names.index(name) + 1} "
        elif kind == TokenType.PARAMETER and index + 1 < len(tokens) and \
                tokens[index + 1].token_type == TokenType.NUMBER and \
                tokens[index + 1].start == token.end + 1:
            styles.add("numeric")
            numbered = max(numbered, int(tokens[index + 1].text))
            continue
        else:
            continue
        pieces.append(sql[cursor:token.start])
        parsed.offsets.append((len("".join(pieces)), token.start))
        pieces.append(replacement)
        cursor = end + 1
        parsed.offsets.append((len("".join(pieces)), cursor))
    if len(styles) > 1:
        raise ProgrammingError("mixed parameter styles in one statement "
                               f"({', '.join(sorted(styles))})", sqlstate="42601")
    if styles:
        parsed.param_style = styles.pop()
        parsed.param_count = {"qmark": count, "named": len(names),
                              "numeric": numbered}[parsed.param_style]
        parsed.param_names = tuple(names)
    if not pieces:
        return sql
    pieces.append(sql[cursor:])
    return "".join(pieces)


def _parse_error(error: ParseError, text: str, tokens: list) -> ProgrammingError:
    details = error.errors[0] if error.errors else {}
    line, col = details.get("line"), details.get("col")
    token = None
    if line is not None and col is not None:
        lines = text.split("\n")
        offset = sum(len(part) + 1 for part in lines[:line - 1]) + col - 1
        for candidate in tokens:
            if candidate.start <= offset <= candidate.end:
                token = candidate
                break
    if token is None:
        return near(None, len(text) + 1)
    description = details.get("description", "")
    if description.startswith("Required keyword") and token is tokens[-1]:
        return near(None, len(text) + 1)
    return near(token.text, token.start + 1)


def _classify(tokens: list, sql: str) -> str:
    first = tokens[0]
    word = _word(first)
    if first.token_type == TokenType.L_PAREN:
        # "(SELECT ...) UNION (SELECT ...)": a query that starts with a parenthesized one.
        inner = next((token for token in tokens if token.token_type != TokenType.L_PAREN),
                     None)
        if inner is not None and _word(inner) == "SELECT":
            return "select"
        raise not_supported("a parenthesized statement", 1)
    if word not in STATEMENTS:
        if word == "REPLACE":
            raise NotSupportedError(
                "REPLACE INTO is not supported (it is SQLite and MySQL syntax; PostgreSQL "
                "writes INSERT ... ON CONFLICT (...) DO UPDATE)", position=token_position(first))
        if word in KNOWN_COMMANDS:
            raise not_supported(f"{word} statement", token_position(first))
        raise near(first.text, token_position(first))
    if word in ("WITH",):
        raise not_supported("WITH (common table expressions)", token_position(first))
    if word in ("VALUES", "TABLE"):
        raise not_supported(f"a {word} statement", token_position(first))
    if word in ("CREATE", "DROP"):
        # Refuse other objects before sqlglot reads them as opaque commands.
        objects = _OBJECTS[word]
        words = [_word(token) for token in tokens[1:3]]
        if not words:
            raise near(None, len(sql) + 1)
        if words[0] not in objects and words[:2] != ["UNIQUE", "INDEX"]:
            what = _object_phrase(tokens)
            if what is not None:
                raise not_supported(f"{word} {what}", token_position(first))
            raise near(tokens[1].text, token_position(tokens[1]))
    return word.lower()


_OBJECTS = {"CREATE": {"TABLE", "INDEX", "VIEW"}, "DROP": {"TABLE", "INDEX", "VIEW"}}
_KNOWN_OBJECTS = {"FUNCTION", "TRIGGER", "SCHEMA", "DATABASE", "SEQUENCE", "TYPE", "DOMAIN",
                  "EXTENSION", "ROLE", "USER", "PROCEDURE", "RULE", "POLICY", "AGGREGATE",
                  "OPERATOR", "SERVER", "TABLESPACE", "COLLATION", "CAST", "LANGUAGE",
                  "PUBLICATION", "SUBSCRIPTION", "STATISTICS", "EVENT", "FOREIGN", "GROUP",
                  "ACCESS", "CONVERSION", "OWNED", "TRANSFORM", "TEXT"}


_MODIFIERS = {"OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "MATERIALIZED", "GLOBAL",
              "LOCAL", "CONSTRAINT", "RECURSIVE", "UNIQUE", "DEFAULT", "PROCEDURAL",
              "TRUSTED", "FOREIGN", "EVENT", "ACCESS", "TEXT", "SEARCH", "CONCURRENTLY"}


def _object_phrase(tokens: list) -> str | None:
    """"TRIGGER", "OR REPLACE VIEW", "TEMP TABLE", ... after CREATE/DROP: the words up to and
    including the kind of object, when it is one PostgreSQL knows (else None)."""
    words = []
    for token in tokens[1:6]:
        word = _word(token)
        if word in ("FOREIGN", "EVENT", "ACCESS", "TEXT") and not words:
            # FOREIGN TABLE / DATA WRAPPER, ACCESS METHOD, TEXT SEARCH ...: two words
            following = [_word(t) for t in tokens[2:4]]
            if following[:1] in (["TABLE"], ["TRIGGER"], ["METHOD"]):
                following = following[:1]
            return " ".join([word] + following)
        words.append(word)
        if word in _KNOWN_OBJECTS or word in ("TABLE", "VIEW", "INDEX"):
            return " ".join(words)
        if word not in _MODIFIERS:
            return None
    return None


def _refuse_sqlite_statements(tokens: list) -> None:
    """Triggers, REPLACE and INSERT OR ...: NotSupportedError naming them, before the
    one-statement check (SQLite's CREATE TRIGGER ... BEGIN ...; END holds semicolons)."""
    first = tokens[0]
    word = _word(first)
    if word in ("CREATE", "DROP"):
        words = []
        for token in tokens[1:5]:
            words.append(_word(token))
            if words[-1] == "TRIGGER":
                raise NotSupportedError(f"triggers are not supported ({word} TRIGGER)",
                                        position=token_position(first))
            if words[-1] not in ("OR", "REPLACE", "TEMP", "TEMPORARY", "CONSTRAINT", "EVENT"):
                break
    elif word in ("INSERT", "UPDATE") and len(tokens) > 2 and _word(tokens[1]) == "OR":
        conflict = _word(tokens[2])
        if conflict in ("REPLACE", "IGNORE", "ABORT", "FAIL", "ROLLBACK"):
            action = "DO NOTHING" if conflict == "IGNORE" else "DO UPDATE"
            hint = f"; PostgreSQL writes INSERT ... ON CONFLICT (...) {action}" \
                if word == "INSERT" else ""
            raise NotSupportedError(
                f"{word} OR {conflict} is not supported (it is SQLite syntax{hint})",
                position=token_position(tokens[1]))


def _near_token(token) -> ProgrammingError:
    return near(None, None) if token is None else near(token.text, token_position(token))


def _transaction_kind(tokens: list) -> str:
    word = _word(tokens[0])
    rest = [_word(token) for token in tokens[1:] if token.token_type != TokenType.SEMICOLON]
    if word == "START":
        if not rest or rest[0] != "TRANSACTION":
            bad = tokens[1] if len(tokens) > 1 else None
            raise _near_token(bad)
        rest = rest[1:]
        word = "BEGIN"
    elif rest and rest[0] in ("WORK", "TRANSACTION"):
        rest = rest[1:]
    if rest:
        if word in ("BEGIN", "START") and rest[0] in ("ISOLATION", "READ"):
            # Every transaction here is serializable; PostgreSQL accepts these modes.
            return "begin"
        if word in ("ROLLBACK", "ABORT") and rest[0] == "TO":
            raise not_supported("ROLLBACK TO SAVEPOINT")
        if word in ("COMMIT", "END", "ROLLBACK", "ABORT") and rest[0] == "AND":
            raise not_supported(f"{word} AND CHAIN")
        index = len(tokens) - len(rest)
        bad = tokens[index] if index < len(tokens) else None
        raise _near_token(bad)
    return {"BEGIN": "begin", "COMMIT": "commit", "END": "commit", "ROLLBACK": "rollback",
            "ABORT": "rollback"}[word]


_EXPECTED = {"select": (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery),
             "insert": (exp.Insert,), "update": (exp.Update,),
             "delete": (exp.Delete,), "create": (exp.Create,), "drop": (exp.Drop,)}


def parse(sql: str) -> Parsed:
    """Parse one statement (a trailing semicolon is allowed)."""
    spaced, inserted = _space_parameters(sql)
    if not inserted:
        return _parse(sql)
    try:
        parsed = _parse(spaced)
    except ProgrammingError as error:
        if error.position is not None:
            error.position = _unspace(error.position - 1, inserted) + 1
        raise
    parsed.sql = sql
    parsed.inserted = inserted
    return parsed


def _parse(sql: str) -> Parsed:
    tokens = tokenize(sql)
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    if not tokens:
        return Parsed(sql, "empty", None)
    _refuse_sqlite_statements(tokens)
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            raise syntax_error("cannot execute more than one statement at a time "
                               "(use split_statements)", token_position(token))
    if _word(tokens[0]) == "EXPLAIN":
        return _parse_explain(sql, tokens[0].end + 1)
    explain = False
    base = 0
    kind = _classify(tokens, sql)
    if kind in TRANSACTION_KINDS:
        if explain:
            raise not_supported("EXPLAIN of a transaction statement")
        return Parsed(sql, _transaction_kind(tokens), None)
    if kind == "explain":
        raise near(tokens[0].text, token_position(tokens[0]))
    check_tokens(tokens, kind)
    parsed = Parsed(sql, kind, None, explain=explain, base=base)
    body = sql[base:tokens[-1].end + 1]
    text = _rewrite_parameters(body, tokens, parsed)
    # Tokenizing costs about as much as parsing: reuse the tokens unless the text changed.
    text_tokens = tokens if text is body else tokenize(text)
    try:
        trees = DIALECT.parser(error_level=ErrorLevel.RAISE).parse(text_tokens, text)
    except ParseError as error:
        raise _with_position(_parse_error(error, text, text_tokens), parsed) from None
    trees = [tree for tree in trees if tree is not None]
    if len(trees) != 1:
        raise syntax_error("expected exactly one statement")
    tree = trees[0]
    expected = _EXPECTED[kind]
    if not isinstance(tree, expected):
        if isinstance(tree, exp.Command):
            raise not_supported(f"{tree.name.upper()} statement" if tree.name else
                                "this statement")
        raise near(tokens[0].text, token_position(tokens[0]) + base)
    parsed.tree = tree
    parsed.kind = kind
    return parsed


TRANSACTION_KINDS = {"begin", "start", "commit", "end", "rollback", "abort"}


def _parse_explain(sql: str, base: int) -> Parsed:
    """EXPLAIN <statement>: sqlglot reads EXPLAIN as an opaque command, so the statement
    after it is parsed on its own and positions are shifted back."""
    rest = sql[base:]
    tokens = tokenize(rest)
    if not tokens or tokens[0].token_type == TokenType.SEMICOLON:
        raise near(None, len(sql) + 1)
    word = _word(tokens[0])
    if word in ("ANALYZE", "VERBOSE") or tokens[0].token_type == TokenType.L_PAREN:
        raise not_supported(f"EXPLAIN {tokens[0].text.upper()}", base + token_position(tokens[0]))
    try:
        inner = parse(rest)
    except Error as error:
        if error.position is not None:
            error.position += base
        raise
    if inner.tree is None or inner.explain:
        raise not_supported(f"EXPLAIN {word}", base + token_position(tokens[0]))
    inner.sql = sql
    inner.explain = True
    inner.base += base
    return inner


def _with_position(error: ProgrammingError, parsed: Parsed) -> ProgrammingError:
    error.position = parsed.original_position(error.position)
    return error


def split_statements(text: str) -> list[str]:
    """Split a script into statements at top-level semicolons (strings, quoted identifiers,
    dollar quotes and comments respected); empty statements are dropped."""
    text, _inserted = _space_parameters(text)
    tokens = tokenize(text)
    statements = []
    start = None
    trigger = False
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON:
            if trigger and not (index >= 2 and _word(tokens[index - 1]) == "END" and
                                tokens[index - 2].token_type == TokenType.SEMICOLON):
                continue          # inside SQLite's CREATE TRIGGER ... BEGIN ...; ...; END
            if start is not None:
                statements.append(text[start:token.start].strip())
            start = None
            trigger = False
        elif start is None:
            start = _statement_start(text, token)
            trigger = _is_trigger_body(tokens, index)
    if start is not None:
        statements.append(text[start:].strip())
    return [statement for statement in statements if statement]


def _is_trigger_body(tokens: list, index: int) -> bool:
    """True at the start of ``CREATE [TEMP] TRIGGER ... BEGIN``: SQLite's trigger, whose body
    holds statements ended by semicolons, up to ``; END``."""
    if _word(tokens[index]) != "CREATE":
        return False
    words = [_word(token) for token in tokens[index + 1:index + 4]]
    while words and words[0] in ("TEMP", "TEMPORARY"):
        words.pop(0)
    if not words or words[0] != "TRIGGER":
        return False
    for token in tokens[index + 1:]:
        if token.token_type == TokenType.SEMICOLON:
            return False
        if _word(token) == "BEGIN":
            return True
    return False


def _statement_start(text: str, token) -> int:
    # Keep a comment that precedes the first token out of the statement text.
    return token.start


__all__ = ["Parsed", "parse", "split_statements", "tokenize"]
