"""Rejection of what PostgreSQL's grammar refuses but sqlglot would quietly accept.

sqlglot reads many dialects and repairs some input: MySQL's ``INSERT t VALUE (1)``, a
trailing comma in a select list, ``JOIN`` without ``ON``, ``LIMIT 1, 2``, ``IN ()``, ``==``.
Executing any of those as something else would be wrong, so ``check_tokens`` looks at the
token stream before parsing and raises the syntax error PostgreSQL gives (42601, at the
offending token; ``==`` is 42883 as PostgreSQL has no such operator).
"""

from __future__ import annotations

from sqlglot.tokens import TokenType

from aurora_lite.errors import ProgrammingError
from aurora_lite.frontend._errors import near, syntax_error

_CLAUSE_ENDS = {TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.ORDER_BY,
                TokenType.LIMIT, TokenType.OFFSET, TokenType.HAVING, TokenType.R_PAREN,
                TokenType.SEMICOLON, TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT}
_JOIN_ENDS = {TokenType.JOIN, TokenType.COMMA, TokenType.WHERE, TokenType.GROUP_BY,
              TokenType.ORDER_BY, TokenType.LIMIT, TokenType.OFFSET, TokenType.HAVING,
              TokenType.SEMICOLON, TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT,
              TokenType.LEFT, TokenType.RIGHT, TokenType.INNER, TokenType.CROSS,
              TokenType.FULL, TokenType.NATURAL, TokenType.OUTER}


def word(token) -> str:
    return token.text.upper()


def token_position(token) -> int:
    return token.start + 1


def token_text(token) -> str:
    return token.text


def check_tokens(tokens: list, kind: str) -> None:
    """Reject what PostgreSQL's grammar rejects but sqlglot would accept."""
    count = len(tokens)
    depth = 0
    for index, token in enumerate(tokens):
        kind_ = token.token_type
        following = tokens[index + 1] if index + 1 < count else None
        if kind_ == TokenType.L_PAREN:
            depth += 1
        elif kind_ == TokenType.R_PAREN:
            depth -= 1
        if kind_ == TokenType.EQ and token.text == "==":
            raise ProgrammingError("operator does not exist: ==", sqlstate="42883",
                                   position=token_position(token))
        if kind_ == TokenType.COMMA and (following is None or
                                          following.token_type in _CLAUSE_ENDS):
            raise near(None if following is None else token_text(following),
                       None if following is None else token_position(following))
        if kind_ == TokenType.IN and following is not None and \
                following.token_type == TokenType.L_PAREN and index + 2 < count and \
                tokens[index + 2].token_type == TokenType.R_PAREN:
            raise near(")", token_position(tokens[index + 2]))
        if kind_ == TokenType.JOIN:
            previous = tokens[index - 1].token_type if index else None
            if previous not in (TokenType.CROSS, TokenType.NATURAL):
                _check_join_condition(tokens, index)
        if kind_ == TokenType.LIMIT:
            _check_limit(tokens, index)
        if kind_ == TokenType.VAR and word(token) == "VALUE" and kind == "insert":
            raise near(token_text(token), token_position(token))
    second = tokens[1] if count > 1 else None
    if kind == "insert" and (second is None or second.token_type != TokenType.INTO):
        raise near(None if second is None else token_text(second),
                   None if second is None else token_position(second))
    if kind == "delete" and (second is None or second.token_type != TokenType.FROM):
        raise near(None if second is None else token_text(second),
                   None if second is None else token_position(second))


def _check_join_condition(tokens: list, index: int) -> None:
    depth = 0
    for token in tokens[index + 1:]:
        kind = token.token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            if depth == 0:
                raise near(token_text(token), token_position(token))
            depth -= 1
        elif depth == 0:
            if kind in (TokenType.ON, TokenType.USING):
                return
            if kind in _JOIN_ENDS:
                raise near(token_text(token), token_position(token))
    raise near(None, None)


def _check_limit(tokens: list, index: int) -> None:
    depth = 0
    for token in tokens[index + 1:]:
        kind = token.token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            if depth == 0:
                return
            depth -= 1
        elif depth == 0:
            if kind == TokenType.COMMA:
                raise syntax_error("LIMIT #,# syntax is not supported", token_position(token))
            if kind in _CLAUSE_ENDS:
                return
