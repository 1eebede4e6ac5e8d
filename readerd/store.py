"""The only module that writes SQL: links as a work queue, articles, analyses, tags, cursors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, text
from sqlmodel import Session, col, select

from readerd import models
from readerd.errors import StoreError
from readerd.models import Link, LinkTag, Stage, Status, Tag, TagOrigin, utcnow
from readerd.results import Analysis, Extracted, FetchedPage, LinkState, SavedLink
from readerd.tags import TagIndex, display_tag, relevant_vocabulary, tag_key

MAX_ERROR_CHARS = 500
MAX_BACKOFF = timedelta(hours=24)


@dataclass(frozen=True)
class UpsertReport:
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class DueLink:
    """A snapshot of a link due for processing, detached from any session."""

    id: int
    url: str
    stage: str
    attempts: int
    provided_content: bytes | None
    provided_content_type: str | None


@dataclass(frozen=True)
class ArticleForAnalysis:
    url: str
    title: str | None
    text: str
    language: str | None
    content_hash: str


def hash_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- sync -----------------------------------------------------------------


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
        _set_tags(session, link.id or 0, saved.tags, TagOrigin.SOURCE)
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


# --- the work queue ---------------------------------------------------------


def due_links(engine: Engine, limit: int, exclude: set[int] | None = None) -> list[DueLink]:
    """Pending, not deleted links whose retry time has come, oldest first."""
    now = utcnow()
    query = (
        select(Link)
        .where(Link.status == Status.PENDING, col(Link.deleted).is_(False))
        .where((col(Link.next_attempt_at).is_(None)) | (col(Link.next_attempt_at) <= now))
        .order_by(col(Link.id))
        .limit(limit)
    )
    if exclude:
        query = query.where(col(Link.id).not_in(exclude))
    with Session(engine) as session:
        return [
            DueLink(
                row.id or 0,
                row.url,
                row.stage,
                row.attempts,
                row.provided_content,
                row.provided_content_type,
            )
            for row in session.exec(query)
        ]


def save_article(engine: Engine, link_id: int, page: FetchedPage, extracted: Extracted) -> str:
    """Store the extracted article and move the link to the analysis stage."""
    content_hash = hash_text(extracted.text)
    with Session(engine) as session:
        article = session.get(models.Article, link_id) or models.Article(
            link_id=link_id,
            final_url=page.url,
            content_type=page.content_type,
            text="",
            content_hash=content_hash,
        )
        article.final_url, article.content_type = page.url, page.content_type
        article.kind, article.title, article.author = (
            extracted.kind,
            extracted.title,
            extracted.author,
        )
        article.published, article.site_name = extracted.published, extracted.site_name
        article.language, article.word_count = extracted.language, extracted.word_count
        article.text, article.content_hash, article.extracted_at = (
            extracted.text,
            content_hash,
            utcnow(),
        )
        session.add(article)
        link = _link(session, link_id)
        link.stage, link.last_error = Stage.ANALYZE, None
        session.add(link)
        session.flush()
        _reindex(session, link_id)
        session.commit()
    return content_hash


def article_for_analysis(engine: Engine, link_id: int) -> ArticleForAnalysis | None:
    with Session(engine) as session:
        article = session.get(models.Article, link_id)
        if article is None:
            return None
        link = _link(session, link_id)
        return ArticleForAnalysis(
            url=link.url,
            title=article.title or link.title,
            text=article.text,
            language=article.language,
            content_hash=article.content_hash,
        )


def analysis_is_current(
    engine: Engine, link_id: int, model: str, prompt_version: str, content_hash: str
) -> bool:
    """True when the stored analysis was made from this text by this model and prompt."""
    with Session(engine) as session:
        current = session.get(models.Analysis, link_id)
        return bool(
            current
            and current.content_hash == content_hash
            and current.model == model
            and current.prompt_version == prompt_version
        )


def save_analysis(engine: Engine, link_id: int, analysis: Analysis, content_hash: str) -> None:
    """Store an analysis, replace the link's AI tags, log its LLM calls, mark the link done."""
    with Session(engine) as session:
        row = session.get(models.Analysis, link_id) or models.Analysis(
            link_id=link_id,
            summary="",
            language="",
            analyzer="",
            model="",
            prompt_version="",
            content_hash=content_hash,
        )
        row.summary, row.key_points, row.language = (
            analysis.summary,
            list(analysis.key_points),
            analysis.language,
        )
        row.analyzer, row.model, row.prompt_version = (
            analysis.analyzer,
            analysis.model,
            analysis.prompt_version,
        )
        row.content_hash, row.coverage, row.created_at = content_hash, analysis.coverage, utcnow()
        row.tokens_in, row.tokens_out, row.latency_ms = (
            analysis.tokens_in,
            analysis.tokens_out,
            analysis.latency_ms,
        )
        session.add(row)
        _set_tags(session, link_id, analysis.tags, TagOrigin.AI)
        _log_calls(session, link_id, analysis)
        _finish(session, link_id)
        session.flush()
        _reindex(session, link_id)
        session.commit()


