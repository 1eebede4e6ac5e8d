"""The work queue: due links, extracted articles, analyses, failures and retries."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from readerd import models
from readerd.errors import LeaseLostError
from readerd.models import Link, Stage, Status, TagOrigin, utcnow
from readerd.results import Analysis, Extracted, FetchedPage, LLMCall
from readerd.store.common import MAX_BACKOFF, MAX_ERROR_CHARS, hold, link_row, reindex
from readerd.store.tagging import set_tags


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
    with Session(engine) as session:
        content_hash = _put_article(session, link_id, page, extracted)
        session.flush()
        reindex(session, link_id)
        session.commit()
    return content_hash


def _put_article(session: Session, link_id: int, page: FetchedPage, extracted: Extracted) -> str:
    # The link first, as store/batch.py on SQLite: a missing one is a LookupError, not the
    # foreign-key error PostgreSQL raises when the orphan article is flushed.
    link = link_row(session, link_id)
    content_hash = hash_text(extracted.text)
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
    link.stage, link.last_error = Stage.ANALYZE, None
    session.add(link)
    return content_hash


def article_for_analysis(engine: Engine, link_id: int) -> ArticleForAnalysis | None:
    with Session(engine) as session:
        article = session.get(models.Article, link_id)
        if article is None:
            return None
        link = link_row(session, link_id)
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
        _put_analysis(session, link_id, analysis, content_hash)
        session.flush()
        reindex(session, link_id)
        session.commit()


def _put_analysis(
    session: Session,
    link_id: int,
    analysis: Analysis,
    content_hash: str,
) -> None:
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
    row.fallbacks = list(analysis.fallbacks)
    row.tokens_in, row.tokens_out, row.latency_ms = (
        analysis.tokens_in,
        analysis.tokens_out,
        analysis.latency_ms,
    )
    session.add(row)
    set_tags(session, link_id, analysis.tags, TagOrigin.AI)
    _log_calls(session, link_id, analysis)
    _finish(session, link_id)


@dataclass(frozen=True)
class ArticleWrite:
    """save_article's work, for save_batch."""

    link_id: int
    page: FetchedPage
    extracted: Extracted
    owner: str | None = None  # the lease this write is fenced by (store/leases.py)


@dataclass(frozen=True)
class AnalysisWrite:
    """save_analysis's work, for save_batch."""

    link_id: int
    analysis: Analysis
    content_hash: str
    owner: str | None = None  # the lease this write is fenced by (store/leases.py)


Write = ArticleWrite | AnalysisWrite


@dataclass(frozen=True)
class Written:
    """What one write of a batch came to, known only once it is committed.

    content_hash is the stored text's hash (as save_article returns it) for an
    ArticleWrite; error is what that write alone raised (nothing of it is stored).
    """

    content_hash: str | None = None
    error: Exception | None = None


def save_batch(engine: Engine, writes: Sequence[Write]) -> list[Written]:
    """Several writes in one transaction, in order; one Written per write, after the commit.

    Each write does what save_article or save_analysis would, and each link's row in
    the full-text index is rewritten once, in the same transaction. Should any write
    fail (a link deleted meanwhile), the transaction is rolled back and every write is
    redone in a transaction of its own, so a bad write costs only itself and no write
    is ever half stored.
    """
    if not writes:
        return []
    try:
        with Session(engine) as session:
            _fence(session, writes)
            if session.get_bind().dialect.name == "sqlite":
                from readerd.store.batch import write_batch  # plain SQL: no ORM cost per row

                raw = session.connection().connection.driver_connection
                assert raw is not None
                try:
                    hashes = write_batch(raw, writes)
                except sqlite3.Error as exc:  # as the ORM path raises it: a DBAPIError
                    raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
            else:
                hashes = [_put(session, write) for write in writes]
                session.flush()
                for link_id in dict.fromkeys(write.link_id for write in writes):
                    reindex(session, link_id)
            session.commit()
        return [Written(content_hash=h) for h in hashes]
    except Exception:
        if len(writes) == 1:
            raise
    return [_save_alone(engine, write) for write in writes]


