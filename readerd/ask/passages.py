"""Which passages of an article answer a query best (the windows come from text/passages)."""

from __future__ import annotations

import re

from readerd.analyze.wordlists import function_words
from readerd.text.passages import Passage, split_passages
from readerd.text.tags import fold

_WORD = re.compile(r"\w{3,}")
PREFIX = 5  # "baterías" finds "batería": words match on their first five letters


def query_words(query: str) -> set[str]:
    """The words of a query worth matching: folded, prefixes, no function words."""
    common = function_words()
    return {
        fold(word)[:PREFIX]
        for word in _WORD.findall(query.casefold())
        if word not in common and fold(word) not in common
    }


def best_passages(text: str, query: str, count: int = 3) -> list[Passage]:
    """The count passages sharing most of the query's words, in the article's order.

    With no query (or no shared word) the opening passages, which say what it is about.
    """
    passages = split_passages(text)
    wanted = query_words(query)
    if not wanted:
        return passages[:count]
    scored = []
    for index, passage in enumerate(passages):
        found = {fold(w)[:PREFIX] for w in _WORD.findall(passage.text.casefold())}
        scored.append((len(wanted & found), -index, passage))
    best = sorted(scored, key=lambda item: (item[0], item[1]), reverse=True)[:count]
    if not best or best[0][0] == 0:
        return passages[:count]
    return sorted((p for score, _, p in best if score), key=lambda p: p.start)
