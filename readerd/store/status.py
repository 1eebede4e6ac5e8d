"""What `readerd status` shows of the database: items per stage, syncs, errors, tokens today."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from readerd.logs import redact
from readerd.models import Link, LLMCallLog, SourceState
from readerd.results import DatabaseSummary, ItemCounts, RecentError, SourceSync, TokensToday
from readerd.text.times import iso_utc

LAST_ERRORS = 5


def database_summary(engine: Engine) -> DatabaseSummary:
    """Items per stage and status, sources' last syncs, recent errors, LLM tokens today."""
    today = datetime.combine(datetime.now(UTC).date(), time.min)  # naive UTC, like the rows
    with Session(engine) as session:
        rows = session.exec(
            select(Link.stage, Link.status, func.count())
            .where(col(Link.deleted).is_(False))
            .group_by(col(Link.stage), col(Link.status))
        ).all()
        sources = session.exec(select(SourceState).order_by(col(SourceState.source))).all()
        errors = session.exec(
            select(Link)
            .where(col(Link.last_error).is_not(None), col(Link.deleted).is_(False))
            .order_by(
                func.coalesce(Link.processed_at, Link.next_attempt_at, Link.created_at).desc()
            )
            .limit(LAST_ERRORS)
        ).all()
        tokens = session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(LLMCallLog.tokens_in), 0),
                func.coalesce(func.sum(LLMCallLog.tokens_out), 0),
            ).where(col(LLMCallLog.created_at) >= today)
        ).one()
    return DatabaseSummary(
        items=_items(rows),
        sources=[_source(s) for s in sources],
        last_errors=[_error(link) for link in errors],
        llm_today=TokensToday(
            since=iso_utc(today), calls=tokens[0], tokens_in=tokens[1], tokens_out=tokens[2]
        ),
    )


def _items(rows: Sequence[Any]) -> ItemCounts:
    by_status: dict[str, int] = {}
    by_stage: dict[str, dict[str, int]] = {}
    for stage, status, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_stage.setdefault(stage, {})[status] = count
    return ItemCounts(total=sum(by_status.values()), by_status=by_status, by_stage=by_stage)


def _source(state: SourceState) -> SourceSync:
    result = state.last_result or ""
    return SourceSync(
        source=state.source,
        last_sync_at=iso_utc(state.last_sync_at),
        ok=not result.startswith("error"),
        last_result=redact(result) or None,
    )


def _error(link: Link) -> RecentError:
    return RecentError(
        id=link.id,
        url=redact(link.url),
        status=link.status,
        stage=link.stage,
        attempts=link.attempts,
        last_error=redact(link.last_error or ""),
        next_attempt_at=iso_utc(link.next_attempt_at),
    )
