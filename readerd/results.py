"""Plain result types passed between the leaves by the pipeline.

Leaves (sources, fetch, extract, analyze, store) never import each other; they
share only these nouns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class LinkState(StrEnum):
    UNREAD = "unread"
    ARCHIVED = "archived"
    DELETED = "deleted"


@dataclass(frozen=True)
class SavedLink:
    """One link as a source reports it."""

    source: str  # "pocket", "folder", "import", ...
    source_id: str  # stable id within the source (Pocket item_id, file path, URL)
    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    state: LinkState = LinkState.UNREAD
    added_at: datetime | None = None
    updated_at: datetime | None = None
    # Article body the service already has (HTML), or a local file's bytes, so
    # readerd does not refetch it.
    content: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class SyncBatch:
    """What one sync returned: the changed links and the cursor to store after them."""

    links: list[SavedLink]
    cursor: str | None


@dataclass(frozen=True)
class FetchedPage:
    """Bytes of a page as fetched (or as provided by the source)."""

    url: str  # final URL after redirects
    status: int
    content_type: str  # media type only, lower-case, e.g. "text/html"
    body: bytes
    charset: str | None = None


@dataclass(frozen=True)
class Extracted:
    """Main text and metadata of one article."""

    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) when known
    site_name: str | None = None
    language: str | None = None  # ISO 639-1
    word_count: int = 0
    kind: str = "html"  # "html" | "pdf"


@dataclass(frozen=True)
class ArticleInput:
    """What an analyser is given."""

    url: str
    title: str | None
    text: str
    language: str | None
    vocabulary: tuple[str, ...] = ()  # existing tags worth reusing
    summary_language: str = "auto"  # "auto" or an ISO 639-1 code


@dataclass(frozen=True)
class Analysis:
    """Validated result of analysing one article, from any analyser."""

    tags: tuple[str, ...]
    summary: str
    key_points: tuple[str, ...]
    language: str  # language of the summary (ISO 639-1)
    analyzer: str  # "offline" | "openai"
    model: str
    prompt_version: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    coverage: float = 1.0  # fraction of the article text the analyser saw
    calls: list[LLMCall] = field(default_factory=list)


@dataclass(frozen=True)
class LLMCall:
    """One request to an LLM endpoint, for the call log."""

    model: str
    base_url_host: str
    prompt_version: str
    mode: str  # "tools_required", "tool_named", "tools_auto", "json", "text"
    tokens_in: int
    tokens_out: int
    latency_ms: int
    outcome: str  # "ok", "invalid", "missing", "error"
    error: str | None = None
