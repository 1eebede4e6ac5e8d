"""Links from sources: upserts and the sync cursor, committed together."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from readerd import models
from readerd.models import Link, LinkTag, Stage, Status, Tag, TagOrigin, utcnow
from readerd.results import LinkState, SavedLink
from readerd.store.common import MAX_ERROR_CHARS, reindex
from readerd.store.tagging import set_tags
from readerd.store.writeback import has_ledger, reconcile
from readerd.text.urls import redact_userinfo

#: Sources whose listing leaves readerd's written tags out of the link's tags (Karakeep
#: lists only tags attached by a human): their ledger is checked at write time instead.
_TAGS_APART = frozenset({"karakeep"})


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
        report = upsert_links(session, batch_links)
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


def has_links_beyond(engine: Engine, source: str) -> bool:
    """Whether the library holds any link from another source than `source` (deleted too)."""
    with Session(engine) as session:
        return session.exec(select(Link.id).where(col(Link.source) != source)).first() is not None


def import_links(engine: Engine, links: list[SavedLink]) -> UpsertReport:
    """Store links from an export file (no cursor involved)."""
    with Session(engine) as session:
        report = upsert_links(session, links)
        session.commit()
    return report


def upsert_links(session: Session, links: list[SavedLink]) -> UpsertReport:
    counts = {"new": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    ledgers: dict[str, bool] = {}
    for saved in map(without_secrets, links):
        existing = session.exec(
            select(Link).where(Link.source == saved.source, Link.source_id == saved.source_id)
        ).first()
        if saved.state == LinkState.DELETED:
            if existing and not existing.deleted:
                existing.deleted, existing.state = True, LinkState.DELETED
                session.add(existing)
                counts["deleted"] += 1
            continue
        if saved.source not in ledgers:
            ledgers[saved.source] = saved.source not in _TAGS_APART and has_ledger(
                session, saved.source
            )
        if ledgers[saved.source]:
            # the tags readerd wrote come back in the listing: they are not the user's
            human = reconcile(session, saved.source, saved.source_id, saved.tags)
            saved = replace(saved, tags=tuple(human))
        if existing is None:
            link = Link(source=saved.source, source_id=saved.source_id, url=saved.url)
            _apply_saved(link, saved)
            session.add(link)
            session.flush()
            counts["new"] += 1
            set_tags(session, link.id or 0, saved.tags, TagOrigin.SOURCE)
            continue
        link = existing
        changed = _apply_saved(link, saved)
        if set(source_tag_names(session, link.id or 0)) != _tag_set(saved.tags):
            set_tags(session, link.id or 0, saved.tags, TagOrigin.SOURCE)
            changed = True
        session.add(link)
        if changed:
            # Title, tags and state are searchable: the index moves with them, in this transaction.
            session.flush()
            reindex(session, link.id or 0)
        counts["updated" if changed else "unchanged"] += 1
    session.flush()
    return UpsertReport(**counts)


def source_tag_names(session: Session, link_id: int) -> list[str]:
    """The tags the link's source gave it, as stored."""
    return list(
        session.exec(
            select(Tag.name)
            .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
            .where(LinkTag.link_id == link_id, LinkTag.origin == TagOrigin.SOURCE)
        ).all()
    )


def _tag_set(names: tuple[str, ...]) -> set[str]:
    """The tags set_tags would store for these names."""
    return {name.strip() for name in names if name.strip()}


def without_secrets(saved: SavedLink) -> SavedLink:
    """The link with the password in its URL's userinfo masked: it is never stored."""
    url, source_id = redact_userinfo(saved.url), redact_userinfo(saved.source_id)
    title = redact_userinfo(saved.title) if saved.title else saved.title
    if (url, source_id, title) == (saved.url, saved.source_id, saved.title):
        return saved
    return replace(saved, url=url, source_id=source_id, title=title)


def _apply_saved(link: Link, saved: SavedLink) -> bool:
    """Copy a SavedLink onto a row; requeue it when what is to be read changed."""
    requeue = bool(saved.url) and saved.url != link.url
    if saved.content is not None and saved.content != link.provided_content:
        requeue = True
        link.provided_content = saved.content
        link.provided_content_type = saved.content_type
    changed = (
        requeue
        or link.deleted
        or (saved.title or link.title) != link.title
        or saved.state != link.state
    )
    if saved.url:
        link.url = saved.url
    link.title = saved.title or link.title
    link.state, link.deleted = saved.state, False
    link.added_at = saved.added_at or link.added_at
    link.updated_at = saved.updated_at or link.updated_at
    if requeue and link.id is not None:
        link.stage, link.status, link.attempts = Stage.FETCH, Status.PENDING, 0
        link.last_error, link.next_attempt_at = None, None
    if saved.problem and (link.status != Status.FAILED or link.last_error != saved.problem):
        link.stage, link.status, link.last_error = Stage.FETCH, Status.FAILED, saved.problem
        link.next_attempt_at, link.processed_at = None, utcnow()
    return changed
