"""Shared pieces of the store: limits, row lookup, the search index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from readerd import models
from readerd.models import Link, LinkTag, Tag

MAX_ERROR_CHARS = 500


MAX_BACKOFF = timedelta(hours=24)


def link_row(session: Session, link_id: int) -> Link:
    link = session.get(Link, link_id)
    if link is None:
        raise LookupError(f"store: no link with id {link_id}")
    return link


def reindex(session: Session, link_id: int) -> None:
    """Rewrite the link's row in the FTS5 index (SQLite only)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    link = link_row(session, link_id)
    article = session.get(models.Article, link_id)
    analysis = session.get(models.Analysis, link_id)
    tags = session.exec(
        select(Tag.name)
        .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
        .where(LinkTag.link_id == link_id)
    ).all()
    params = {
        "id": link_id,
        "title": (article.title if article else None) or link.title or "",
        "summary": analysis.summary if analysis else "",
        "tags": " ".join(sorted(set(tags))),
        "text": article.text if article else "",
    }
    session.execute(text("DELETE FROM link_search WHERE rowid = :id"), {"id": link_id})
    session.execute(
        text(
            "INSERT INTO link_search (rowid, title, summary, tags, text) "
            "VALUES (:id, :title, :summary, :tags, :text)"
        ),
        params,
    )
