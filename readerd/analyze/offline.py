"""The embedded default analyser: extractive summary and key-phrase tags, no network.

Deterministic and fast. The article is cut into sentences (analyze.sentences), its
key phrases are found and scored (analyze.keyphrases), the summary and key points
are its best whole sentences (analyze.summary), and the tags are the best key
phrases, existing vocabulary first. What the OpenAI analyser shares with it lives in
analyze.extractive; the two analysers never import each other.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from readerd.analyze.extractive import article_language, read
from readerd.analyze.keyphrases import choose_tags
from readerd.analyze.summary import summarize
from readerd.analyze.tools import MAX_SUMMARY_CHARS, MAX_TAGS, normalize_tags
from readerd.results import Analysis, ArticleInput

OFFLINE_MODEL = "offline-v2"
OFFLINE_PROMPT_VERSION = "offline-2"
MAX_KEY_POINT_CHARS = 200

__all__ = ["OfflineAnalyzer", "analyze_offline"]


def analyze_offline(article: ArticleInput) -> Analysis:
    """Extractive summary, key points and key-phrase tags of one article."""
    language = article_language(article)
    sentences, phrases = read(article.text, language, article.title)
    summary, points = summarize(
        sentences, phrases, max_chars=MAX_SUMMARY_CHARS, point_chars=MAX_KEY_POINT_CHARS
    )
    tags = normalize_tags(choose_tags(phrases, language, article.vocabulary), MAX_TAGS)
    return Analysis(
        tags=tuple(tags),
        summary=summary or (article.title or article.url)[:MAX_SUMMARY_CHARS],
        key_points=points,
        language=language,
        analyzer="offline",
        model=OFFLINE_MODEL,
        prompt_version=OFFLINE_PROMPT_VERSION,
        coverage=1.0,
    )


class OfflineWorkers(Protocol):
    """Worker processes that run analyze_offline (readerd.workers.pool.WorkerPool)."""

    async def analyze_offline(self, article: ArticleInput) -> Analysis: ...


class OfflineAnalyzer:
    """The embedded analyser: no network, same Analysis as the LLM one.

    Given worker processes, it runs there, under their time limit and memory cap and
    off the pipeline's GIL (the pipeline passes its own); otherwise in a thread.
    """

    name = "offline"
    model = OFFLINE_MODEL
    prompt_version = OFFLINE_PROMPT_VERSION

    def __init__(self, workers: OfflineWorkers | None = None) -> None:
        self.workers = workers

    async def analyze(self, article: ArticleInput) -> Analysis:
        """Analyse one article offline."""
        if self.workers is not None:
            return await self.workers.analyze_offline(article)
        return await asyncio.to_thread(analyze_offline, article)

    async def check_model(self) -> str | None:
        """The embedded analyser is always there."""
        return None
