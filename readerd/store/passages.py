"""The passage index (FTS5): articles as paragraph-packed windows, kept in step with their text.

`refresh_passages` re-cuts every article whose text changed since its passages were
made (passage_source holds the content hash they came from); it runs after each
processing pass and before `ask` searches, and costs one comparison when nothing
changed. On PostgreSQL the same table holds a `tsvector` per passage (migration
0011), ranked with ts_rank and marked with ts_headline; the query is read alike
(store.search). Without the index (an old schema) callers cut passages on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from readerd.store.lite import SNIPPET_CLOSE, SNIPPET_OPEN
from readerd.store.search import QueryError, to_fts5, to_tsquery
from readerd.store.singleton import take_turns
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


_HAS_INDEX = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE name = 'passage_search'",
    "postgresql": "SELECT to_regclass('passage_search')",
}
_INSERT = {
    "sqlite": "INSERT INTO passage_search (rowid, text, link_id, start, stop) "
    "VALUES (:rowid, :text, :link_id, :start, :stop)",
    "postgresql": "INSERT INTO passage_search (rowid, text, link_id, start, stop, document) "
    "VALUES (:rowid, :text, :link_id, :start, :stop, to_tsvector('readerd', :text))",
}
#: The best-ranked passages, their snippets marked. PostgreSQL ranks a capped set first
#: and marks only those: ts_headline re-parses the text, so it runs on `:n` rows.
_SEARCH = {
    "sqlite": "SELECT p.link_id, p.start, p.stop, "
    "snippet(passage_search, 0, :open, :close, '…', 24) FROM passage_search p "
    "JOIN link l ON l.id = p.link_id AND l.deleted = 0 "
    "WHERE passage_search MATCH :q ORDER BY bm25(passage_search) LIMIT :n",
    "postgresql": "WITH q AS (SELECT to_tsquery('readerd', :q) AS query), "
    "top AS (SELECT p.rowid, ts_rank(p.document, q.query, 1) AS score "
    "FROM passage_search p CROSS JOIN q JOIN link l ON l.id = p.link_id AND NOT l.deleted "
    "WHERE p.document @@ q.query ORDER BY score DESC, p.rowid LIMIT :n) "
    "SELECT p.link_id, p.start, p.stop, ts_headline('readerd', p.text, q.query, :options) "
    "FROM top JOIN passage_search p ON p.rowid = top.rowid CROSS JOIN q "
    "ORDER BY top.score DESC, top.rowid",
}
_IN_ARTICLE = {
    "sqlite": "SELECT link_id, start, stop, text FROM passage_search "
    "WHERE passage_search MATCH :q AND rowid BETWEEN :a AND :b "
    "ORDER BY bm25(passage_search) LIMIT :n",
    "postgresql": "SELECT link_id, start, stop, text FROM passage_search "
    "WHERE document @@ to_tsquery('readerd', :q) AND rowid BETWEEN :a AND :b "
    "ORDER BY ts_rank(document, to_tsquery('readerd', :q), 1) DESC, rowid LIMIT :n",
}
_HEADLINE = (
    f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords=24, MinWords=12, "
    "MaxFragments=2, FragmentDelimiter=…"
)


def has_passage_index(engine: Engine) -> bool:
    probe = _HAS_INDEX.get(engine.dialect.name)
    if probe is None:
        return False
    with Session(engine) as session:
        found = session.execute(text(probe)).scalar()
    return found is not None


def _match(engine: Engine, query: str) -> str:
    """The query in the backend's own syntax ('' when it holds no word)."""
    return to_tsquery(query) if engine.dialect.name == "postgresql" else to_fts5(query)


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
            take_turns(session, "passages")  # several processes may refresh at once
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
        session.execute(text(_INSERT[session.get_bind().dialect.name]), rows)
    session.execute(
        text(
            "INSERT INTO passage_source (link_id, content_hash) VALUES (:id, :hash) "
            "ON CONFLICT (link_id) DO UPDATE SET content_hash = excluded.content_hash"
        ),
        {"id": link_id, "hash": content_hash},
    )


def search_passages(engine: Engine, query: str, limit: int) -> list[PassageHit]:
    """The best passage of each of the `limit` articles whose passages match best (bm25)."""
    match = _match(engine, query)
    if not match or not has_passage_index(engine):
        return []
    params = {
        "q": match,
        "n": limit * 8,
        "open": SNIPPET_OPEN,
        "close": SNIPPET_CLOSE,
        "options": _HEADLINE,
    }
    with Session(engine) as session:
        try:
            rows = session.execute(text(_SEARCH[engine.dialect.name]), params).all()
        except OperationalError as exc:
            raise QueryError(f"cannot read the query ({exc.orig})") from None
    best: dict[int, PassageHit] = {}
    for link_id, start, stop, snippet in rows:
        if link_id not in best:
            best[link_id] = PassageHit(link_id, start, stop, " ".join(snippet.split()))
    return list(best.values())[:limit]


def article_passages(engine: Engine, link_id: int, query: str, limit: int) -> list[PassageHit]:
    """The passages of one article that match the query best, in the article's order."""
    match = _match(engine, query)
    if not match or not has_passage_index(engine):
        return []
    first = link_id * PER_ARTICLE
    params = {"q": match, "a": first, "b": first + PER_ARTICLE - 1, "n": limit}
    with Session(engine) as session:
        try:
            rows = session.execute(text(_IN_ARTICLE[engine.dialect.name]), params).all()
        except OperationalError:
            return []
    hits = [PassageHit(r[0], r[1], r[2], r[3]) for r in rows]
    return sorted(hits, key=lambda hit: hit.start)
