"""The only package that writes SQL: links as a work queue, articles, analyses, tags, cursors.

sync      links from sources and the cursor, committed in one transaction
queue     due links, articles, analyses, failures, retries
tagging   tags by origin, matched to the existing vocabulary
common    row lookup and the full-text index
"""

from readerd.store.queue import (
    ArticleForAnalysis,
    DueLink,
    analysis_is_current,
    article_for_analysis,
    defer,
    due_links,
    hash_text,
    log_llm_calls,
    mark_done,
    record_failure,
    requeue_for_analysis,
    save_analysis,
    save_article,
)
from readerd.store.sync import (
    UpsertReport,
    commit_sync,
    get_cursor,
    import_links,
    record_sync_failure,
)
from readerd.store.tagging import merge_tags, vocabulary

__all__ = [
    "ArticleForAnalysis",
    "DueLink",
    "UpsertReport",
    "analysis_is_current",
    "article_for_analysis",
    "commit_sync",
    "defer",
    "due_links",
    "get_cursor",
    "hash_text",
    "import_links",
    "log_llm_calls",
    "mark_done",
    "merge_tags",
    "record_failure",
    "record_sync_failure",
    "requeue_for_analysis",
    "save_analysis",
    "save_article",
    "vocabulary",
]
