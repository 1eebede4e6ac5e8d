"""The write-back ledger: which tags readerd writes to a source, has written, must never write.

Rows of `writeback_tag` are the queue of the write-back stage (readerd/writeback/) and
its memory. The rules a careful user can trust:

- readerd writes only "good" tags: the analyser's, in the library's vocabulary (on at
  least two links), at most MAX_TAGS per item, spelt the way the service stores them;
- a tag the item already has (the user's) is never written, nor ever removed;
- a tag readerd added and the user removed becomes a TOMBSTONE and is never added again;
- readerd removes only a tag of its own (ADDED) that is still on the item.

The service's spelling and matching come in as `normalise` (Linkding: spaces to
hyphens) and `tag_key` (case-folded: Linkding matches tags ignoring case).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from readerd.models import (
    Link,
    LinkTag,
    Tag,
    TagOrigin,
    WritebackSource,
    WritebackState,
    WritebackTag,
    utcnow,
)
from readerd.store.common import MAX_BACKOFF, MAX_ERROR_CHARS
from readerd.text.times import iso_utc

MAX_TAGS = 5  # readerd's tags per item, at most
MIN_USES = 2  # a tag on fewer links than this is not vocabulary yet
MAX_ATTEMPTS = 6
OURS = (WritebackState.ADDED, WritebackState.REMOVE)  # on the item, and readerd's to take off
ADDING = (WritebackState.PENDING, WritebackState.SENT)
DUE = (*ADDING, WritebackState.REMOVE)

Normalise = Callable[[str], str]


def tag_key(tag: str) -> str:
    """How services match tags: ignoring case (Linkding, Wallabag's slugs, Readeck)."""
    return tag.casefold()


@dataclass
class ItemPlan:
    """What write-back would change on one remote item (the per-item diff)."""

    link_id: int
    remote_id: str
    title: str
    human: list[str]  # the item's own tags, as last synced: never touched
    add: list[str] = field(default_factory=list)  # new to the ledger
    remove: list[str] = field(default_factory=list)  # readerd's, no longer wanted
    queued: list[str] = field(default_factory=list)  # in the ledger already, not yet written
    dropped: list[str] = field(default_factory=list)  # queued, no longer wanted: never sent

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.queued)


@dataclass
class DueItem:
    """One remote item with ledger rows to write now."""

    link_id: int | None
    remote_id: str
    synced_modified: datetime | None  # the item's modification time as last synced
    add: list[str]
    remove: list[str]


# --- what the sync sees ---------------------------------------------------------------


def reconcile(
    session: Session, source: str, remote_id: str, remote_tags: Iterable[str]
) -> list[str]:
    """Bring the ledger up to date with the item's tags as the source lists them.

    Returns the user's tags: the listed ones that are not readerd's. A tag of readerd's
    that is missing was removed by the user (TOMBSTONE, or done when it was to go
    anyway); one readerd meant to add, or had lost, that is there now is the user's.
    """
    listed = {tag_key(tag): tag for tag in remote_tags}
    rows = session.exec(
        select(WritebackTag).where(
            WritebackTag.source == source, WritebackTag.remote_id == remote_id
        )
    ).all()
    ours: set[str] = set()
    for row in rows:
        present = row.tag_key in listed
        new_state = row.state
        if row.state == WritebackState.ADDED and not present:
            new_state = WritebackState.TOMBSTONE
        elif row.state == WritebackState.SENT:
            # readerd sent it and stopped before recording the reply: there, it is readerd's
            new_state = WritebackState.ADDED if present else WritebackState.PENDING
        elif row.state == WritebackState.REMOVE and not present:
            session.delete(row)
            continue
        elif present and row.state in (
            WritebackState.PENDING,
            WritebackState.TOMBSTONE,
            WritebackState.FAILED,
        ):
            new_state = WritebackState.HUMAN
        if new_state != row.state:
            row.state, row.updated_at = new_state, utcnow()
            row.next_attempt_at, row.last_error = None, None
            session.add(row)
        if row.state in OURS and present:
            ours.add(row.tag_key)
    return [tag for key, tag in listed.items() if key not in ours]


def has_ledger(session: Session, source: str) -> bool:
    """Whether readerd ever planned a tag for this source (sync asks before reconciling)."""
    found = session.exec(select(WritebackTag.id).where(WritebackTag.source == source)).first()
    return found is not None


# --- planning ---------------------------------------------------------------------------


