"""Links from sources: upserts and the sync cursor, committed together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from readerd import models
from readerd.models import Link, Stage, Status, TagOrigin, utcnow
from readerd.results import LinkState, SavedLink
from readerd.store.common import MAX_ERROR_CHARS
from readerd.store.tagging import set_tags


@dataclass(frozen=True)
class UpsertReport:
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


def commit_sync(
    engine: Engine, source: str, batch_links: list[SavedLink], cursor: str | None, result: str
) -> UpsertReport:
    """Store the links of one sync and, in the same transaction, advance the cursor."""
    with Session(engine) as session:
        report = _upsert_links(session, batch_links)
        state = session.get(models.SourceState, source) or models.SourceState(source=source)
        if cursor is not None:
            state.cursor = cursor
        state.last_sync_at = utcnow()
        state.last_result = result
        session.add(state)
        session.commit()
    return report


def record_sync_failure(engine: Engine, source: str, message: str) -> None:
    """Note a failed sync without moving the cursor."""
    with Session(engine) as session:
        state = session.get(models.SourceState, source) or models.SourceState(source=source)
        state.last_sync_at = utcnow()
        state.last_result = f"error: {message}"[:MAX_ERROR_CHARS]
        session.add(state)
        session.commit()


def get_cursor(engine: Engine, source: str) -> str | None:
    with Session(engine) as session:
        state = session.get(models.SourceState, source)
        return state.cursor if state else None


def import_links(engine: Engine, links: list[SavedLink]) -> UpsertReport:
    """Store links from an export file (no cursor involved)."""
    with Session(engine) as session:
        report = _upsert_links(session, links)
        session.commit()
    return report


def _upsert_links(session: Session, links: list[SavedLink]) -> UpsertReport:
    counts = {"new": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    for saved in links:
        existing = session.exec(
            select(Link).where(Link.source == saved.source, Link.source_id == saved.source_id)
        ).first()
        if saved.state == LinkState.DELETED:
            if existing and not existing.deleted:
                existing.deleted, existing.state = True, LinkState.DELETED
                session.add(existing)
                counts["deleted"] += 1
            continue
        if existing is None:
            link = Link(source=saved.source, source_id=saved.source_id, url=saved.url)
            _apply_saved(link, saved)
            session.add(link)
            session.flush()
            counts["new"] += 1
        else:
            link = existing
            changed = _apply_saved(link, saved)
            session.add(link)
            counts["updated" if changed else "unchanged"] += 1
        set_tags(session, link.id or 0, saved.tags, TagOrigin.SOURCE)
    session.flush()
    return UpsertReport(**counts)


def _apply_saved(link: Link, saved: SavedLink) -> bool:
    """Copy a SavedLink onto a row; requeue it when what is to be read changed."""
    requeue = bool(saved.url) and saved.url != link.url
    if saved.content is not None and saved.content != link.provided_content:
        requeue = True
        link.provided_content = saved.content
        link.provided_content_type = saved.content_type
    changed = requeue or link.deleted or (saved.title or link.title) != link.title
    if saved.url:
        link.url = saved.url
    link.title = saved.title or link.title
    link.state, link.deleted = saved.state, False
    link.added_at = saved.added_at or link.added_at
    link.updated_at = saved.updated_at or link.updated_at
    if requeue and link.id is not None:
        link.stage, link.status, link.attempts = Stage.FETCH, Status.PENDING, 0
        link.last_error, link.next_attempt_at = None, None
    return changed
