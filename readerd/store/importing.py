"""import_links for big export files: the new links in plain SQL, everything else as before.

sync.import_links spends ≈ 1-2 ms of SQLAlchemy per row (six statements a link), so a
100k-row Pocket export takes minutes. Here the links that are simply new — not in the
library yet, listed once, not deleted, from a source without a write-back ledger — are
inserted with plain SQL (the same rows and source tags sync would store), and every
other row goes through sync's own upsert, in file order and the same transaction: one
commit for the whole file, as before. tests/test_store_import.py compares the two databases.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import groupby

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from readerd.models import Stage, Status, TagOrigin, utcnow
from readerd.results import LinkState, SavedLink
from readerd.store import sync
from readerd.store.writeback import has_ledger

_CHUNK = 500  # source ids per lookup (SQLite allows 32766 variables; keep statements small)
_INSERT = (
    "INSERT INTO link (source, source_id, url, title, state, deleted, added_at, updated_at, "
    "created_at, provided_content, provided_content_type, stage, status, attempts, "
    "last_error, next_attempt_at, processed_at) "
    "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, ?)"
)


def import_links(engine: Engine, links: list[SavedLink]) -> sync.UpsertReport:
    """As sync.import_links (same rows, same report, same order of ids), fast for new links."""
    if engine.dialect.name != "sqlite":
        return sync.import_links(engine, links)
    cleaned = [sync.without_secrets(saved) for saved in links]
    counts = Counter[str]()
    with Session(engine) as session:
        raw = session.connection().connection.driver_connection
        assert raw is not None
        try:
            for simple, run in _runs(session, raw, cleaned):
                if simple:
                    _insert_new(raw, run)
                    counts["new"] += len(run)
                    continue
                report = sync.upsert_links(session, run)
                session.flush()  # its rows land before the next plain INSERTs
                counts.update(
                    new=report.new,
                    updated=report.updated,
                    deleted=report.deleted,
                    unchanged=report.unchanged,
                )
        except sqlite3.Error as exc:  # as the ORM path raises it: a DBAPIError
            raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
        session.commit()
    return sync.UpsertReport(**{k: counts[k] for k in ("new", "updated", "deleted", "unchanged")})


def _runs(
    session: Session, db: sqlite3.Connection, links: list[SavedLink]
) -> Iterator[tuple[bool, list[SavedLink]]]:
    """The links in their order, in runs: (True, simply new ones) or (False, the others)."""
    listed = Counter((saved.source, saved.source_id) for saved in links)
    known = _existing(db, listed)
    ledgers = {
        source: source not in sync._TAGS_APART and has_ledger(session, source)
        for source in {saved.source for saved in links}
    }

    def simple(saved: SavedLink) -> bool:
        key = (saved.source, saved.source_id)
        new = listed[key] == 1 and key not in known and saved.state != LinkState.DELETED
        return new and not ledgers[saved.source]

    for is_simple, run in groupby(links, key=simple):
        yield is_simple, list(run)


def _existing(db: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    by_source: dict[str, list[str]] = {}
    for source, source_id in keys:
        by_source.setdefault(source, []).append(source_id)
    found: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        for first in range(0, len(ids), _CHUNK):
            chunk = ids[first : first + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT source_id FROM link WHERE source = ? AND source_id IN ({marks})"
            found |= {(source, row[0]) for row in db.execute(sql, (source, *chunk))}
    return found


def _stamp(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy stores it in SQLite (its time zone, if any, dropped)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _insert_new(db: sqlite3.Connection, links: list[SavedLink]) -> None:
    """The rows sync's upsert stores for new links (Link defaults + _apply_saved + tags)."""
    now = _stamp(utcnow())
    tag_ids: dict[str, int] = {}  # per run: sync's upsert may drop a tag between runs
    tagged: list[tuple[int, int, str]] = []
    for saved in links:
        failed = bool(saved.problem)
        content = saved.content is not None
        link_id = db.execute(
            _INSERT,
            (
                saved.source,
                saved.source_id,
                saved.url,
                saved.title or None,
                str(saved.state),
                _stamp(saved.added_at),
                _stamp(saved.updated_at),
                now,
                saved.content if content else None,
                saved.content_type if content else None,
                str(Stage.FETCH),
                str(Status.FAILED if failed else Status.PENDING),
                saved.problem if failed else None,
                now if failed else None,
            ),
        ).lastrowid
        assert link_id is not None
        for name in dict.fromkeys(n.strip() for n in saved.tags if n.strip()):
            if name not in tag_ids:
                row = db.execute("SELECT id FROM tag WHERE name = ?", (name,)).fetchone()
                tag_ids[name] = row[0] if row else _new_tag(db, name)
            tagged.append((link_id, tag_ids[name], str(TagOrigin.SOURCE)))
    db.executemany("INSERT INTO link_tag (link_id, tag_id, origin) VALUES (?, ?, ?)", tagged)


def _new_tag(db: sqlite3.Connection, name: str) -> int:
    tag_id = db.execute("INSERT INTO tag (name) VALUES (?)", (name,)).lastrowid
    assert tag_id is not None
    return tag_id