def plan(
    engine: Engine, source: str, normalise: Normalise, *, limit: int = MAX_TAGS
) -> list[ItemPlan]:
    """The per-item diff of the next write-back to `source`; reads only, writes nothing."""
    with Session(engine) as session:
        uses = _tag_uses(session)
        links = session.exec(
            select(Link)
            .where(Link.source == source, col(Link.deleted).is_(False))
            .order_by(col(Link.id))
        ).all()
        tags = _tags_by_link(session, [link.id or 0 for link in links])
        ledger = _ledger(session, source)
    plans = []
    for link in links:
        link_tags = tags.get(link.id or 0, {})
        rows = ledger.get(link.source_id, {})
        item = _plan_item(link, link_tags, rows, uses, normalise, limit)
        if not item.empty or item.dropped:
            plans.append(item)
    return plans


def _plan_item(
    link: Link,
    link_tags: dict[str, list[str]],
    rows: dict[str, WritebackTag],
    uses: dict[str, int],
    normalise: Normalise,
    limit: int,
) -> ItemPlan:
    human = link_tags.get(TagOrigin.SOURCE, [])
    ai = link_tags.get(TagOrigin.AI, [])
    item = ItemPlan(link.id or 0, link.source_id, link.title or link.url, sorted(human))
    wanted_keys = {tag_key(normalise(name)) for name in ai}
    taken = {tag_key(normalise(name)) for name in human} | set(rows)
    kept = 0  # readerd's tags on the item (or on their way) that stay
    for key, row in rows.items():
        wanted = key in wanted_keys
        if row.state == WritebackState.ADDED:
            if wanted:
                kept += 1
            else:
                item.remove.append(row.tag)
        elif row.state in ADDING:
            (item.queued if wanted else item.dropped).append(row.tag)
            kept += wanted
    room = limit - kept
    good = [name for name in ai if uses.get(name, 0) >= MIN_USES]
    for name in sorted(good, key=lambda n: (-uses[n], n)):
        spelt = normalise(name)
        key = tag_key(spelt)
        if room <= 0:
            break
        if not spelt or key in taken:
            continue
        item.add.append(spelt)
        taken.add(key)
        room -= 1
    return item


def queue(engine: Engine, source: str, plans: list[ItemPlan]) -> None:
    """Put the plans into the ledger: new tags PENDING, unwanted ones of readerd's to REMOVE."""
    now = utcnow()
    with Session(engine) as session:
        for item in plans:
            rows = {
                row.tag_key: row
                for row in session.exec(
                    select(WritebackTag).where(
                        WritebackTag.source == source, WritebackTag.remote_id == item.remote_id
                    )
                )
            }
            for tag in item.add:
                if tag_key(tag) not in rows:
                    session.add(
                        WritebackTag(
                            source=source,
                            remote_id=item.remote_id,
                            link_id=item.link_id,
                            tag=tag,
                            tag_key=tag_key(tag),
                        )
                    )
            for tag in item.remove:
                row = rows.get(tag_key(tag))
                if row is not None and row.state == WritebackState.ADDED:
                    row.state, row.updated_at, row.attempts = WritebackState.REMOVE, now, 0
                    session.add(row)
            for tag in item.dropped:
                row = rows.get(tag_key(tag))
                if row is not None and row.state in ADDING:
                    session.delete(row)
        session.commit()


def due(engine: Engine, source: str, now: datetime | None = None) -> list[DueItem]:
    """The remote items with tags to add or remove now, in the order they were queued."""
    now = now or utcnow()
    with Session(engine) as session:
        rows = session.exec(
            select(WritebackTag)
            .where(WritebackTag.source == source, col(WritebackTag.state).in_(DUE))
            .where(
                col(WritebackTag.next_attempt_at).is_(None)
                | (col(WritebackTag.next_attempt_at) <= now)
            )
            .order_by(col(WritebackTag.id))
        ).all()
        items: dict[str, DueItem] = {}
        for row in rows:
            item = items.get(row.remote_id)
            if item is None:
                link = session.exec(
                    select(Link).where(Link.source == source, Link.source_id == row.remote_id)
                ).first()
                item = DueItem(
                    link.id if link else None,
                    row.remote_id,
                    link.updated_at if link else None,
                    [],
                    [],
                )
                items[row.remote_id] = item
            (item.add if row.state in ADDING else item.remove).append(row.tag)
    return list(items.values())


