"""The digest's own store: the outbox table, written before anything is sent.

One row per (digest date, recipient). A row is committed before the first SMTP
connection, holds the exact message bytes (so a retry sends the same Message-ID,
Date and content), and becomes `sent` only after the server answered 250 to DATA.
Each attempt first *claims* its row in a write transaction (attempts + 1 and a
lease): a crash mid-send leaves the row pending, and it is sent again when the
lease ends. The one duplicate window left is a crash between the server's 250 and
our commit of `sent`; the stable Message-ID lets mail clients fold that duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from readerd.models import DigestOutbox, DigestStatus, utcnow
from readerd.results import DigestRow
from readerd.store.common import MAX_ERROR_CHARS
from readerd.text.times import iso_utc as iso

MAX_ATTEMPTS = 8
#: A digest is due daily: its backoff stops at 6 hours, not the links' day (store.common).
DIGEST_MAX_BACKOFF = timedelta(hours=6)
LEASE = timedelta(minutes=10)  # a claimed row whose sender died becomes due again after this


@dataclass(frozen=True)
class OutboxMessage:
    """A claimed outbox row, detached from its session."""

    id: int
    digest_date: str
    recipient: str
    message_id: str
    message: bytes
    attempts: int


def add_digest(engine: Engine, row: DigestOutbox) -> bool:
    """Insert the row unless its (date, recipient) already has one; True when inserted."""
    with Session(engine, expire_on_commit=False) as session:
        if _find(session, row.digest_date, row.recipient) is not None:
            return False
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another process inserted it first
            session.rollback()
            return False
    return True


def claim_next(
    engine: Engine, *, exclude: set[int], now: datetime | None = None
) -> OutboxMessage | None:
    """Take the oldest due pending row for one attempt: count it and lease it."""
    now = now or utcnow()
    with Session(engine) as session:
        query = (
            select(DigestOutbox)
            .where(DigestOutbox.status == DigestStatus.PENDING)
            .where(
                or_(
                    col(DigestOutbox.next_attempt_at).is_(None),
                    col(DigestOutbox.next_attempt_at) <= now,
                )
            )
            .order_by(col(DigestOutbox.digest_date), col(DigestOutbox.id))
        )
        if exclude:
            query = query.where(col(DigestOutbox.id).not_in(exclude))
        row = session.exec(query.limit(1)).first()
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        session.add(row)
        session.commit()
        return OutboxMessage(
            row.id or 0, row.digest_date, row.recipient, row.message_id, row.message, row.attempts
        )


def mark_sent(engine: Engine, row_id: int) -> None:
    """Record that the server accepted the message (250 to DATA)."""
    with Session(engine) as session:
        row = _get(session, row_id)
        row.status, row.sent_at = DigestStatus.SENT, utcnow()
        row.next_attempt_at, row.last_error = None, None
        session.add(row)
        session.commit()


def record_failure(
    engine: Engine, row_id: int, error: str, *, retryable: bool, retry_base_seconds: float
) -> str:
    """Schedule a retry with exponential backoff, or give up; returns the new status."""
    with Session(engine) as session:
        row = _get(session, row_id)
        row.last_error = error[:MAX_ERROR_CHARS]
        if retryable and row.attempts < MAX_ATTEMPTS:
            delay = timedelta(seconds=retry_base_seconds * 2 ** (row.attempts - 1))
            row.next_attempt_at = utcnow() + min(delay, DIGEST_MAX_BACKOFF)
        else:
            row.status, row.next_attempt_at = DigestStatus.FAILED, None
        session.add(row)
        session.commit()
        return row.status


def requeue(engine: Engine, digest_date: str) -> int:
    """Make the date's pending or failed rows due now, and forget a skipped day.

    For an explicit `readerd digest --send`: a skipped day gets built again.
    """
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(DigestOutbox)
                .where(DigestOutbox.digest_date == digest_date)
                .where(col(DigestOutbox.status) != DigestStatus.SENT)
            )
        )
        for row in rows:
            if row.status == DigestStatus.SKIPPED:
                session.delete(row)
                continue
            if row.status == DigestStatus.FAILED:
                row.attempts = 0  # a fresh budget of attempts
            row.status, row.next_attempt_at = DigestStatus.PENDING, None
            session.add(row)
        session.commit()
        return len(rows)


# --- reads ----------------------------------------------------------------------


def has_digest(engine: Engine, digest_date: str, recipient: str) -> bool:
    """Whether the outbox already holds this date's digest for this recipient."""
    with Session(engine) as session:
        return _find(session, digest_date, recipient) is not None


