"""`readerd ask` without a model: the passages that match the question best, with sources."""

from __future__ import annotations

from dataclasses import dataclass

from readerd.ask.library import Hit, Library
from readerd.ask.passages import best_passages

PASSAGES = 3


@dataclass(frozen=True)
class Found:
    """One matching article and its passage that shares most of the question's words."""

    hit: Hit
    passage: str


def matching_passages(library: Library, question: str, limit: int) -> list[Found]:
    """The best passage of each of the best `limit` articles (at most PASSAGES)."""
    library.refresh()
    found = []
    for hit in library.search(question, limit=min(limit, PASSAGES)):
        indexed = library.passages(hit.id, question, 1)
        if indexed:
            found.append(Found(hit, indexed[0]))
            continue
        article = library.article(hit.id)
        text = (article.get("text") if article else None) or ""
        passages = best_passages(text, question, count=1)
        found.append(Found(hit, passages[0].text if passages else hit.snippet))
    return found
