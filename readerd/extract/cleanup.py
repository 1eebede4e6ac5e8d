"""Tidying shared by the HTML and PDF extractors."""

from __future__ import annotations

from readerd.text.language import count_words


def trim_head(text: str, title: str | None, author: str | None) -> str:
    """Drop leading paragraphs that only repeat the title (<h1>) or are a short byline."""
    for _ in range(2):
        first, _, rest = text.partition("\n\n")
        flat = " ".join(first.split()).casefold()
        is_title = bool(title) and flat == " ".join((title or "").split()).casefold()
        is_byline = bool(author) and (author or "").casefold() in flat and count_words(first) < 20
        if not rest or not (is_title or is_byline):
            break
        text = rest
    return text


def clean(value: str | None) -> str | None:
    """Stripped value, or None when empty."""
    value = (value or "").strip()
    return value or None
