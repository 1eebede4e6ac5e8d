"""Shared pieces of the store: limits, row lookup, the search index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, text
from sqlmodel import Session, col, select

from readerd import models
from readerd.errors import LeaseLostError
from readerd.models import Link, LinkTag, Tag

MAX_ERROR_CHARS = 500


MAX_BACKOFF = timedelta(hours=24)


def link_row(session: Session, link_id: int) -> Link:
    link = session.get(Link, link_id)
    if link is None:
        raise LookupError(f"store: no link with id {link_id}")
    return link


def hold(session: Session, link_id: int, owner: str | None) -> Link:
    """The link, once sure `owner` still holds its lease (LeaseLostError if not).

    No owner: a caller outside the claiming pipeline (a test, a one-off command),
    unfenced. The row is locked first (PostgreSQL; SQLite's write transaction already
    is), so the lease cannot change hands between this check and the write.
    """
    if owner is not None:
        session.exec(select(Link.id).where(Link.id == link_id).with_for_update()).all()
    link = link_row(session, link_id)
    if owner is not None:
        session.refresh(link)
        if link.lease_owner != owner:
            raise LeaseLostError(
                f"link {link_id}: its lease passed to another worker; this worker's result "
                "is dropped"
            )
    return link


def indexed_title(link_title: str | None, page_title: str | None) -> str:
    """What the index holds as a link's title: the user's (from the source) and the page's."""
    return " ".join(dict.fromkeys(t for t in (link_title, page_title) if t))


#: The characters of an article's text indexed on PostgreSQL (a tsvector is at most 1 MB).
POSTGRES_INDEXED_TEXT = 500_000
_POSTGRES_REINDEX = (
    "INSERT INTO link_search (link_id, document) VALUES (:id, "
    "setweight(to_tsvector('readerd', :title), 'A') || "
    "setweight(to_tsvector('readerd', :summary), 'B') || "
    "setweight(to_tsvector('readerd', :tags), 'C') || "
    "setweight(to_tsvector('readerd', :text), 'D')) "
    "ON CONFLICT (link_id) DO UPDATE SET document = excluded.document"
)


_POSTGRES_REBUILD = (
    "INSERT INTO link_search (link_id, document) SELECT l.id, "
    "setweight(to_tsvector('readerd', "
    "concat_ws(' ', l.title, nullif(a.title, l.title))), 'A') || "
    "setweight(to_tsvector('readerd', coalesce(n.summary, '')), 'B') || "
    "setweight(to_tsvector('readerd', coalesce((SELECT "
    "string_agg(DISTINCT t.name, ' ' ORDER BY t.name) "
    "FROM link_tag lt JOIN tag t ON t.id = lt.tag_id WHERE lt.link_id = l.id), '')), 'C') || "
    "setweight(to_tsvector('readerd', left(coalesce(a.text, ''), :cap)), 'D') "
    "FROM link l LEFT JOIN article a ON a.link_id = l.id LEFT JOIN analysis n ON n.link_id = l.id "
    "ON CONFLICT (link_id) DO UPDATE SET document = excluded.document"
)


def rebuild_postgres_search(connection: Connection) -> None:
    """Every link's row of PostgreSQL's full-text index, from the stored rows at once."""
    connection.execute(text(_POSTGRES_REBUILD), {"cap": POSTGRES_INDEXED_TEXT})


def reindex(session: Session, link_id: int) -> None:
    """Rewrite the link's row in the full-text index (FTS5, or PostgreSQL's tsvector)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return
    link = link_row(session, link_id)
    article = session.get(models.Article, link_id)
    analysis = session.get(models.Analysis, link_id)
    tags = session.exec(
        select(Tag.name)
        .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
        .where(LinkTag.link_id == link_id)
    ).all()
    page_title = article.title if article else None
    body = article.text if article else ""
    if dialect == "postgresql":
        body = body[:POSTGRES_INDEXED_TEXT]
    params: dict[str, object] = {
        "id": link_id,
        "title": indexed_title(link.title, page_title),
        "summary": analysis.summary if analysis else "",
        "tags": " ".join(sorted(set(tags))),
        "text": body,
    }
    if dialect == "postgresql":
        session.execute(text(_POSTGRES_REINDEX), params)
        return
    session.execute(text("DELETE FROM link_search WHERE rowid = :id"), {"id": link_id})
    session.execute(
        text(
            "INSERT INTO link_search (rowid, title, summary, tags, text) "
            "VALUES (:id, :title, :summary, :tags, :text)"
        ),
        params,
    )
