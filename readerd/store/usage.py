"""LLM usage from the call log: requests, tokens, costs, and today's token budget.

Costs are computed when read, from READERD_LLM_PRICE_IN / _OUT (per million
tokens), so a price change applies to the whole history and nothing is stored.
Days are the reader's local days; times in the database are naive UTC.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from readerd.config import Settings
from readerd.models import LLMCallLog
from readerd.results import CallRow, DayUsage, LinkUsage, TodayUsage, UsageTotals

PER = 1_000_000


def day_start(day: date | None = None) -> datetime:
    """Local midnight starting `day` (default today), as naive UTC."""
    day = day or datetime.now().astimezone().date()
    return datetime.combine(day, time.min).astimezone().astimezone(UTC).replace(tzinfo=None)


def next_day_start() -> datetime:
    """Local midnight ending today, as naive UTC: when a spent budget is renewed."""
    return day_start(datetime.now().astimezone().date() + timedelta(days=1))


def local_day(moment: datetime) -> str:
    """The reader's local date (YYYY-MM-DD) of a naive UTC time."""
    return moment.replace(tzinfo=UTC).astimezone().date().isoformat()


def iso(moment: datetime) -> str:
    """A naive UTC time as ISO 8601 with Z."""
    return moment.isoformat(timespec="seconds") + "Z"


def cost(settings: Settings, tokens_in: int, tokens_out: int) -> float | None:
    """Cost of these tokens at the configured prices; None when no price is set."""
    if settings.llm_price_in is None and settings.llm_price_out is None:
        return None
    price_in, price_out = settings.llm_price_in or 0.0, settings.llm_price_out or 0.0
    return round((tokens_in * price_in + tokens_out * price_out) / PER, 6)


def tokens_today(engine: Engine) -> int:
    """Tokens in + out of every LLM request logged since local midnight."""
    with Session(engine) as session:
        used = session.exec(
            select(func.coalesce(func.sum(LLMCallLog.tokens_in + LLMCallLog.tokens_out), 0)).where(
                col(LLMCallLog.created_at) >= day_start()
            )
        ).one()
    return int(used)


def call_rows(
    engine: Engine, settings: Settings, *, limit: int = 50, link_id: int | None = None
) -> list[CallRow]:
    """The newest logged requests, newest first, as JSON-ready dicts (cost when priced)."""
    query = select(LLMCallLog).order_by(col(LLMCallLog.id).desc()).limit(limit)
    if link_id is not None:
        query = query.where(LLMCallLog.link_id == link_id)
    with Session(engine) as session:
        calls = list(session.exec(query))
    return [
        {
            "id": c.id,
            "time": iso(c.created_at),
            "link_id": c.link_id,
            "model": c.model,
            "host": c.base_url_host,
            "prompt_version": c.prompt_version,
            "mode": c.mode,
            "tokens_in": c.tokens_in,
            "tokens_out": c.tokens_out,
            "tokens_cached": c.tokens_cached,
            "latency_ms": c.latency_ms,
            "outcome": c.outcome,
            "error": c.error,
            "cost": cost(settings, c.tokens_in, c.tokens_out),
        }
        for c in calls
    ]


def _totals(settings: Settings, requests: int, tokens_in: int, tokens_out: int) -> UsageTotals:
    return {
        "requests": requests,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost": cost(settings, tokens_in, tokens_out),
    }


def today(engine: Engine, settings: Settings) -> TodayUsage:
    """Today's requests, tokens and cost, and the daily token budget with what is left."""
    with Session(engine) as session:
        requests, tokens_in, tokens_out = session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(LLMCallLog.tokens_in), 0),
                func.coalesce(func.sum(LLMCallLog.tokens_out), 0),
            ).where(col(LLMCallLog.created_at) >= day_start())
        ).one()
    totals = _totals(settings, int(requests), int(tokens_in), int(tokens_out))
    budget = settings.llm_daily_token_budget
    used = totals["tokens_in"] + totals["tokens_out"]
    return {
        **totals,
        "date": datetime.now().astimezone().date().isoformat(),
        "budget": budget,
        "budget_left": max(0, budget - used) if budget else None,
    }


def usage_by_day(engine: Engine, settings: Settings, days: int = 14) -> list[DayUsage]:
    """Requests, tokens and cost per local day over the last `days` days, newest first."""
    since = day_start(datetime.now().astimezone().date() - timedelta(days=days - 1))
    with Session(engine) as session:
        rows = session.exec(
            select(LLMCallLog.created_at, LLMCallLog.tokens_in, LLMCallLog.tokens_out).where(
                col(LLMCallLog.created_at) >= since
            )
        ).all()
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for created, tokens_in, tokens_out in rows:
        day = sums[local_day(created)]
        day[0], day[1], day[2] = day[0] + 1, day[1] + tokens_in, day[2] + tokens_out
    return [{"date": day, **_totals(settings, *sums[day])} for day in sorted(sums, reverse=True)]


def usage_by_link(
    engine: Engine, settings: Settings, limit: int = 50, link_id: int | None = None
) -> list[LinkUsage]:
    """Requests, tokens and cost per article (or of one), most recently analysed first."""
    query = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            LLMCallLog.link_id,
            func.count(),
            func.sum(LLMCallLog.tokens_in),
            func.sum(LLMCallLog.tokens_out),
            func.max(LLMCallLog.created_at),
        )
        .where(col(LLMCallLog.link_id).is_not(None))
        .group_by(col(LLMCallLog.link_id))
        .order_by(func.max(LLMCallLog.created_at).desc())
        .limit(limit)
    )
    if link_id is not None:
        query = query.where(LLMCallLog.link_id == link_id)
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [
        {"link_id": link, "last": _text_time(last), **_totals(settings, n, int(t_in), int(t_out))}
        for link, n, t_in, t_out, last in rows
    ]


def _text_time(value: datetime | str) -> str:
    """An aggregate's time (SQLite's max() hands back text) as ISO 8601 with Z."""
    return iso(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date; ValueError otherwise."""
    return date.fromisoformat(text.strip())
