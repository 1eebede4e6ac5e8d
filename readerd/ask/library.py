"""What a conversation may read of the library: search hits and articles (through store/)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from readerd.ask.fusion import fuse
from readerd.ask.passages import query_words
from readerd.config import Settings
from readerd.results import LinkView
from readerd.store import passages, views

OVERFETCH = 5  # with a tag or date filter, search this many times more and keep the matching


@dataclass(frozen=True)
class Hit:
    """One search result as the tools show it."""

    id: int
    title: str
    url: str
    site: str
    date: str | None
    tags: tuple[str, ...]
    snippet: str

    def for_model(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "date": self.date,
                "tags": list(self.tags), "snippet": self.snippet}  # fmt: skip


def _hit(view: LinkView) -> Hit:
    return Hit(
        id=view["id"],
        title=view["title"] or view["url"],
        url=view["url"],
        site=view["site_name"] or "",
        date=(view["added_at"] or "")[:10] or None,
        tags=tuple(view["tags"]),
        snippet=" ".join((view.get("snippet") or view["summary"] or "").split())[:400],
    )


@dataclass
class Library:
    """The articles `ask` may search and read: not deleted, optionally one tag and a date on.

    A search fuses (RRF) up to three rankings: articles by full text, articles by their
    best passage (the passage index), and, with embeddings configured, by meaning.
    """

    engine: Engine
    tag: str | None = None
    since: str | None = None  # YYYY-MM-DD
    settings: Settings | None = None  # with embeddings configured, meaning ranks too

    def refresh(self) -> None:
        """Bring the passage index up to the articles' text (cheap when it is)."""
        passages.refresh_passages(self.engine)

    def search(
        self, query: str, *, limit: int, tag: str | None = None, since: str | None = None
    ) -> list[Hit]:
        """Articles sharing the query's words (in their text or one passage) or its meaning."""
        words = " OR ".join(sorted(query_words(query)))
        tag, since = (tag or self.tag), max(filter(None, (since, self.since)), default=None)
        wanted = (limit * OVERFETCH if (tag or since) else limit) * 2
        by_text = views.search(self.engine, words, limit=wanted) if words else []
        by_passage = passages.search_passages(self.engine, words, wanted) if words else []
        rankings = [[v["id"] for v in by_text], [p.link_id for p in by_passage]]
        if self.settings is not None and self.settings.use_embeddings:
            from readerd.ask.embeddings import EmbeddingConfig
            from readerd.ask.semantic import nearest_ids

            config = EmbeddingConfig.of(self.settings)
            rankings.append(nearest_ids(config, query, wanted))
        snippets = {v["id"]: v.get("snippet", "") for v in by_text}
        snippets |= {p.link_id: p.text for p in by_passage}
        found = views.link_views(self.engine, fuse(rankings))
        found = [v for v in found if not v["deleted"]]
        if tag:
            found = [v for v in found if tag.casefold() in (t.casefold() for t in v["tags"])]
        if since:
            found = [v for v in found if (v["added_at"] or "")[:10] >= since]
        for view in found:
            view["snippet"] = snippets.get(view["id"]) or ""
        return [_hit(view) for view in found[:limit]]

    def article(self, link_id: int) -> LinkView | None:
        """One article with its text; None when there is none (or it was deleted)."""
        view = views.get_link(self.engine, link_id)
        return view if view and not view["deleted"] and view.get("text") else None

    def passages(self, link_id: int, query: str, count: int) -> list[str]:
        """The article's passages that match the query best (index), in their order."""
        words = " OR ".join(sorted(query_words(query)))
        return [p.text for p in passages.article_passages(self.engine, link_id, words, count)]