def mark_done(engine: Engine, link_id: int) -> None:
    """Finish a link whose analysis is already current."""
    with Session(engine) as session:
        _finish(session, link_id)
        session.commit()


def log_llm_calls(engine: Engine, link_id: int | None, analysis_calls: list) -> None:  # type: ignore[type-arg]
    """Log LLM requests of an analysis that failed (successful ones come with save_analysis)."""
    with Session(engine) as session:
        for call in analysis_calls:
            session.add(_call_row(link_id, call))
        session.commit()


def record_failure(
    engine: Engine,
    link_id: int,
    error: str,
    *,
    retryable: bool,
    max_attempts: int,
    retry_base_seconds: float,
    status_if_final: Status = Status.FAILED,
) -> str:
    """Count a failed attempt: schedule a retry with backoff, or give up. Returns the status."""
    with Session(engine) as session:
        link = _link(session, link_id)
        link.attempts += 1
        link.last_error = error[:MAX_ERROR_CHARS]
        if retryable and link.attempts < max_attempts:
            delay = timedelta(seconds=retry_base_seconds * 2 ** (link.attempts - 1))
            link.status, link.next_attempt_at = Status.PENDING, utcnow() + min(delay, MAX_BACKOFF)
        else:
            link.status, link.next_attempt_at = status_if_final, None
            link.processed_at = utcnow()
        session.add(link)
        session.commit()
        return link.status


def defer(engine: Engine, link_id: int, until: datetime, reason: str) -> None:
    """Put a link back in the queue for later without counting an attempt (rate limits)."""
    with Session(engine) as session:
        link = _link(session, link_id)
        link.status, link.next_attempt_at, link.last_error = Status.PENDING, until, reason
        session.add(link)
        session.commit()


def vocabulary(
    engine: Engine, title: str | None = None, body: str = "", limit: int = 40
) -> list[str]:
    """Existing tags for the analyser: those the article mentions first, then the most used."""
    with Session(engine) as session:
        return relevant_vocabulary(_tag_uses(session), title, body, limit)


def merge_tags(engine: Engine, old: str, new: str) -> int:
    """Relabel every link tagged OLD as NEW (origins kept), drop OLD; returns links relabelled."""
    new = new.strip()
    if not new or new == old:
        raise StoreError("tags: merge needs two different tag names")
    with Session(engine) as session:
        source = session.exec(select(Tag).where(Tag.name == old)).first()
        if source is None:
            raise StoreError(f"tags: no tag named {old!r} (see `readerd tags`)")
        target = session.exec(select(Tag).where(Tag.name == new)).first()
        if target is None:
            target = Tag(name=new)
            session.add(target)
            session.flush()
        rows = session.exec(select(LinkTag).where(LinkTag.tag_id == source.id)).all()
        relabelled = {(row.link_id, row.origin) for row in rows}
        for row in rows:
            session.delete(row)
        session.flush()
        for link_id, origin in relabelled:
            if session.get(LinkTag, (link_id, target.id, origin)) is None:
                session.add(LinkTag(link_id=link_id, tag_id=target.id or 0, origin=origin))
        # OLD and its aliases now mean NEW: the analyser's next OLD is filed under NEW.
        moved = {"old": source.id, "new": target.id, "name": new}
        session.execute(text("UPDATE tag_alias SET tag_id = :new WHERE tag_id = :old"), moved)
        session.execute(text("DELETE FROM tag_alias WHERE alias = :name"), moved)
        _add_aliases(session, target.id or 0, {old}, replace=True)
        session.delete(source)
        session.flush()
        links = sorted({link_id for link_id, _ in relabelled})
        for link_id in links:
            _reindex(session, link_id)
        session.commit()
    return len(links)


def requeue_for_analysis(engine: Engine, link_ids: list[int]) -> int:
    """Send analysed links back to the analyze stage so the next `process` re-analyses them.

    The stored analysis keeps its summary until the new one replaces it, but its
    content_hash is cleared: that is what makes analysis_is_current() false for
    exactly these links, however unchanged their text.
    """
    count = 0
    with Session(engine) as session:
        for link_id in link_ids:
            analysis = session.get(models.Analysis, link_id)
            if analysis is None or session.get(models.Article, link_id) is None:
                continue
            analysis.content_hash = ""
            link = _link(session, link_id)
            link.stage, link.status, link.attempts = Stage.ANALYZE, Status.PENDING, 0
            link.last_error, link.next_attempt_at = None, None
            session.add_all([analysis, link])
            count += 1
        session.commit()
    return count


