"""The read commands' queries on the plain sqlite3 module: `search`, `list` and `show`.

These commands should answer at once, and SQLAlchemy and Alembic take longer to import
than the query takes to run. So they read the database file here, read-only, and
build the very same views as store.views (`link_view` is shared). Anything unusual —
not a SQLite file, no database yet, another schema revision — and `open_library`
returns None: the caller then takes the engine path, which creates, reports or
refuses exactly as before.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from readerd.results import LinkView
from readerd.store.search import QueryError, to_fts5
from readerd.text.times import iso_utc as iso

WORDS_PER_MINUTE = 230
SNIPPET_OPEN, SNIPPET_CLOSE = "[", "]"  # around each matched word in a search snippet
BUSY_TIMEOUT_S = 5.0

_LINK_TIMES = ("added_at", "updated_at", "created_at", "next_attempt_at", "processed_at")
_LINK_COLUMNS = (
    "id, source, source_id, url, title, state, deleted, stage, status, attempts, "
    "last_error, " + ", ".join(_LINK_TIMES)
)


def display_title(link: Any, article: Any | None) -> str | None:
    """The title readerd shows: the user's, from the source, over the one extracted from the page.

    A source title that is only the link's URL (exports of untitled links) is no title.
    """
    mine = (link.title or "").strip()
    if mine and mine != link.url:
        return str(mine)
    return (article.title if article else None) or link.title


def link_view(
    link: Any, article: Any | None, analysis: Any | None, tags: dict[str, list[str]], *, full: bool
) -> LinkView:
    """What `list`, `show`, `search` and the digest show of one link (rows or ORM objects)."""
    words = article.word_count if article else 0
    view: LinkView = {
        "id": link.id,
        "url": link.url,
        "title": display_title(link, article),
        "page_title": article.title if article else None,
        "site_name": article.site_name if article else None,
        "author": article.author if article else None,
        "published": article.published if article else None,
        "language": article.language if article else None,
        "word_count": words,
        "reading_minutes": max(1, round(words / WORDS_PER_MINUTE)) if words else 0,
        "tags": sorted(set(tags["ai"]) | set(tags["source"])),
        "source_tags": tags["source"],
        "ai_tags": tags["ai"],
        "summary": analysis.summary if analysis else None,
        "key_points": list(analysis.key_points) if analysis else [],
        "summary_language": analysis.language if analysis else None,
        "status": link.status,
        "stage": link.stage,
        "state": link.state,
        "deleted": link.deleted,
        "attempts": link.attempts,
        # Status.PENDING (a StrEnum, equal to its value)
        "next_attempt_at": iso(link.next_attempt_at) if link.status == "pending" else None,
        "last_error": link.last_error,
        "source": link.source,
        "added_at": iso(link.added_at or link.created_at),
        "processed_at": iso(link.processed_at),
    }
    if full:
        view["analysis"] = (
            {
                "analyzer": analysis.analyzer,
                "model": analysis.model,
                "prompt_version": analysis.prompt_version,
                "tokens_in": analysis.tokens_in,
                "tokens_out": analysis.tokens_out,
                "latency_ms": analysis.latency_ms,
                "coverage": analysis.coverage,
                "fallbacks": list(analysis.fallbacks),
                "analyzed_at": iso(analysis.created_at),
            }
            if analysis
            else None
        )
        view["text"] = article.text if article else None
    return view


def schema_head() -> str:
    """The newest migration's revision (migration files are named by their revision)."""
    names = [p.name for p in files("readerd.migrations").joinpath("versions").iterdir()]
    return max(n.split("_", 1)[0] for n in names if n[:4].isdigit() and n.endswith(".py"))


class Reader(Protocol):
    """What the read commands ask of the library, on sqlite3 (Library) or an engine."""

    def __enter__(self) -> Reader: ...
    def __exit__(self, *_: object) -> None: ...
    def is_empty(self) -> bool: ...
    def search(self, user_query: str, limit: int = 20) -> list[LinkView]: ...
    def list_links(
        self, *, status: str | None = None, tag: str | None = None, limit: int = 50
    ) -> list[LinkView]: ...
    def get_link(self, link_id: int) -> LinkView | None: ...
    def link_views(self, ids: list[int]) -> list[LinkView]: ...
    def match_ids(self, user_query: str, limit: int) -> list[int]: ...
    def snippets(self, user_query: str, ids: list[int]) -> dict[int, str]: ...


