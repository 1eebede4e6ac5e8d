"""Plain result types passed between the leaves by the pipeline.

Leaves (sources, fetch, extract, analyze, store) never import each other; they
share only these nouns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

#: What `list --status` accepts: the stored statuses and the words the table shows.
LIST_STATUSES = ("pending", "retry", "done", "failed", "unsupported", "deleted")


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
    # Why readerd will never read it (e.g. "unsupported scheme: file"): it is stored as a
    # failed item, so the user sees what was refused instead of losing it silently.
    problem: str | None = None


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
    #: tools whose part the offline analyser filled in because the model gave no valid call
    fallbacks: tuple[str, ...] = ()


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
    tokens_cached: int = 0  # prompt tokens the server reused from its cache, where it says


class AnalysisInfo(TypedDict):
    """How a link's current analysis was made (in `show`)."""

    analyzer: str
    model: str
    prompt_version: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    coverage: float
    fallbacks: list[str]  # tools the offline analyser stood in for (e.g. "tag_article")
    analyzed_at: str | None


class LinkView(TypedDict):
    """One link as `list`, `show`, `search` (and their --json) and the digest show it.

    A TypedDict, not a dataclass: the JSON documents are these dicts as they are, and
    the type checker still knows every key.
    """

    id: int
    url: str
    title: str | None  # the user's title from the source, else the page's
    page_title: str | None  # the title extracted from the page
    site_name: str | None
    author: str | None
    published: str | None
    language: str | None
    word_count: int
    reading_minutes: int
    tags: list[str]
    source_tags: list[str]
    ai_tags: list[str]
    summary: str | None
    key_points: list[str]
    summary_language: str | None
    status: str
    stage: str
    state: str
    deleted: bool
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    source: str
    added_at: str | None
    processed_at: str | None
    analysis: NotRequired[AnalysisInfo | None]  # show only
    text: NotRequired[str | None]  # show only
    snippet: NotRequired[str]  # search only: the best passage, matches in [brackets]


class TagCount(TypedDict):
    """One tag of `readerd tags`: links carrying it, by either origin and by each."""

    tag: str
    count: int
    ai: int
    source: int


class UsageTotals(TypedDict):
    """Requests and tokens of some LLM calls, and their cost (None when no price is set)."""

    requests: int
    tokens_in: int
    tokens_out: int
    cost: float | None


class DayUsage(UsageTotals):
    """`readerd llm-log --by day`: one local day."""

    date: str


class LinkUsage(UsageTotals):
    """`readerd llm-log --by article`: one article, and when it was last analysed."""

    link_id: int
    last: str


class TodayUsage(UsageTotals):
    """Today's totals and the daily token budget with what is left of it."""

    date: str
    budget: int | None
    budget_left: int | None


class CallRow(TypedDict):
    """One logged LLM request, as `readerd llm-log` shows it."""

    id: int | None
    time: str
    link_id: int | None
    model: str
    host: str
    prompt_version: str
    mode: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    latency_ms: int
    outcome: str
    error: str | None
    cost: float | None


class DigestRow(TypedDict):
    """One digest of `readerd digest --list`: a (date, recipient) row of the outbox."""

    date: str
    recipient: str
    status: str
    items: int
    more: int
    subject: str
    message_id: str
    attempts: int
    last_error: str | None
    created_at: str | None
    sent_at: str | None
    next_attempt_at: str | None


class SourceCursor(TypedDict):
    """`readerd stats`: where a source's incremental sync stands."""

    source: str
    cursor: str | None
    last_sync_at: str | None
    last_result: str | None


class LibraryStats(TypedDict):
    """`readerd stats`: the library's counts, words, tokens and source cursors."""

    links: int
    by_status: dict[str, int]
    by_stage: dict[str, int]
    deleted: int
    languages: dict[str, int]
    words: int
    tokens_in: int
    tokens_out: int
    sources: list[SourceCursor]


class ItemCounts(TypedDict):
    """`readerd status`: links per status, and per status within each stage."""

    total: int
    by_status: dict[str, int]
    by_stage: dict[str, dict[str, int]]


class SourceSync(TypedDict):
    """`readerd status`: a source's last sync and whether it went well."""

    source: str
    last_sync_at: str | None
    ok: bool
    last_result: str | None


class RecentError(TypedDict):
    """`readerd status`: one of the last links that failed or waits for a retry."""

    id: int | None
    url: str
    status: str
    stage: str
    attempts: int
    last_error: str
    next_attempt_at: str | None


class TokensToday(TypedDict):
    """`readerd status`: LLM calls and tokens since midnight UTC."""

    since: str | None
    calls: int
    tokens_in: int
    tokens_out: int


class DatabaseSummary(TypedDict):
    """What `readerd status` shows of the database."""

    items: ItemCounts
    sources: list[SourceSync]
    last_errors: list[RecentError]
    llm_today: TokensToday


class TagRow(TagCount):
    """`readerd tags`: a tag's counts and the tags that look like other spellings of it."""

    similar: list[str]


class DaemonSummary(TypedDict):
    """`readerd status`: whether a daemon holds the lock, and what its state file says."""

    running: bool
    pid: int | None
    lock: str
    state: str
    status: str | None
    started_at: str | None
    stopped_at: str | None
    jobs: dict[str, dict[str, Any]]  # per job: last_finished, last_result, next_run


class DatabaseState(TypedDict):
    """`readerd status`: which database, and why it cannot be read (None when it can)."""

    url: str
    error: str | None


class StatusReport(TypedDict):
    """Everything `readerd status` shows; the database's counts only when it could be read."""

    daemon: DaemonSummary
    database: DatabaseState
    items: NotRequired[ItemCounts]
    sources: NotRequired[list[SourceSync]]
    last_errors: NotRequired[list[RecentError]]
    llm_today: NotRequired[TokensToday]
    writeback: NotRequired[list[dict[str, object]]]  # per source, as store.writeback.status
