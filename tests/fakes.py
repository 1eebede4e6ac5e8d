"""In-process fakes behind readerd's own seams, for tests where no server is the subject.

`Processor(analyzer=FakeAnalyzer(...))` and `sync_links(source=FakeSource(...))` take them
as they take the real ones: the pipeline, the store and the SQLite file stay real. A test
that is about a server's behaviour (llama.cpp, a read-later API) uses the real or local
server instead (tests/servers/).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from readerd.results import Analysis, ArticleInput, SavedLink, SyncBatch

Reply = Analysis | BaseException


def analysis_for(article: ArticleInput, tags: tuple[str, ...] = ("fake-tag",)) -> Analysis:
    """A valid analysis of `article`, as an analyser named "fake" would return it."""
    return Analysis(
        tags=tags,
        summary=f"Summary of {article.title or article.url}.",
        key_points=("One point.",),
        language=article.language or "en",
        analyzer="fake",
        model="fake-model",
        prompt_version="fake-1",
    )


@dataclass
class FakeAnalyzer:
    """Answers each analysis with the next queued reply: an Analysis, or an error to raise.

    With the queue empty it analyses successfully. `seen` records every article asked.
    """

    replies: deque[Reply] = field(default_factory=deque)
    model_problem: str | None = None  # what check_model() reports
    name: str = "fake"
    model: str = "fake-model"
    prompt_version: str = "fake-1"
    seen: list[ArticleInput] = field(default_factory=list)

    def queue(self, *replies: Reply) -> FakeAnalyzer:
        self.replies.extend(replies)
        return self

    async def analyze(self, article: ArticleInput) -> Analysis:
        self.seen.append(article)
        reply = self.replies.popleft() if self.replies else analysis_for(article)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def check_model(self) -> str | None:
        return self.model_problem


@dataclass
class FakeSource:
    """A source whose changes are given: each sync returns the next batch (then nothing)."""

    batches: deque[list[SavedLink]] = field(default_factory=deque)
    name: str = "fake"
    cursors_seen: list[str | None] = field(default_factory=list)

    def with_batch(self, links: list[SavedLink]) -> FakeSource:
        self.batches.append(links)
        return self

    async def changes(self, since: str | None) -> SyncBatch:
        self.cursors_seen.append(since)
        links = self.batches.popleft() if self.batches else []
        return SyncBatch(links, f"cursor-{len(self.cursors_seen)}")

    async def check(self) -> str:
        return "fake: reachable"