# --- helpers ----------------------------------------------------------------


def _link(session: Session, link_id: int) -> Link:
    link = session.get(Link, link_id)
    if link is None:
        raise LookupError(f"store: no link with id {link_id}")
    return link


def _finish(session: Session, link_id: int) -> None:
    link = _link(session, link_id)
    link.stage, link.status, link.last_error = Stage.DONE, Status.DONE, None
    link.next_attempt_at, link.processed_at = None, utcnow()
    session.add(link)


def _tag_uses(session: Session) -> list[tuple[str, int]]:
    """Every tag on at least one link, with how many links carry it."""
    query = (
        select(Tag.name, func.count(func.distinct(LinkTag.link_id)).label("uses"))
        .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
        .group_by(col(Tag.name))
        .order_by(text("uses DESC"), col(Tag.name))
    )
    return [(name, int(uses)) for name, uses in session.exec(query)]


_ALIASES = "SELECT a.alias, t.name FROM tag_alias a JOIN tag t ON t.id = a.tag_id"
_ADD_ALIAS = (
    "INSERT INTO tag_alias (alias, tag_id) VALUES (:alias, :tag_id) ON CONFLICT (alias) DO "
)


def _matched_names(session: Session, names: tuple[str, ...]) -> dict[str, set[str]]:
    """Analyser tags as existing tags where one matches (tags.py), else in display form.

    Maps each chosen name to the typo'd spellings that led to it (aliases to remember).
    """
    index = TagIndex(_tag_uses(session))
    for alias, name in session.execute(text(_ALIASES)):
        index.add_alias(alias, name)
    chosen: dict[str, set[str]] = {}
    for proposed in (display_tag(n) for n in names):
        if not proposed:
            continue
        name = index.match(proposed) or proposed
        typos = {proposed} if tag_key(proposed) != tag_key(name) else set()
        chosen[name] = chosen.get(name, set()) | typos
        index.add(name)
    return chosen


def _add_aliases(session: Session, tag_id: int, aliases: set[str], replace: bool = False) -> None:
    """Remember spellings of a tag (a merge re-points an alias; a match never does)."""
    action = "UPDATE SET tag_id = excluded.tag_id" if replace else "NOTHING"
    for alias in aliases:
        session.execute(text(_ADD_ALIAS + action), {"alias": alias, "tag_id": tag_id})


def _set_tags(session: Session, link_id: int, names: tuple[str, ...], origin: TagOrigin) -> None:
    """Replace the link's tags of one origin; the other origin's tags stay.

    Source tags are kept as the service spells them; analyser tags are first
    matched to the existing vocabulary, so a new spelling never forks a tag.
    """
    previous = set(
        session.exec(
            select(LinkTag.tag_id).where(LinkTag.link_id == link_id, LinkTag.origin == origin)
        ).all()
    )
    session.exec(  # type: ignore[call-overload]
        delete(LinkTag).where(col(LinkTag.link_id) == link_id, col(LinkTag.origin) == origin)
    )
    if origin == TagOrigin.AI:
        wanted = _matched_names(session, names)
    else:
        wanted = {n: set() for n in dict.fromkeys(n.strip() for n in names if n.strip())}
    for name, aliases in wanted.items():
        tag = session.exec(select(Tag).where(Tag.name == name)).first()
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
        session.add(LinkTag(link_id=link_id, tag_id=tag.id or 0, origin=origin))
        _add_aliases(session, tag.id or 0, aliases)
    session.flush()
    _drop_unused_tags(session, previous)


def _drop_unused_tags(session: Session, tag_ids: set[int]) -> None:
    """Delete those of these tags that no link carries any more."""
    if not tag_ids:
        return
    used = set(session.exec(select(LinkTag.tag_id).where(col(LinkTag.tag_id).in_(tag_ids))).all())
    session.exec(  # type: ignore[call-overload]
        delete(Tag).where(col(Tag.id).in_(tag_ids - used))
    )


def _log_calls(session: Session, link_id: int, analysis: Analysis) -> None:
    for call in analysis.calls:
        session.add(_call_row(link_id, call))


def _call_row(link_id: int | None, call) -> models.LLMCallLog:  # type: ignore[no-untyped-def]
    return models.LLMCallLog(
        link_id=link_id,
        model=call.model,
        base_url_host=call.base_url_host,
        prompt_version=call.prompt_version,
        mode=call.mode,
        tokens_in=call.tokens_in,
        tokens_out=call.tokens_out,
        latency_ms=call.latency_ms,
        outcome=call.outcome,
        error=(call.error or None) and call.error[:MAX_ERROR_CHARS],
    )


def _reindex(session: Session, link_id: int) -> None:
    """Rewrite the link's row in the FTS5 index (SQLite only)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    link = _link(session, link_id)
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
