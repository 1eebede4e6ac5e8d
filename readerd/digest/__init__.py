"""The daily digest e-mail: pick and group articles, render, queue in the outbox, send, feed.

The daemon calls `send_scheduled_digest` on its schedule; it is safe to call on every
tick. Exactly one digest per date and recipient: the outbox row is committed before
the first SMTP connection and marked sent only after the server's 250 (see outbox.py
for the one duplicate window that remains).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine

from readerd.config import Settings
from readerd.digest.build import Digest, build_digest
from readerd.digest.feed import entry_from_message, tag_authority, write_feed
from readerd.digest.render import RenderedDigest, compose_message, message_id, render_digest
from readerd.digest.send import Mailer, SmtpMailer, missing_settings
from readerd.errors import MailError
from readerd.models import DigestOutbox, DigestStatus, utcnow
from readerd.store import outbox, usage

log = logging.getLogger(__name__)
GRACE_MINUTES = 1  # a scheduler firing a moment early still builds the day's digest

__all__ = ["DigestResult", "preview_digest", "send_digest", "send_scheduled_digest"]


@dataclass
class DigestResult:
    """What one call did: digests queued, e-mails sent or failed, why nothing was built."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{self.queued} queued, {self.sent} sent, {self.failed} failed"]
        if self.skipped:
            parts.append(self.skipped)
        return "; ".join(parts + self.errors)


def send_scheduled_digest(
    settings: Settings, engine: Engine, *, today: date | None = None
) -> DigestResult:
    """Queue today's digest once DIGEST_AT has passed, send every due row, refresh the feed.

    With `today` given, that date's digest is queued whatever the time. Rows that
    failed earlier are retried here when their backoff has passed.
    """
    now = datetime.now().astimezone()
    if today is None and not _due(settings, now):
        return _run(
            settings,
            engine,
            day=now.date(),
            build=False,
            skipped=f"digest: not before {settings.digest_at}",
        )
    return _run(settings, engine, day=today or now.date(), build=True)


def send_digest(
    settings: Settings, engine: Engine, *, day: date, since: datetime | None = None
) -> DigestResult:
    """Queue the date's digest if missing and send it now, failed or backing off included."""
    return _run(settings, engine, day=day, build=True, since=since, requeue=True)


def preview_digest(
    settings: Settings, engine: Engine, *, day: date, since: datetime | None = None
) -> RenderedDigest:
    """Render what the next digest would say, without the outbox or any e-mail."""
    recipient = settings.digest_to[0] if settings.digest_to else ""
    return render_digest(_build(settings, engine, day, recipient, since), recipient=recipient)


def _due(settings: Settings, now: datetime) -> bool:
    hour, minute = settings.digest_time
    return now.hour * 60 + now.minute >= hour * 60 + minute - GRACE_MINUTES


def _run(
    settings: Settings,
    engine: Engine,
    *,
    day: date,
    build: bool,
    since: datetime | None = None,
    requeue: bool = False,
    skipped: str | None = None,
) -> DigestResult:
    result = DigestResult(skipped=skipped)
    try:
        mailer = SmtpMailer(settings)
    except MailError as exc:
        result.skipped = str(exc)
        if not missing_settings(settings):  # configured, but contradictory: an error
            result.errors.append(str(exc))
        return result
    if requeue:
        outbox.requeue(engine, day.isoformat())
    if build:
        _queue(settings, engine, day, since, result)
    _deliver(settings, engine, mailer, result)
    _publish_feed(settings, engine, result)
    return result


def _build(
    settings: Settings, engine: Engine, day: date, recipient: str, since: datetime | None
) -> Digest:
    digest = build_digest(
        engine,
        day=day,
        max_items=settings.digest_max_items,
        since=since,
        exclude=outbox.digested_link_ids(engine, recipient),
        failures_since=since or outbox.last_digest_at(engine, recipient),
    )
    return replace(digest, cost=usage.cost(settings, digest.tokens_in, digest.tokens_out))


def _queue(
    settings: Settings, engine: Engine, day: date, since: datetime | None, result: DigestResult
) -> None:
    """Write the date's outbox row of every recipient that has none yet, and commit it."""
    empty = 0
    for recipient in settings.digest_to:
        if outbox.has_digest(engine, day.isoformat(), recipient):
            continue
        digest = _build(settings, engine, day, recipient, since)
        row = _outbox_row(settings, digest, recipient)
        if outbox.add_digest(engine, row):
            if row.status == DigestStatus.SKIPPED:
                empty += 1
            else:
                result.queued += 1
    if empty and not result.queued:
        result.skipped = f"digest {day.isoformat()}: nothing new"


def _outbox_row(settings: Settings, digest: Digest, recipient: str) -> DigestOutbox:
    row = DigestOutbox(
        digest_date=digest.day.isoformat(),
        recipient=recipient,
        message_id="",
        subject="",
        message=b"",
        item_ids=digest.item_ids,
        more_count=digest.more_count,
        window_start=digest.window_start,
        created_at=digest.built_at,
    )
    if not digest.items and settings.digest_empty == "skip":
        row.status = DigestStatus.SKIPPED
        return row
    sender = settings.digest_from or ""
    rendered = render_digest(digest, recipient=recipient)
    row.message_id = message_id(digest.day, recipient, sender)
    row.subject = rendered.subject
    message = compose_message(
        rendered,
        sender=sender,
        recipient=recipient,
        msgid=row.message_id,
        when=datetime.now().astimezone(),
    )
    row.message = message.as_bytes()
    return row


def _deliver(settings: Settings, engine: Engine, mailer: Mailer, result: DigestResult) -> None:
    """Send every due outbox row once in this call; failures wait for their backoff."""
    attempted: set[int] = set()
    while (claimed := outbox.claim_next(engine, exclude=attempted, now=utcnow())) is not None:
        attempted.add(claimed.id)
        label = f"digest {claimed.digest_date} to {claimed.recipient}"
        try:
            mailer.send(settings.digest_from or "", [claimed.recipient], claimed.message)
        except MailError as exc:
            status = outbox.record_failure(
                engine,
                claimed.id,
                str(exc),
                retryable=exc.retryable,
                retry_base_seconds=settings.retry_base_seconds,
            )
            result.failed += 1
            result.errors.append(f"{label}: {exc} ({status}, attempt {claimed.attempts})")
            log.warning("%s: %s (%s, attempt %d)", label, exc, status, claimed.attempts)
            continue
        outbox.mark_sent(engine, claimed.id)
        result.sent += 1
        log.info("%s: sent %s", label, claimed.message_id)


def _publish_feed(settings: Settings, engine: Engine, result: DigestResult) -> Path | None:
    if settings.feed_path is None:
        return None
    entries = [
        entry_from_message(row.digest_date, row.message, row.created_at)
        for row in outbox.feed_entries(engine)
    ]
    try:
        write_feed(settings.feed_path, entries, authority=tag_authority(settings.digest_from))
    except OSError as exc:
        result.errors.append(f"feed: cannot write {settings.feed_path}: {exc}")
        return None
    return settings.feed_path
