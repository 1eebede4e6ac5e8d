"""The passage index (FTS5): articles as paragraph-packed windows, kept in step with their text.

`refresh_passages` re-cuts every article whose text changed since its passages were
made (passage_source holds the content hash they came from); it runs after each
processing pass and before `ask` searches, and costs one comparison when nothing
changed. On a database without FTS5 (PostgreSQL) the index is absent and callers
fall back to cutting passages on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from readerd.store.lite import SNIPPET_CLOSE, SNIPPET_OPEN
from readerd.store.search import QueryError, to_fts5
from readerd.text.passages import split_passages

PER_ARTICLE = 1000  # rowid = link_id * PER_ARTICLE + passage number
BATCH = 500


@dataclass(frozen=True)
class PassageHit:
    """A passage that matched: where it stands in its article's text, and a snippet."""

    link_id: int
    start: int
    stop: int
    text: str  # the passage; in search results, its snippet with the matches marked


def has_passage_index(engine: Engine) -> bool:
    if engine.dialect.name != "sqlite":
        return False
    with Session(engine) as session:
        found = session.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'passage_search'")
        ).first()
    return found is not None


def refresh_passages(engine: Engine) -> int:
    """Re-cut the passages of every article whose text changed; how many articles."""
    if not has_passage_index(engine):
        return 0
    stale_query = text(
        "SELECT a.link_id, a.text, a.content_hash FROM article a "
        "LEFT JOIN passage_source p ON p.link_id = a.link_id "
        "WHERE p.content_hash IS NULL OR p.content_hash != a.content_hash LIMIT :n"
    )
    refreshed = 0
    while True:
        with Session(engine) as session:
            stale = session.execute(stale_query, {"n": BATCH}).all()
            if not stale:
                return refreshed
            for link_id, body, content_hash in stale:
                _replace(session, link_id, body, content_hash)
            session.commit()
            refreshed += len(stale)


def _replace(session: Session, link_id: int, body: str, content_hash: str) -> None:
    first = link_id * PER_ARTICLE
    session.execute(
        text("DELETE FROM passage_search WHERE rowid BETWEEN :a AND :b"),
        {"a": first, "b": first + PER_ARTICLE - 1},
    )
    rows = [
        {"rowid": first + n, "text": p.text, "link_id": link_id, "start": p.start, "stop": p.end}
        for n, p in enumerate(split_passages(body)[:PER_ARTICLE])
    ]
    if rows:
        session.execute(
            text(
                "INSERT INTO passage_search (rowid, text, link_id, start, stop) "
                "VALUES (:rowid, :text, :link_id, :start, :stop)"
            ),
            rows,
        )
    session.execute(
        text(
            "INSERT INTO passage_source (link_id, content_hash) VALUES (:id, :hash) "
            "ON CONFLICT (link_id) DO UPDATE SET content_hash = excluded.content_hash"
        ),
        {"id": link_id, "hash": content_hash},
    )


def search_passages(engine: Engine, query: str, limit: int) -> list[PassageHit]:
    """The best passage of each of the `limit` articles whose passages match best (bm25)."""
    match = to_fts5(query)
    if not match:
        return []
    sql = text(
        "SELECT p.link_id, p.start, p.stop, "
        "snippet(passage_search, 0, :open, :close, '…', 24) FROM passage_search p "
        "JOIN link l ON l.id = p.link_id AND l.deleted = 0 "
        "WHERE passage_search MATCH :q ORDER BY bm25(passage_search) LIMIT :n"
    )
    with Session(engine) as session:
        try:
            rows = session.execute(
                sql, {"q": match, "n": limit * 8, "open": SNIPPET_OPEN, "close": SNIPPET_CLOSE}
            ).all()
        except OperationalError as exc:
            raise QueryError(f"cannot read the query ({exc.orig})") from None
    best: dict[int, PassageHit] = {}
    for link_id, start, stop, snippet in rows:
        if link_id not in best:
            best[link_id] = PassageHit(link_id, start, stop, " ".join(snippet.split()))
    return list(best.values())[:limit]


def article_passages(engine: Engine, link_id: int, query: str, limit: int) -> list[PassageHit]:
    """The passages of one article that match the query best, in the article's order."""
    match = to_fts5(query)
    if not match or not has_passage_index(engine):
        return []
    first = link_id * PER_ARTICLE
    sql = text(
        "SELECT link_id, start, stop, text FROM passage_search WHERE passage_search MATCH :q "
        "AND rowid BETWEEN :a AND :b ORDER BY bm25(passage_search) LIMIT :n"
    )
    with Session(engine) as session:
        try:
            rows = session.execute(
                sql, {"q": match, "a": first, "b": first + PER_ARTICLE - 1, "n": limit}
            ).all()
        except OperationalError:
            return []
    hits = [PassageHit(r[0], r[1], r[2], r[3]) for r in rows]
    return sorted(hits, key=lambda hit: hit.start)
