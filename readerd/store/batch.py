"""save_batch's SQLite path: many articles and analyses in one transaction, in plain SQL.

It stores exactly what save_article and save_analysis store (the same rows, the same
values, the same tag matching), without the ORM's per-row cost, and keeps the tag
vocabulary in memory for the whole batch instead of reading every tag's use count back
for every analysis. Tests (tests/test_store_writes.py) compare its database with the
one the per-article functions make.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from readerd.models import Stage, Status, TagOrigin, utcnow
from readerd.results import Analysis, LLMCall
from readerd.store.common import MAX_ERROR_CHARS, indexed_title
from readerd.store.queue import ArticleWrite, Write, hash_text
from readerd.text.tags import TagIndex, display_tag, tag_key

# tagging._tag_uses's rows, counted along ix_link_tag_tag (tag names are unique)
_TAG_USES = (
    "SELECT t.name, c.uses FROM (SELECT tag_id, count(DISTINCT link_id) AS uses "
    "FROM link_tag GROUP BY tag_id) c JOIN tag t ON t.id = c.tag_id ORDER BY c.uses DESC, t.name"
)
_ALIASES = "SELECT a.alias, t.name FROM tag_alias a JOIN tag t ON t.id = a.tag_id"
_ARTICLE = (
    "INSERT INTO article (link_id, final_url, content_type, kind, title, author, published, "
    "site_name, language, word_count, text, content_hash, extracted_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (link_id) DO UPDATE SET "
    "final_url = excluded.final_url, content_type = excluded.content_type, "
    "kind = excluded.kind, title = excluded.title, author = excluded.author, "
    "published = excluded.published, site_name = excluded.site_name, "
    "language = excluded.language, word_count = excluded.word_count, text = excluded.text, "
    "content_hash = excluded.content_hash, extracted_at = excluded.extracted_at"
)
_ANALYSIS = (
    "INSERT INTO analysis (link_id, summary, key_points, language, analyzer, model, "
    "prompt_version, content_hash, tokens_in, tokens_out, latency_ms, coverage, fallbacks, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (link_id) DO UPDATE SET "
    "summary = excluded.summary, key_points = excluded.key_points, "
    "language = excluded.language, analyzer = excluded.analyzer, model = excluded.model, "
    "prompt_version = excluded.prompt_version, content_hash = excluded.content_hash, "
    "tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out, "
    "latency_ms = excluded.latency_ms, coverage = excluded.coverage, "
    "fallbacks = excluded.fallbacks, created_at = excluded.created_at"
)
_CALL = (
    "INSERT INTO llm_call (link_id, model, base_url_host, prompt_version, mode, tokens_in, "
    "tokens_out, tokens_cached, latency_ms, outcome, error, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INDEXED = (
    "SELECT l.title, a.title, coalesce(n.summary, ''), "
    "coalesce(a.text, '') FROM link l LEFT JOIN article a ON a.link_id = l.id "
    "LEFT JOIN analysis n ON n.link_id = l.id WHERE l.id = ?"
)
_LINK_TAGS = (
    "SELECT DISTINCT t.name FROM link_tag lt JOIN tag t ON t.id = lt.tag_id "
    "WHERE lt.link_id = ? ORDER BY t.name"
)


def _stamp(moment: datetime) -> str:
    """A datetime as SQLAlchemy stores it in SQLite (so both paths read back alike)."""
    return moment.isoformat(sep=" ", timespec="microseconds")


class _Vocabulary:
    """The tag vocabulary (use counts, aliases) as the batch's own writes change it.

    Loaded once per batch, then kept current write by write: a count goes up as a
    link gains a tag, a new alias is indexed as it is stored. A write that takes tags
    away (a re-analysis) reloads it from the database, as set_tags would.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.load()

    def load(self) -> None:
        self.uses: dict[str, int] = dict(self.db.execute(_TAG_USES).fetchall())
        self.index = TagIndex(self.uses.items())
        self.spellings: dict[str, set[str]] = {}  # key -> names with that key
        for name in self.uses:
            self.spellings.setdefault(tag_key(name), set()).add(name)
        for alias, name in self.db.execute(_ALIASES):
            self.index.add_alias(alias, name)

    def matched(self, names: tuple[str, ...]) -> dict[str, set[str]]:
        """As tagging._matched_names: chosen name -> typo'd spellings that led to it."""
        chosen: dict[str, set[str]] = {}
        for proposed in (display_tag(n) for n in names):
            if not proposed:
                continue
            name = self.index.match(proposed) or proposed
            typos = {proposed} if tag_key(proposed) != tag_key(name) else set()
            chosen[name] = chosen.get(name, set()) | typos
            if name not in self.uses:
                self.index.add(name)
        return chosen

    def used(self, name: str) -> None:
        """One more link carries `name`: the more used spelling of a key represents it."""
        self.uses[name] = self.uses.get(name, 0) + 1
        key = tag_key(name)
        if not key:
            return
        self.spellings.setdefault(key, set()).add(name)
        winner = min(self.spellings[key], key=lambda n: (-self.uses.get(n, 0), n))
        self.index.add(name, self.uses[name])
        self.index.by_key[key] = (winner, self.uses.get(winner, 0))


