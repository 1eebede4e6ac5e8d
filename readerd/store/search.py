"""Search-box syntax to FTS5: AND, OR, NOT, -word, "a phrase", prefix*, (groups).

Plain words must all match and match as prefixes ("compost" finds "composting");
accents are folded by the index itself (unicode61 remove_diacritics). Anything the
user types is quoted, so no input can reach FTS5 as syntax of its own.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r'"([^"]*)"(\*?)|(\()|(\))|([^\s()"]+)')
_OPERATORS = ("AND", "OR", "NOT")
EXCLUDE_ONLY = "say what to find, not only what to leave out (e.g. `solar -coche`)"


class QueryError(ValueError):
    """A query the search box cannot read; the message is a one-line hint."""


def _term(text: str, *, prefix: bool) -> str | None:
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    if not words:
        return None
    return '"' + " ".join(words) + '"' + ("*" if prefix else "")


def to_fts5(query: str) -> str:
    """The FTS5 MATCH expression of a search-box query ('' when it holds no word)."""
    if query.count('"') % 2:
        raise QueryError('a "phrase" is not closed: add the second "')
    tokens: list[str] = []  # terms, operators and parentheses, in order
    excluded: list[str] = []
    for match in _TOKEN.finditer(query):
        phrase, star, opening, closing, word = match.groups()
        if phrase is not None:
            term = _term(phrase, prefix=bool(star))
            tokens += [term] if term else []
        elif opening or closing:
            tokens.append(opening or closing)
        elif word in _OPERATORS:
            tokens.append(word)
        elif word.startswith("-") and len(word) > 1:
            term = _term(word[1:], prefix=True)
            excluded += [term] if term else []
        else:
            term = _term(word, prefix=True)  # every plain word matches as a prefix
            tokens += [term] if term else []
    tokens = _unary_not(tokens, excluded)
    _check(tokens)
    if not tokens:
        if excluded:
            raise QueryError(EXCLUDE_ONLY)
        return ""
    expression = " ".join(tokens)
    if excluded:
        expression = f"({expression}) " + " ".join(f"NOT {term}" for term in excluded)
    return expression


def _unary_not(tokens: list[str], excluded: list[str]) -> list[str]:
    """`NOT word` with nothing before it means -word: FTS5's NOT needs a left side."""
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        starts = not kept or kept[-1] in (*_OPERATORS, "(")
        if token == "NOT" and starts and i + 1 < len(tokens) and _is_term(tokens[i + 1]):
            excluded.append(tokens[i + 1])
            if kept and kept[-1] in ("AND", "OR"):
                kept.pop()
            i += 2
            continue
        kept.append(token)
        i += 1
    return kept


def _is_term(token: str) -> bool:
    return token.startswith('"')


def _check(tokens: list[str]) -> None:
    depth = 0
    previous = None
    for token in tokens:
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise QueryError("a ) has no ( before it")
        if token in _OPERATORS and (previous is None or previous in (*_OPERATORS, "(")):
            raise QueryError(f"{token} needs a word on each side (e.g. `solar {token} casa`)")
        previous = token
    if depth:
        raise QueryError("a ( is not closed: add the )")
    if previous in _OPERATORS:
        raise QueryError(f"{previous} needs a word on each side (e.g. `solar {previous} casa`)")


_FTS5_TOKEN = re.compile(r'"([^"]*)"(\*?)|(\()|(\))|(AND|OR|NOT)')


def to_tsquery(query: str) -> str:
    """The PostgreSQL tsquery of a search-box query ('' when it holds no word).

    The same reading as to_fts5 (that expression is translated, so both backends take
    a query alike): plain words as prefixes (`word:*`), a phrase as `a <-> b`, NOT as
    `& !`, adjacent terms joined by `&`. websearch_to_tsquery cannot say "prefix".
    """
    out: list[str] = []

    def operand_ended() -> bool:
        return bool(out) and (out[-1] == ")" or out[-1].endswith(("'", ":*", ")")))

    for match in _FTS5_TOKEN.finditer(to_fts5(query)):
        phrase, star, opening, closing, operator = match.groups()
        if phrase is not None:
            words = [f"'{w}'" for w in phrase.split()]
            if star:
                words[-1] += ":*"
            term = " <-> ".join(words)
            out += (["&"] if operand_ended() else []) + [f"({term})" if len(words) > 1 else term]
        elif opening:
            out += (["&"] if operand_ended() else []) + ["("]
        elif closing:
            out.append(")")
        else:
            out.append({"AND": "&", "OR": "|", "NOT": "& !"}[operator])
    return " ".join(out)
