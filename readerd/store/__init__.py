"""The only package that touches SQL: links as a work queue, articles, analyses, tags, cursors.

database  the engine, schema migrations (Alembic), the health ping and write check
sync      links from sources and the cursor, committed in one transaction
queue     due links, articles, analyses, failures, retries; save_batch: many in one transaction
batch     save_batch's SQLite path (plain SQL, the tag vocabulary read once per batch)
tagging   tags by origin, matched to the existing vocabulary
common    row lookup, shared limits and the full-text index
search    the search box's syntax, as an FTS5 query or a PostgreSQL tsquery
views     read-only queries: what the CLI and the digest show
usage     the LLM call log: per request, day and article, cost and budget
outbox    the digest's outbox, written before anything is sent
status    what `readerd status` shows of the database
backup    online backup and restore of the database file
lock      the data directory's single-instance lock (held by whoever writes: the daemon)
leases    claims with leases on the queue, their renewal, and the fence every save passes
singleton one daemon at a time runs sync and the digest on a shared (PostgreSQL) database
copy      `db copy`: a SQLite library into an empty PostgreSQL database, counts checked

lite      the read commands' queries on the plain sqlite3 module (no SQLAlchemy to load)

Importing `readerd.store` is cheap: the names below load their module on first use
(PEP 562), so `readerd.store.lite` starts a command without SQLAlchemy.

tests/test_architecture.py fails if a module outside store/ opens a Session, writes SQL
text or runs Alembic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from readerd.store.importing import import_links
    from readerd.store.queue import (
        AnalysisWrite,
        ArticleForAnalysis,
        ArticleWrite,
        DueLink,
        Written,
        analysis_is_current,
        article_for_analysis,
        defer,
        due_links,
        hash_text,
        log_llm_calls,
        make_due_now,
        mark_done,
        record_failure,
        requeue_for_analysis,
        save_analysis,
        save_article,
        save_batch,
    )
    from readerd.store.sync import (
        UpsertReport,
        commit_sync,
        get_cursor,
        has_links_beyond,
        record_sync_failure,
    )
    from readerd.store.tagging import merge_tags, vocabulary

_HOMES = {
    "readerd.store.queue": (
        "AnalysisWrite",
        "ArticleForAnalysis",
        "ArticleWrite",
        "DueLink",
        "analysis_is_current",
        "article_for_analysis",
        "defer",
        "due_links",
        "hash_text",
        "log_llm_calls",
        "make_due_now",
        "mark_done",
        "record_failure",
        "requeue_for_analysis",
        "save_analysis",
        "save_article",
        "save_batch",
        "Written",
    ),
    "readerd.store.sync": (
        "UpsertReport",
        "commit_sync",
        "get_cursor",
        "has_links_beyond",
        "record_sync_failure",
    ),
    "readerd.store.importing": ("import_links",),
    "readerd.store.tagging": ("merge_tags", "vocabulary"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "AnalysisWrite",
    "ArticleForAnalysis",
    "ArticleWrite",
    "DueLink",
    "UpsertReport",
    "Written",
    "analysis_is_current",
    "article_for_analysis",
    "commit_sync",
    "defer",
    "due_links",
    "get_cursor",
    "has_links_beyond",
    "hash_text",
    "import_links",
    "log_llm_calls",
    "make_due_now",
    "mark_done",
    "merge_tags",
    "record_failure",
    "record_sync_failure",
    "requeue_for_analysis",
    "save_analysis",
    "save_article",
    "save_batch",
    "vocabulary",
]
assert set(__all__) == set(_HOME), "list each facade name in _HOMES and __all__"


def __getattr__(name: str) -> Any:
    """Load a facade name's module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module 'readerd.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