def write_batch(db: sqlite3.Connection, writes: Sequence[Write]) -> list[str | None]:
    """Do the writes on db (inside the caller's transaction); content hashes, in order."""
    vocabulary: _Vocabulary | None = None
    hashes: list[str | None] = []
    for write in writes:
        if isinstance(write, ArticleWrite):
            content_hash = hash_text(write.extracted.text)
            _article(db, write, content_hash)
            hashes.append(content_hash)
        else:
            vocabulary = vocabulary or _Vocabulary(db)
            _analysis(db, write.link_id, write.analysis, write.content_hash, vocabulary)
            hashes.append(None)
    for link_id in dict.fromkeys(write.link_id for write in writes):
        _reindex(db, link_id)
    return hashes


def _link_update(
    db: sqlite3.Connection, link_id: int, sql: str, params: tuple[object, ...]
) -> None:
    if db.execute(sql, params).rowcount == 0:
        raise LookupError(f"store: no link with id {link_id}")


def _article(db: sqlite3.Connection, write: ArticleWrite, content_hash: str) -> None:
    link_id, page, extracted = write.link_id, write.page, write.extracted
    _link_update(
        db,
        link_id,
        "UPDATE link SET stage = ?, last_error = NULL WHERE id = ?",
        (str(Stage.ANALYZE), link_id),
    )
    db.execute(
        _ARTICLE,
        (
            link_id,
            page.url,
            page.content_type,
            extracted.kind,
            extracted.title,
            extracted.author,
            extracted.published,
            extracted.site_name,
            extracted.language,
            extracted.word_count,
            extracted.text,
            content_hash,
            _stamp(utcnow()),
        ),
    )


def _analysis(
    db: sqlite3.Connection,
    link_id: int,
    analysis: Analysis,
    content_hash: str,
    vocabulary: _Vocabulary,
) -> None:
    db.execute(
        _ANALYSIS,
        (
            link_id,
            analysis.summary,
            json.dumps(list(analysis.key_points)),
            analysis.language,
            analysis.analyzer,
            analysis.model,
            analysis.prompt_version,
            content_hash,
            analysis.tokens_in,
            analysis.tokens_out,
            analysis.latency_ms,
            analysis.coverage,
            json.dumps(list(analysis.fallbacks)),
            _stamp(utcnow()),
        ),
    )
    _set_ai_tags(db, link_id, analysis.tags, vocabulary)
    for call in analysis.calls:
        db.execute(_CALL, _call_params(link_id, call))
    _link_update(
        db,
        link_id,
        "UPDATE link SET stage = ?, status = ?, last_error = NULL, next_attempt_at = NULL, "
        "processed_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
        (str(Stage.DONE), str(Status.DONE), _stamp(utcnow()), link_id),
    )


def _set_ai_tags(
    db: sqlite3.Connection, link_id: int, names: tuple[str, ...], vocabulary: _Vocabulary
) -> None:
    """As tagging.set_tags for the analyser's tags: replace them, matched to the vocabulary."""
    ai = str(TagOrigin.AI)
    previous = {
        row[0]
        for row in db.execute(
            "SELECT tag_id FROM link_tag WHERE link_id = ? AND origin = ?", (link_id, ai)
        )
    }
    if previous:
        db.execute("DELETE FROM link_tag WHERE link_id = ? AND origin = ?", (link_id, ai))
        vocabulary.load()  # counts go down, tags may go: read them back as set_tags would
    carried = {row[0] for row in db.execute(_LINK_TAGS, (link_id,))}
    for name, aliases in vocabulary.matched(names).items():
        found = db.execute("SELECT id FROM tag WHERE name = ?", (name,)).fetchone()
        tag_id = (
            found[0]
            if found
            else db.execute("INSERT INTO tag (name) VALUES (?)", (name,)).lastrowid
        )
        db.execute(
            "INSERT INTO link_tag (link_id, tag_id, origin) VALUES (?, ?, ?)",
            (link_id, tag_id, ai),
        )
        if name not in carried:
            vocabulary.used(name)
        for alias in aliases:
            added = db.execute(
                "INSERT INTO tag_alias (alias, tag_id) VALUES (?, ?) ON CONFLICT (alias) "
                "DO NOTHING",
                (alias, tag_id),
            ).rowcount
            if added:
                vocabulary.index.add_alias(alias, name)
    if previous:
        marks = ",".join("?" * len(previous))
        db.execute(
            f"DELETE FROM tag WHERE id IN ({marks}) "
            "AND id NOT IN (SELECT tag_id FROM link_tag WHERE tag_id IS NOT NULL)",
            tuple(previous),
        )
        vocabulary.load()


def _call_params(link_id: int, call: LLMCall) -> tuple[object, ...]:
    return (
        link_id,
        call.model,
        call.base_url_host,
        call.prompt_version,
        call.mode,
        call.tokens_in,
        call.tokens_out,
        call.tokens_cached,
        call.latency_ms,
        call.outcome,
        (call.error or None) and call.error[:MAX_ERROR_CHARS],
        _stamp(utcnow()),
    )


def _reindex(db: sqlite3.Connection, link_id: int) -> None:
    """As common.reindex: the link's row in the full-text index, rewritten."""
    row = db.execute(_INDEXED, (link_id,)).fetchone()
    if row is None:
        raise LookupError(f"store: no link with id {link_id}")
    link_title, page_title, summary, text = row
    title = indexed_title(link_title, page_title)
    tags = " ".join(r[0] for r in db.execute(_LINK_TAGS, (link_id,)))
    db.execute("DELETE FROM link_search WHERE rowid = ?", (link_id,))
    db.execute(
        "INSERT INTO link_search (rowid, title, summary, tags, text) VALUES (?, ?, ?, ?, ?)",
        (link_id, title, summary, tags, text),
    )
