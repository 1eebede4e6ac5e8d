"""Read-only queries over the library: what the CLI and the digest show."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, func, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from readerd.models import Analysis, Article, Link, LinkTag, SourceState, Status, Tag, utcnow
from readerd.results import LibraryStats, LinkView, SourceCursor, TagCount
from readerd.store.lite import SNIPPET_CLOSE, SNIPPET_OPEN, link_view
from readerd.store.lite import iso as _iso
from readerd.store.search import QueryError, to_fts5, to_tsquery


def _tags_by_link(session: Session, link_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    rows = session.exec(
        select(LinkTag.link_id, LinkTag.origin, Tag.name)
        .join(Tag, col(Tag.id) == col(LinkTag.tag_id))
        .where(col(LinkTag.link_id).in_(link_ids))
        .order_by(col(Tag.name))
    ).all()
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"ai": [], "source": []})
    for link_id, origin, name in rows:
        found[link_id][origin].append(name)
    return found


def _views(session: Session, links: list[Link], *, full: bool = False) -> list[LinkView]:
    ids = [link.id or 0 for link in links]
    tags = _tags_by_link(session, ids)
    query = select(Article).where(col(Article.link_id).in_(ids))
    if not full:  # a list shows no text: a page of results would read megabytes for nothing
        query = query.options(defer(Article.text))  # type: ignore[arg-type]  # a Mapped column
    articles = {a.link_id: a for a in session.exec(query)}
    analyses = {
        a.link_id: a for a in session.exec(select(Analysis).where(col(Analysis.link_id).in_(ids)))
    }
    empty: dict[str, list[str]] = {"ai": [], "source": []}
    return [
        link_view(
            link,
            articles.get(link.id or 0),
            analyses.get(link.id or 0),
            tags.get(link.id or 0, empty),
            full=full,
        )
        for link in links
    ]


def list_links(
    engine: Engine,
    *,
    status: str | None = None,
    tag: str | None = None,
    limit: int = 50,
    include_deleted: bool = False,
    ids: list[int] | None = None,
) -> list[LinkView]:
    """Links, newest first, optionally filtered by status (LIST_STATUSES), tag or ids.

    "retry" is a pending link that failed before (the table shows `retry (n)`);
    "deleted" lists the links the source deleted.
    """
    query = select(Link).order_by(col(Link.id).desc()).limit(limit)
    if ids is not None:
        query = query.where(col(Link.id).in_(ids))
    if status == "deleted":
        query, include_deleted = query.where(col(Link.deleted).is_(True)), True
    elif status == "retry":
        query = query.where(Link.status == Status.PENDING, col(Link.attempts) > 0)
    elif status:
        query = query.where(Link.status == status)
    if not include_deleted:
        query = query.where(col(Link.deleted).is_(False))
    if tag:
        query = query.where(
            col(Link.id).in_(
                select(LinkTag.link_id)
                .join(Tag, col(Tag.id) == col(LinkTag.tag_id))
                .where(Tag.name == tag)
            )
        )
    with Session(engine) as session:
        return _views(session, list(session.exec(query)))


def get_link(engine: Engine, link_id: int) -> LinkView | None:
    """Everything known about one link, including its text and analysis record."""
    with Session(engine) as session:
        link = session.get(Link, link_id)
        return _views(session, [link], full=True)[0] if link else None


def search(engine: Engine, user_query: str, limit: int = 20) -> list[LinkView]:
    """Full-text search over title, summary, tags and text, best match first.

    Each row gains `snippet`: the best-matching passage, matched words in [brackets].
    A query the search box cannot read raises QueryError (a one-line hint).
    """
    if engine.dialect.name == "postgresql":
        return _search_postgres(engine, user_query, limit)
    match = to_fts5(user_query)
    if not match:
        return []
    with Session(engine) as session:
        try:
            found = session.execute(
                text(
                    "SELECT rowid, snippet(link_search, -1, :open, :close, '…', 16) "
                    "FROM link_search WHERE link_search MATCH :q "
                    "ORDER BY bm25(link_search, 10.0, 5.0, 5.0, 1.0) LIMIT :n"
                ),
                {"q": match, "n": limit, "open": SNIPPET_OPEN, "close": SNIPPET_CLOSE},
            ).all()
        except OperationalError as exc:
            raise QueryError(f"cannot read the query ({exc.orig})") from None
        snippets = {row[0]: " ".join(str(row[1] or "").split()) for row in found}
        ids = [row[0] for row in found]
        links = {link.id: link for link in session.exec(select(Link).where(col(Link.id).in_(ids)))}
        ordered = [links[i] for i in ids if i in links and not links[i].deleted]
        views = _views(session, ordered)
    for view in views:
        view["snippet"] = snippets.get(view["id"], "")
    return views


#: Ranks on PostgreSQL: weights of {D text, C tags, B summary, A title} as FTS5's bm25
#: (1, 5, 5, 10); normalisation 1 divides by 1 + log(length), as bm25 favours short texts.
_POSTGRES_SEARCH = (
    "WITH q AS (SELECT to_tsquery('readerd', :q) AS query), "
    "top AS (SELECT s.link_id, ts_rank('{0.1, 0.5, 0.5, 1.0}', s.document, q.query, 1) AS score "
    "FROM link_search s, q WHERE s.document @@ q.query "
    "ORDER BY score DESC, s.link_id LIMIT :n) "
    "SELECT top.link_id, ts_headline('readerd', concat_ws(' … ', l.title, a.title, n.summary, "
    "left(a.text, 20000)), q.query, :options) "
    "FROM top CROSS JOIN q JOIN link l ON l.id = top.link_id "
    "LEFT JOIN article a ON a.link_id = top.link_id "
    "LEFT JOIN analysis n ON n.link_id = top.link_id ORDER BY top.score DESC, top.link_id"
)
_HEADLINE = (
    f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords=16, MinWords=8, "
    "MaxFragments=1, FragmentDelimiter=…"
)


def _search_postgres(engine: Engine, user_query: str, limit: int) -> list[LinkView]:
    """search() on PostgreSQL: the same query reading, tsvector ranks, ts_headline snippets."""
    match = to_tsquery(user_query)
    if not match:
        return []
    with Session(engine) as session:
        found = session.execute(
            text(_POSTGRES_SEARCH), {"q": match, "n": limit, "options": _HEADLINE}
        ).all()
        snippets = {row[0]: " ".join(str(row[1] or "").split()) for row in found}
        ids = [row[0] for row in found]
        links = {link.id: link for link in session.exec(select(Link).where(col(Link.id).in_(ids)))}
        views = _views(session, [links[i] for i in ids if i in links and not links[i].deleted])
    for view in views:
        view["snippet"] = snippets.get(view["id"], "")
    return views


def library_is_empty(engine: Engine) -> bool:
    """True when no (not deleted) link is stored at all."""
    with Session(engine) as session:
        return session.exec(select(Link.id).where(col(Link.deleted).is_(False))).first() is None


def count_due(engine: Engine) -> int:
    """How many links are waiting to be processed now."""
    now = utcnow()
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .where(Link.status == Status.PENDING, col(Link.deleted).is_(False))
            .where((col(Link.next_attempt_at).is_(None)) | (col(Link.next_attempt_at) <= now))
        ).one()


def tag_counts(engine: Engine) -> list[TagCount]:
    """Every tag with how many links carry it, and how many of those by each origin."""
    with Session(engine) as session:
        rows = session.exec(
            select(Tag.name, LinkTag.origin, LinkTag.link_id)
            .join(LinkTag, col(LinkTag.tag_id) == col(Tag.id))
            .join(Link, col(Link.id) == col(LinkTag.link_id))
            .where(col(Link.deleted).is_(False))
        ).all()
    links: dict[str, dict[str, set[int]]] = defaultdict(lambda: {"ai": set(), "source": set()})
    for name, origin, link_id in rows:
        links[name][origin].add(link_id)
    result: list[TagCount] = [
        {
            "tag": name,
            "count": len(by["ai"] | by["source"]),  # a link tagged by both counts once
            "ai": len(by["ai"]),
            "source": len(by["source"]),
        }
        for name, by in links.items()
    ]
    return sorted(result, key=lambda r: (-r["count"], r["tag"]))


def stats(engine: Engine) -> LibraryStats:
    """Counts per status and stage, languages, words, LLM usage and source cursors."""
    with Session(engine) as session:
        by_status = dict(
            session.exec(
                select(Link.status, func.count())
                .where(col(Link.deleted).is_(False))
                .group_by(col(Link.status))
            ).all()
        )
        by_stage = dict(
            session.exec(
                select(Link.stage, func.count())
                .where(col(Link.deleted).is_(False))
                .group_by(col(Link.stage))
            ).all()
        )
        languages = dict(
            session.exec(
                select(Article.language, func.count()).group_by(col(Article.language))
            ).all()
        )
        deleted = session.exec(select(func.count()).where(col(Link.deleted).is_(True))).one()
        words = session.exec(select(func.coalesce(func.sum(Article.word_count), 0))).one()
        tokens = session.exec(
            select(
                func.coalesce(func.sum(Analysis.tokens_in), 0),
                func.coalesce(func.sum(Analysis.tokens_out), 0),
            )
        ).one()
        sources = [
            SourceCursor(
                source=s.source,
                cursor=s.cursor,
                last_sync_at=_iso(s.last_sync_at),
                last_result=s.last_result,
            )
            for s in session.exec(select(SourceState))
        ]
    return LibraryStats(
        links=sum(by_status.values()),
        by_status=by_status,
        by_stage=by_stage,
        deleted=deleted,
        languages={k or "unknown": v for k, v in languages.items()},
        words=words,
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        sources=sources,
    )


# --- digest (readerd/digest/) ------------------------------------------------


def analysed_link_ids(engine: Engine, *, since: datetime | None, until: datetime) -> list[int]:
    """Done, not deleted links analysed in (since, until], oldest analysis first."""
    query = (
        select(Link.id)
        .join(Analysis, col(Analysis.link_id) == col(Link.id))
        .where(Link.status == Status.DONE, col(Link.deleted).is_(False))
        .where(col(Analysis.created_at) <= until)
        .order_by(col(Analysis.created_at), col(Link.id))
    )
    if since is not None:
        query = query.where(col(Analysis.created_at) > since)
    with Session(engine) as session:
        return [link_id for link_id in session.exec(query) if link_id is not None]


def link_views(engine: Engine, ids: list[int]) -> list[LinkView]:
    """The view dicts of these links, in the order given (unknown ids are left out)."""
    with Session(engine) as session:
        links = {link.id: link for link in session.exec(select(Link).where(col(Link.id).in_(ids)))}
        return _views(session, [links[i] for i in ids if i in links])


def failed_links(
    engine: Engine, *, since: datetime | None, until: datetime, limit: int = 50
) -> list[LinkView]:
    """Links that failed or proved unsupported in (since, until], newest first."""
    query = (
        select(Link)
        .where(col(Link.status).in_([Status.FAILED, Status.UNSUPPORTED]))
        .where(col(Link.deleted).is_(False), col(Link.processed_at) <= until)
        .order_by(col(Link.processed_at).desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(col(Link.processed_at) > since)
    with Session(engine) as session:
        return _views(session, list(session.exec(query)))


def llm_tokens(engine: Engine, *, since: datetime, until: datetime) -> tuple[int, int]:
    """(tokens in, tokens out) of every LLM call logged in (since, until]."""
    from readerd.models import LLMCallLog

    with Session(engine) as session:
        row = session.exec(
            select(
                func.coalesce(func.sum(LLMCallLog.tokens_in), 0),
                func.coalesce(func.sum(LLMCallLog.tokens_out), 0),
            ).where(col(LLMCallLog.created_at) > since, col(LLMCallLog.created_at) <= until)
        ).one()
    return int(row[0]), int(row[1])


# --- reprocess (readerd/commands/llm.py) ---------------------------------------


def reprocess_candidates(
    engine: Engine,
    *,
    model: str | None = None,
    prompt_version: str | None = None,
    tag: str | None = None,
    since: datetime | None = None,
) -> list[int]:
    """Analysed, not deleted links matching every given filter (of their current analysis)."""
    from readerd.text.tags import tag_key

    query = (
        select(Link.id)
        .join(Analysis, col(Analysis.link_id) == col(Link.id))
        .join(Article, col(Article.link_id) == col(Link.id))
        .where(col(Link.deleted).is_(False))
        .order_by(col(Link.id))
    )
    if model:
        query = query.where(Analysis.model == model)
    if prompt_version:
        query = query.where(Analysis.prompt_version == prompt_version)
    if since is not None:
        query = query.where(col(Analysis.created_at) >= since)
    with Session(engine) as session:
        if tag:
            names = [n for n in session.exec(select(Tag.name)) if tag_key(n) == tag_key(tag)]
            tagged = select(LinkTag.link_id).join(Tag, col(Tag.id) == col(LinkTag.tag_id))
            query = query.where(col(Link.id).in_(tagged.where(col(Tag.name).in_(names))))
        return [link_id for link_id in session.exec(query) if link_id is not None]


class EngineLibrary:
    """store.lite's Reader over an engine: for databases the sqlite3 path does not open."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> EngineLibrary:
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.dispose()

    def is_empty(self) -> bool:
        return library_is_empty(self.engine)

    def search(self, user_query: str, limit: int = 20) -> list[LinkView]:
        return search(self.engine, user_query, limit=limit)

    def list_links(
        self, *, status: str | None = None, tag: str | None = None, limit: int = 50
    ) -> list[LinkView]:
        return list_links(self.engine, status=status, tag=tag, limit=limit)

    def get_link(self, link_id: int) -> LinkView | None:
        return get_link(self.engine, link_id)

    def link_views(self, ids: list[int]) -> list[LinkView]:
        return link_views(self.engine, ids)

    def match_ids(self, user_query: str, limit: int) -> list[int]:
        return [view["id"] for view in search(self.engine, user_query, limit=limit)]

    def snippets(self, user_query: str, ids: list[int]) -> dict[int, str]:
        wanted = set(ids)
        found = search(self.engine, user_query, limit=max(len(ids), 50))
        return {v["id"]: v.get("snippet", "") for v in found if v["id"] in wanted}
