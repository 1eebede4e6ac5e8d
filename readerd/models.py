"""SQLModel tables. The schema itself is owned by Alembic (migrations/)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


# Times are stored as naive UTC (SQLite has no time zones); utcnow() is the one clock.
def utcnow() -> datetime:
    """Now, as naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Stage(StrEnum):
    """Where a link is on its way through the pipeline."""

    FETCH = "fetch"
    EXTRACT = "extract"
    ANALYZE = "analyze"
    DONE = "done"


class Status(StrEnum):
    PENDING = "pending"  # due for (re)processing at next_attempt_at
    DONE = "done"
    FAILED = "failed"  # gave up: permanent error or attempts exhausted
    UNSUPPORTED = "unsupported"  # content type readerd cannot read


class TagOrigin(StrEnum):
    SOURCE = "source"  # came from the read-later service or export
    AI = "ai"  # chosen by the analyser


class Link(SQLModel, table=True):
    """A saved link: one row per (source, source_id); the row is the work queue."""

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_link_source"),
        Index("ix_link_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    source_id: str
    url: str
    title: str | None = None
    state: str = "unread"
    deleted: bool = False
    added_at: NaiveDatetime | None = None
    updated_at: NaiveDatetime | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    provided_content: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    provided_content_type: str | None = None
    stage: str = Stage.FETCH
    status: str = Status.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: NaiveDatetime | None = None
    processed_at: NaiveDatetime | None = None
    #: the worker that claimed this due link, and until when (store/leases.py)
    lease_owner: str | None = None
    lease_until: NaiveDatetime | None = None


class Article(SQLModel, table=True):
    """Extracted text and metadata of a link's page."""

    link_id: int = Field(primary_key=True, foreign_key="link.id", ondelete="CASCADE")
    final_url: str
    content_type: str
    kind: str = "html"
    title: str | None = None
    author: str | None = None
    published: str | None = None
    site_name: str | None = None
    language: str | None = None
    word_count: int = 0
    text: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str
    extracted_at: NaiveDatetime = Field(default_factory=utcnow)


class Analysis(SQLModel, table=True):
    """The current analysis of a link (re-analysis replaces it)."""

    link_id: int = Field(primary_key=True, foreign_key="link.id", ondelete="CASCADE")
    summary: str = Field(sa_column=Column(Text, nullable=False))
    key_points: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str
    analyzer: str
    model: str
    prompt_version: str
    content_hash: str  # the article text this analysis was made from
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    coverage: float = 1.0
    #: tools the offline analyser stood in for, the model having made no valid call
    fallbacks: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)


class LinkTag(SQLModel, table=True):
    """A tag on a link; `origin` keeps the service's tags apart from the analyser's."""

    __tablename__ = "link_tag"
    __table_args__ = (Index("ix_link_tag_tag", "tag_id", "link_id"),)  # uses per tag

    link_id: int = Field(primary_key=True, foreign_key="link.id", ondelete="CASCADE")
    tag_id: int = Field(primary_key=True, foreign_key="tag.id", ondelete="CASCADE")
    origin: str = Field(default=TagOrigin.AI, primary_key=True)


class TagAlias(SQLModel, table=True):
    """A spelling the analyser proposed (or a merge folded away) and the tag it means.

    store/tagging.py matches new spellings against these, so a typo'd tag never forks again.
    """

    __tablename__ = "tag_alias"

    alias: str = Field(primary_key=True)
    tag_id: int = Field(foreign_key="tag.id", ondelete="CASCADE", index=True)


class PassageSource(SQLModel, table=True):
    """Which text of an article the passage index (passage_search, FTS5) was built from."""

    __tablename__ = "passage_source"

    link_id: int = Field(primary_key=True, foreign_key="link.id", ondelete="CASCADE")
    content_hash: str


class SourceState(SQLModel, table=True):
    """The incremental-sync cursor of one source, and how its last sync went."""

    __tablename__ = "source_state"

    source: str = Field(primary_key=True)
    cursor: str | None = None
    last_sync_at: NaiveDatetime | None = None
    last_result: str | None = None


class LLMCallLog(SQLModel, table=True):
    """Every request made to an LLM endpoint."""

    __tablename__ = "llm_call"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int | None = Field(default=None, foreign_key="link.id", ondelete="SET NULL")
    model: str
    base_url_host: str
    prompt_version: str
    mode: str
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0  # prompt tokens the server reused from its prefix cache
    latency_ms: int = 0
    outcome: str
    error: str | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow, index=True)


class DigestStatus(StrEnum):
    PENDING = "pending"  # to be sent at next_attempt_at (also: a send is in flight)
    SENT = "sent"  # the server answered 250 to DATA
    FAILED = "failed"  # gave up; its items go into the next digest
    SKIPPED = "skipped"  # nothing new that day (READERD_DIGEST_EMPTY=skip)


class DigestOutbox(SQLModel, table=True):
    """One digest e-mail per (date, recipient), written before it is sent: the outbox."""

    __tablename__ = "digest_outbox"
    __table_args__ = (
        UniqueConstraint("digest_date", "recipient", name="uq_digest_date_recipient"),
        Index("ix_digest_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest_date: str  # ISO date (YYYY-MM-DD), local time of the reader
    recipient: str
    message_id: str
    subject: str
    status: str = DigestStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: NaiveDatetime | None = None
    message: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    item_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    more_count: int = 0  # items left for the next digest
    window_start: NaiveDatetime | None = None  # analysed after this; None: no floor
    created_at: NaiveDatetime = Field(default_factory=utcnow)  # also the window's end
    sent_at: NaiveDatetime | None = None


class WritebackState(StrEnum):
    """Where a tag readerd means to write to a source stands (the ledger's `state`)."""

    PENDING = "pending"  # to be added at next_attempt_at
    SENT = "sent"  # sent, the reply not yet recorded (a crash in between: see reconcile)
    ADDED = "added"  # readerd added it, and it was there when last seen
    REMOVE = "remove"  # readerd's, no longer wanted: taken off if still there
    TOMBSTONE = "tombstone"  # the user removed readerd's tag at the source: never re-added
    HUMAN = "human"  # the user has it too (before readerd, or put back): the user's, not ours
    FAILED = "failed"  # gave up after the attempts allowed
    GONE = "gone"  # the remote item no longer exists (404)


class WritebackTag(SQLModel, table=True):
    """The write-back ledger: one tag readerd put (or means to put) on one remote item.

    readerd removes only tags found here in state ADDED/REMOVE; a tag the user removed
    (TOMBSTONE) or has by hand (HUMAN) stays here so that it is never written again.
    """

    __tablename__ = "writeback_tag"
    __table_args__ = (
        UniqueConstraint("source", "remote_id", "tag_key", name="uq_writeback_tag"),
        Index("ix_writeback_due", "source", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    remote_id: str
    link_id: int | None = Field(default=None, foreign_key="link.id", ondelete="SET NULL")
    tag: str  # as the service spells it
    tag_key: str  # the service's matching key (Linkding: case-folded)
    state: str = WritebackState.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: NaiveDatetime | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class WritebackSource(SQLModel, table=True):
    """Write-back per source: paused on 401/403, held back by a Retry-After, last run."""

    __tablename__ = "writeback_source"

    source: str = Field(primary_key=True)
    paused: str | None = None  # why (the server's refusal), until `readerd writeback` runs
    not_before: NaiveDatetime | None = None  # the server's Retry-After
    last_run_at: NaiveDatetime | None = None
    last_result: str | None = None
