"""Which language a summary must be written in, and which one a model wrote it in.

Kept apart from prompts.py so that building messages stays pure: these functions
run the language detector over the article or the reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from readerd.analyze.openai.prompts import target_language
from readerd.results import ArticleInput
from readerd.text.language import detect_language

MIN_LANGUAGE_LETTERS = 60  # shorter summaries are too short to tell their language


def wanted_language(article: ArticleInput) -> str | None:
    """The summary's language: as configured, else the article's (detected when unknown)."""
    return target_language(article) or detect_language(article.text[:20000])


def written_language(summary: str, key_points: Iterable[str]) -> str | None:
    """The language a summary is written in, None when unsure or too short to tell."""
    return _language_of(" ".join([summary, *key_points]))


@lru_cache(maxsize=64)  # a reply's summary is checked, then labelled: detect it once
def _language_of(text: str) -> str | None:
    if sum(ch.isalpha() for ch in text) < MIN_LANGUAGE_LETTERS:
        return None
    return detect_language(text)