@dataclass
class Library:
    """A read-only connection to the library."""

    connection: sqlite3.Connection

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.connection.execute(sql, params).fetchall()

    def is_empty(self) -> bool:
        """True when no (not deleted) link is stored at all."""
        return not self._rows("SELECT 1 FROM link WHERE deleted = 0 LIMIT 1")

    def search(self, user_query: str, limit: int = 20) -> list[LinkView]:
        """As store.views.search: best match first, each row with its `snippet`."""
        match = to_fts5(user_query)
        if not match:
            return []
        try:
            found = self._rows(
                "SELECT rowid, snippet(link_search, -1, ?, ?, '…', 16) "
                "FROM link_search WHERE link_search MATCH ? "
                "ORDER BY bm25(link_search, 10.0, 5.0, 5.0, 1.0) LIMIT ?",
                (SNIPPET_OPEN, SNIPPET_CLOSE, match, limit),
            )
        except sqlite3.OperationalError as exc:
            raise QueryError(f"cannot read the query ({exc})") from None
        snippets = {row[0]: " ".join(str(row[1] or "").split()) for row in found}
        ids = [row[0] for row in found]
        links = {link.id: link for link in self._links(ids)}
        ordered = [links[i] for i in ids if i in links and not links[i].deleted]
        views = self._views(ordered)
        for view in views:
            view["snippet"] = snippets.get(view["id"], "")
        return views

    def match_ids(self, user_query: str, limit: int) -> list[int]:
        """The ids `search` would rank, best first, without building snippets or views.

        For a ranking to fuse with another: snippets cost a third of the query, and only
        the few links finally shown need one (`snippets`).
        """
        match = to_fts5(user_query)
        if not match:
            return []
        try:
            return [
                row[0]
                for row in self._rows(
                    "SELECT rowid FROM link_search WHERE link_search MATCH ? "
                    "ORDER BY bm25(link_search, 10.0, 5.0, 5.0, 1.0) LIMIT ?",
                    (match, limit),
                )
            ]
        except sqlite3.OperationalError as exc:
            raise QueryError(f"cannot read the query ({exc})") from None

    def snippets(self, user_query: str, ids: list[int]) -> dict[int, str]:
        """`search`'s snippet of each of these links that the query matches."""
        match = to_fts5(user_query)
        if not match or not ids:
            return {}
        marks = ",".join("?" * len(ids))
        try:
            found = self._rows(
                "SELECT rowid, snippet(link_search, -1, ?, ?, '…', 16) FROM link_search "
                f"WHERE link_search MATCH ? AND rowid IN ({marks})",
                (SNIPPET_OPEN, SNIPPET_CLOSE, match, *ids),
            )
        except sqlite3.OperationalError as exc:
            raise QueryError(f"cannot read the query ({exc})") from None
        return {row[0]: " ".join(str(row[1] or "").split()) for row in found}

    def list_links(
        self, *, status: str | None = None, tag: str | None = None, limit: int = 50
    ) -> list[LinkView]:
        """As store.views.list_links (without ids= or include_deleted=)."""
        where, params = [], []
        if status == "deleted":
            where.append("deleted = 1")
        else:
            where.append("deleted = 0")
            if status == "retry":
                where.append("status = 'pending' AND attempts > 0")
            elif status:
                where.append("status = ?")
                params.append(status)
        if tag:
            where.append(
                "id IN (SELECT lt.link_id FROM link_tag lt JOIN tag t ON t.id = lt.tag_id "
                "WHERE t.name = ?)"
            )
            params.append(tag)
        sql = f"SELECT {_LINK_COLUMNS} FROM link WHERE {' AND '.join(where)} ORDER BY id DESC"
        rows = self._rows(sql + " LIMIT ?", (*params, limit))
        return self._views([_link(row) for row in rows])

    def get_link(self, link_id: int) -> LinkView | None:
        """As store.views.get_link: everything known about one link."""
        links = self._links([link_id])
        return self._views(links, full=True)[0] if links else None

    def link_views(self, ids: list[int]) -> list[LinkView]:
        """As store.views.link_views: these links' views, in the order given."""
        links = {link.id: link for link in self._links(ids)}
        return self._views([links[i] for i in ids if i in links])

    def _links(self, ids: list[int]) -> list[SimpleNamespace]:
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {_LINK_COLUMNS} FROM link WHERE id IN ({marks})"
        return [_link(row) for row in self._rows(sql, tuple(ids))] if ids else []

    def _views(self, links: list[SimpleNamespace], *, full: bool = False) -> list[LinkView]:
        ids = tuple(link.id for link in links)
        marks = ",".join("?" * len(ids))
        tags: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"ai": [], "source": []})
        articles: dict[int, SimpleNamespace] = {}
        analyses: dict[int, SimpleNamespace] = {}
        if ids:
            for link_id, origin, name in self._rows(
                "SELECT lt.link_id, lt.origin, t.name FROM link_tag lt "
                f"JOIN tag t ON t.id = lt.tag_id WHERE lt.link_id IN ({marks}) ORDER BY t.name",
                ids,
            ):
                tags[link_id][origin].append(name)
            article_columns = "link_id, title, site_name, author, published, language, word_count"
            article_columns += ", text" if full else ""
            for row in self._rows(
                f"SELECT {article_columns} FROM article WHERE link_id IN ({marks})", ids
            ):
                articles[row["link_id"]] = SimpleNamespace(**dict(row))
            for row in self._rows(f"SELECT * FROM analysis WHERE link_id IN ({marks})", ids):
                analyses[row["link_id"]] = _analysis(row)
        empty: dict[str, list[str]] = {"ai": [], "source": []}
        return [
            link_view(
                link,
                articles.get(link.id),
                analyses.get(link.id),
                tags.get(link.id, empty),
                full=full,
            )
            for link in links
        ]


def open_library(db_url: str) -> Library | None:
    """The library at db_url, read-only, if it is a SQLite file at this schema; else None."""
    if not db_url.startswith("sqlite:///") or "?" in db_url:
        return None
    path = Path(db_url.removeprefix("sqlite:///"))
    if not path.name or str(path) == ":memory:" or not path.is_file():
        return None
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    # A read-only file or mount: read it as it is (no WAL index can be made there).
    uri = path.resolve().as_uri() + ("?mode=ro" if writable else "?mode=ro&immutable=1")
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return None
    connection.row_factory = sqlite3.Row
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        row = None
    if row is None or row[0] != schema_head():
        connection.close()
        return None
    return Library(connection)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _link(row: sqlite3.Row) -> SimpleNamespace:
    link = SimpleNamespace(**dict(row))
    link.deleted = bool(link.deleted)
    for name in _LINK_TIMES:
        setattr(link, name, _time(getattr(link, name)))
    return link


def _analysis(row: sqlite3.Row) -> SimpleNamespace:
    analysis = SimpleNamespace(**dict(row))
    analysis.key_points = json.loads(analysis.key_points or "[]")
    analysis.fallbacks = json.loads(analysis.fallbacks or "[]")
    analysis.created_at = _time(analysis.created_at)
    return analysis