def digested_link_ids(engine: Engine, recipient: str) -> set[int]:
    """Links already in a sent or pending digest to this recipient (never shown twice)."""
    with Session(engine) as session:
        rows = session.exec(
            select(DigestOutbox.item_ids)
            .where(DigestOutbox.recipient == recipient)
            .where(col(DigestOutbox.status).in_([DigestStatus.PENDING, DigestStatus.SENT]))
        )
        return {int(i) for ids in rows for i in ids}


def last_digest_at(engine: Engine, recipient: str) -> datetime | None:
    """When the recipient's latest digest that was not given up on was built."""
    with Session(engine) as session:
        return session.exec(
            select(DigestOutbox.created_at)
            .where(DigestOutbox.recipient == recipient)
            .where(DigestOutbox.status != DigestStatus.FAILED)
            .order_by(col(DigestOutbox.created_at).desc())
            .limit(1)
        ).first()


def list_digests(engine: Engine, limit: int = 30) -> list[DigestRow]:
    """Past digests, newest first, without their message bytes."""
    with Session(engine) as session:
        rows = session.exec(
            select(DigestOutbox)
            .order_by(col(DigestOutbox.digest_date).desc(), col(DigestOutbox.recipient))
            .limit(limit)
        )
        return [_summary(row) for row in rows]


def digests_of_day(engine: Engine, digest_date: str) -> list[tuple[DigestRow, list[int]]]:
    """The date's digests, one per recipient, each with the ids of the links it holds."""
    with Session(engine) as session:
        rows = session.exec(
            select(DigestOutbox)
            .where(DigestOutbox.digest_date == digest_date)
            .order_by(col(DigestOutbox.recipient))
        )
        return [(_summary(row), [int(i) for i in row.item_ids]) for row in rows]


def feed_entries(engine: Engine, limit: int = 30) -> list[DigestOutbox]:
    """One sent or pending digest per date (the first recipient's), newest first."""
    shown = col(DigestOutbox.status).in_([DigestStatus.PENDING, DigestStatus.SENT])
    with Session(engine) as session:
        dates = list(
            session.exec(
                select(DigestOutbox.digest_date)
                .where(shown)
                .distinct()
                .order_by(col(DigestOutbox.digest_date).desc())
                .limit(limit)
            )
        )
        rows = session.exec(
            select(DigestOutbox)
            .where(shown, col(DigestOutbox.digest_date).in_(dates))
            .order_by(col(DigestOutbox.digest_date).desc(), col(DigestOutbox.recipient))
        )
        by_date: dict[str, DigestOutbox] = {}
        for row in rows:
            by_date.setdefault(row.digest_date, row)
        session.expunge_all()
        return list(by_date.values())


def _summary(row: DigestOutbox) -> DigestRow:
    return {
        "date": row.digest_date,
        "recipient": row.recipient,
        "status": row.status,
        "items": len(row.item_ids),
        "more": row.more_count,
        "subject": row.subject,
        "message_id": row.message_id,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
        "next_attempt_at": iso(row.next_attempt_at),
    }


def _find(session: Session, digest_date: str, recipient: str) -> DigestOutbox | None:
    return session.exec(
        select(DigestOutbox).where(
            DigestOutbox.digest_date == digest_date, DigestOutbox.recipient == recipient
        )
    ).first()


def _get(session: Session, row_id: int) -> DigestOutbox:
    row = session.get(DigestOutbox, row_id)
    if row is None:
        raise LookupError(f"digest: no outbox row with id {row_id}")
    return row