def refresh(
    engine: Engine, source: str, remote_id: str, tags: list[str], human: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """Reconcile with the item as fetched just now; what is left to (add, remove).

    `human`: tags the service marks as the user's (Karakeep's attachedBy): never readerd's.
    """
    theirs = {tag_key(tag) for tag in human}
    with Session(engine) as session:
        reconcile(session, source, remote_id, tags)
        for row in _rows(session, source, remote_id, (*OURS, *ADDING)):
            if row.tag_key in theirs:
                row.state, row.updated_at, row.next_attempt_at = (
                    WritebackState.HUMAN,
                    utcnow(),
                    None,
                )
                session.add(row)
        session.commit()
        rows = _rows(session, source, remote_id, DUE)
        add = [row.tag for row in rows if row.state in ADDING]
        remove = [row.tag for row in rows if row.state == WritebackState.REMOVE]
    return add, remove


# --- what came of a write -----------------------------------------------------------------


def record_written(
    engine: Engine, source: str, remote_id: str, tags: list[str], modified: datetime | None
) -> tuple[int, int]:
    """The item now carries `tags` (the server's reply): (tags added, tags removed).

    The link's synced modification time becomes the reply's, so the next sync sees no
    change of the user's in readerd's own write.
    """
    listed = {tag_key(tag): tag for tag in tags}
    added = removed = 0
    now = utcnow()
    with Session(engine) as session:
        for row in _rows(session, source, remote_id, DUE):
            present = row.tag_key in listed
            if row.state in ADDING and present:
                row.state, row.tag = WritebackState.ADDED, listed[row.tag_key]  # its spelling
                row.attempts, row.last_error, row.next_attempt_at = 0, None, None
                row.updated_at = now
                session.add(row)
                added += 1
            elif row.state == WritebackState.REMOVE and not present:
                session.delete(row)
                removed += 1
            else:  # the service answered but did not take it: an attempt that failed
                if row.state == WritebackState.SENT:
                    row.state = WritebackState.PENDING
                _failed(row, f"{source}: the reply does not show the change", now)
                session.add(row)
        link = session.exec(
            select(Link).where(Link.source == source, Link.source_id == remote_id)
        ).first()
        if link is not None and modified is not None:
            link.updated_at = modified
            session.add(link)
        session.commit()
    return added, removed


def record_failure(
    engine: Engine, source: str, remote_id: str, message: str, *, final: bool = False
) -> None:
    """A write that failed: its rows wait (backoff doubling), or FAILED when final/exhausted."""
    now = utcnow()
    with Session(engine) as session:
        for row in _rows(session, source, remote_id, DUE):
            # A SENT row stays SENT: one of several requests (Wallabag: add, then remove)
            # may have gone through; the next look at the item settles it (see reconcile).
            _failed(row, message, now, final=final)
            session.add(row)
        session.commit()


def mark_sent(engine: Engine, source: str, remote_id: str) -> None:
    """Committed just before the write goes out: a crash before the reply is recorded
    leaves SENT rows, which the next look at the item settles (see reconcile)."""
    with Session(engine) as session:
        for row in _rows(session, source, remote_id, (WritebackState.PENDING,)):
            row.state, row.updated_at = WritebackState.SENT, utcnow()
            session.add(row)
        session.commit()


def _failed(row: WritebackTag, message: str, now: datetime, *, final: bool = False) -> None:
    """Count a failed attempt: wait (backoff doubling from 1 min), or FAILED at the end."""
    row.attempts += 1
    row.last_error = message[:MAX_ERROR_CHARS]
    row.updated_at = now
    if final or row.attempts >= MAX_ATTEMPTS:
        row.state, row.next_attempt_at = WritebackState.FAILED, None
    else:
        row.next_attempt_at = now + min(timedelta(minutes=2 ** (row.attempts - 1)), MAX_BACKOFF)


def record_gone(engine: Engine, source: str, remote_id: str) -> None:
    """The item is gone at the source (404): nothing is written to it any more."""
    with Session(engine) as session:
        for row in _rows(session, source, remote_id, DUE):
            row.state, row.updated_at, row.next_attempt_at = WritebackState.GONE, utcnow(), None
            row.last_error = "the item no longer exists at the source (404)"
            session.add(row)
        session.commit()


def record_note(engine: Engine, source: str, remote_id: str, message: str) -> None:
    """Say why an item waits for the next cycle, without counting a failed attempt."""
    with Session(engine) as session:
        for row in _rows(session, source, remote_id, DUE):
            row.last_error, row.updated_at = message[:MAX_ERROR_CHARS], utcnow()
            session.add(row)
        session.commit()


# --- per source: paused, held back --------------------------------------------------------


def source_state(engine: Engine, source: str) -> WritebackSource:
    with Session(engine) as session:
        state = session.get(WritebackSource, source)
        return state if state is not None else WritebackSource(source=source)


def set_source_state(
    engine: Engine,
    source: str,
    *,
    paused: str | None = None,
    not_before: datetime | None = None,
    result: str | None = None,
) -> None:
    """Record a run's outcome: the pause reason and Retry-After are replaced, not merged."""
    with Session(engine) as session:
        state = session.get(WritebackSource, source) or WritebackSource(source=source)
        state.paused = paused[:MAX_ERROR_CHARS] if paused else None
        state.not_before = not_before
        state.last_run_at = utcnow()
        if result is not None:
            state.last_result = result[:MAX_ERROR_CHARS]
        session.add(state)
        session.commit()


def counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Ledger rows per source and state (status, doctor)."""
    with Session(engine) as session:
        rows = session.exec(
            select(WritebackTag.source, WritebackTag.state, func.count()).group_by(
                col(WritebackTag.source), col(WritebackTag.state)
            )
        ).all()
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for source, state, n in rows:
        found[source][state] = int(n)
    return dict(found)


# --- helpers ------------------------------------------------------------------------------


def _rows(
    session: Session, source: str, remote_id: str, states: tuple[str, ...]
) -> list[WritebackTag]:
    return list(
        session.exec(
            select(WritebackTag).where(
                WritebackTag.source == source,
                WritebackTag.remote_id == remote_id,
                col(WritebackTag.state).in_(states),
            )
        )
    )


def _ledger(session: Session, source: str) -> dict[str, dict[str, WritebackTag]]:
    found: dict[str, dict[str, WritebackTag]] = defaultdict(dict)
    for row in session.exec(select(WritebackTag).where(WritebackTag.source == source)):
        found[row.remote_id][row.tag_key] = row
    return found


def _tag_uses(session: Session) -> dict[str, int]:
    """How many (not deleted) links carry each tag, by either origin."""
    rows = session.exec(
        select(Tag.name, func.count(func.distinct(LinkTag.link_id)))
        .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
        .join(Link, col(Link.id) == col(LinkTag.link_id))
        .where(col(Link.deleted).is_(False))
        .group_by(col(Tag.name))
    ).all()
    return {name: int(n) for name, n in rows}


def _tags_by_link(session: Session, ids: list[int]) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = session.exec(
        select(LinkTag.link_id, LinkTag.origin, Tag.name)
        .join(Tag, col(Tag.id) == col(LinkTag.tag_id))
        .where(col(LinkTag.link_id).in_(ids))
    ).all()
    for link_id, origin, name in rows:
        found[link_id][origin].append(name)
    return found


# --- archiving, on the user's request -----------------------------------------------------


def archive_target(engine: Engine, link_id: int) -> tuple[str, str, str] | None:
    """(source, remote id, title) of a link that is not deleted; None if there is none."""
    with Session(engine) as session:
        link = session.get(Link, link_id)
        if link is None or link.deleted:
            return None
        return link.source, link.source_id, link.title or link.url


def mark_archived(engine: Engine, link_id: int) -> None:
    """The source archived it at readerd's request: the library says so too."""
    with Session(engine) as session:
        link = session.get(Link, link_id)
        if link is not None:
            link.state = "archived"  # LinkState.ARCHIVED
            session.add(link)
            session.commit()


def status(engine: Engine) -> list[dict[str, object]]:
    """Write-back per source: tags pending, done, failed (and the rest), paused, held back."""
    found = counts(engine)
    with Session(engine) as session:
        states = {s.source: s for s in session.exec(select(WritebackSource))}
        errors = dict(
            session.exec(
                select(WritebackTag.source, WritebackTag.last_error)
                .where(col(WritebackTag.last_error).is_not(None))
                .order_by(col(WritebackTag.updated_at))  # the latest wins
            ).all()
        )
    rows: list[dict[str, object]] = []
    for source in sorted(set(found) | set(states)):
        by = found.get(source, {})
        state = states.get(source)
        rows.append(
            {
                "source": source,
                "pending": sum(by.get(s, 0) for s in DUE),
                "done": by.get(WritebackState.ADDED, 0),
                "failed": by.get(WritebackState.FAILED, 0),
                "tombstones": by.get(WritebackState.TOMBSTONE, 0),
                "human": by.get(WritebackState.HUMAN, 0),
                "gone": by.get(WritebackState.GONE, 0),
                "paused": state.paused if state else None,
                "not_before": iso_utc(state.not_before) if state else None,
                "last_run_at": iso_utc(state.last_run_at) if state else None,
                "last_result": state.last_result if state else None,
                "last_error": errors.get(source),
            }
        )
    return rows