def _fence(session: Session, writes: Sequence[Write]) -> None:
    """LeaseLostError if a write's worker no longer holds its link (checked in the write's
    own transaction: SQLite's BEGIN IMMEDIATE, or PostgreSQL's row locks, keep it so)."""
    owners = {write.link_id: write.owner for write in writes if write.owner is not None}
    if not owners:
        return
    query = select(Link.id, Link.lease_owner).where(col(Link.id).in_(list(owners)))
    held = dict(session.exec(query.with_for_update()).all())
    lost = sorted(link_id for link_id, owner in owners.items() if held.get(link_id) != owner)
    if lost:
        raise LeaseLostError(
            f"link {lost[0]}: its lease passed to another worker; this worker's result is dropped"
        )


def _save_alone(engine: Engine, write: Write) -> Written:
    try:
        return save_batch(engine, [write])[0]
    except Exception as exc:  # reported per write: the caller answers each item
        return Written(error=exc)


def _put(session: Session, write: Write) -> str | None:
    if isinstance(write, ArticleWrite):
        return _put_article(session, write.link_id, write.page, write.extracted)
    _put_analysis(session, write.link_id, write.analysis, write.content_hash)
    return None


def mark_done(engine: Engine, link_id: int, owner: str | None = None) -> None:
    """Finish a link whose analysis is already current."""
    with Session(engine) as session:
        hold(session, link_id, owner)
        _finish(session, link_id)
        session.commit()


def log_llm_calls(engine: Engine, link_id: int | None, analysis_calls: list[LLMCall]) -> None:
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
    owner: str | None = None,
) -> str:
    """Count a failed attempt: schedule a retry with backoff, or give up. Returns the status."""
    with Session(engine) as session:
        link = hold(session, link_id, owner)
        link.lease_owner, link.lease_until = None, None
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


def defer(
    engine: Engine, link_id: int, until: datetime, reason: str, owner: str | None = None
) -> None:
    """Put a link back in the queue for later without counting an attempt (rate limits)."""
    with Session(engine) as session:
        link = hold(session, link_id, owner)
        link.lease_owner, link.lease_until = None, None
        link.status, link.next_attempt_at, link.last_error = Status.PENDING, until, reason
        session.add(link)
        session.commit()


def make_due_now(engine: Engine) -> int:
    """Bring every link waiting for a later attempt forward to now; how many there were."""
    now = utcnow()
    with Session(engine) as session:
        waiting = session.exec(
            select(Link)
            .where(Link.status == Status.PENDING, col(Link.deleted).is_(False))
            .where(col(Link.next_attempt_at) > now)
        ).all()
        for link in waiting:
            link.next_attempt_at = now
            session.add(link)
        session.commit()
        return len(waiting)


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
            link = link_row(session, link_id)
            link.stage, link.status, link.attempts = Stage.ANALYZE, Status.PENDING, 0
            link.last_error, link.next_attempt_at = None, None
            session.add_all([analysis, link])
            count += 1
        session.commit()
    return count


def _finish(session: Session, link_id: int) -> None:
    link = link_row(session, link_id)
    link.lease_owner, link.lease_until = None, None
    link.stage, link.status, link.last_error = Stage.DONE, Status.DONE, None
    link.next_attempt_at, link.processed_at = None, utcnow()
    session.add(link)


def _log_calls(session: Session, link_id: int, analysis: Analysis) -> None:
    for call in analysis.calls:
        session.add(_call_row(link_id, call))


def _call_row(link_id: int | None, call: LLMCall) -> models.LLMCallLog:
    return models.LLMCallLog(
        link_id=link_id,
        model=call.model,
        base_url_host=call.base_url_host,
        prompt_version=call.prompt_version,
        mode=call.mode,
        tokens_in=call.tokens_in,
        tokens_out=call.tokens_out,
        tokens_cached=call.tokens_cached,
        latency_ms=call.latency_ms,
        outcome=call.outcome,
        error=(call.error or None) and call.error[:MAX_ERROR_CHARS],
    )
