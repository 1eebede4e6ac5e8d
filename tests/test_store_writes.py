"""save_batch (many writes, one transaction) stores what save_article + save_analysis store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from readerd import store
from readerd.config import load_settings
from readerd.results import Analysis, Extracted, FetchedPage, LLMCall, SavedLink
from readerd.store.database import make_engine, upgrade_database
from readerd.store.queue import AnalysisWrite, ArticleWrite, Write, save_batch
from readerd.store.views import search

# Timestamps differ between any two runs; everything else must be the same.
CLOCKS = {"extracted_at", "created_at", "processed_at", "updated_at", "added_at"}

TEXTS = [
    ("es", "Energía solar en casa", "Las placas solares del tejado producen energía limpia."),
    ("en", "Home composting", "Composting turns kitchen scraps into soil for the garden."),
    ("es", "El tren nocturno", "Los trenes nocturnos vuelven a Europa con literas nuevas."),
    ("en", "Sleep science", "Teenagers sleep later because their body clock shifts."),
    ("es", "Huerto urbano", "Tomates y lechugas en el balcón, con riego por goteo."),
]
# the analyser's tags: typos of earlier tags (aliases), a tag the source also gave, new ones
AI_TAGS = [
    ("energía", "solar"),
    ("compost", "gardening"),
    ("trenes", "energia", "viajes"),
    ("sleep", "gardenning"),
    ("huerto", "Gardening", "compost"),
]


def _engine(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(load_settings(data_dir=tmp_path / name, _env_file=None))
    upgrade_database(engine)
    links = [
        SavedLink(
            "import",
            f"https://example.org/{i}",
            f"https://example.org/{i}",
            title=title,
            tags=("gardening",) if i == 1 else (),
        )
        for i, (_, title, _) in enumerate(TEXTS)
    ]
    store.import_links(engine, links)
    return engine


def _writes(reanalysis: bool = False) -> list[Write]:
    writes: list[Write] = []
    for i, (lang, title, text) in enumerate(TEXTS):
        link_id = i + 1
        page = FetchedPage(f"https://example.org/{i}", 200, "text/html", b"")
        extracted = Extracted(text=text, title=title, language=lang, word_count=len(text.split()))
        tags = AI_TAGS[(i + 1) % len(AI_TAGS)] if reanalysis else AI_TAGS[i]
        call = LLMCall(
            model="m",
            base_url_host="127.0.0.1",
            prompt_version="p",
            mode="json",
            tokens_in=10,
            tokens_out=5,
            latency_ms=7,
            outcome="ok",
        )
        analysis = Analysis(
            tags=tags,
            summary=f"Summary of {title}",
            key_points=(text,),
            language=lang,
            analyzer="openai",
            model="m",
            prompt_version="p",
            calls=[call],
        )
        writes += [
            ArticleWrite(link_id, page, extracted),
            AnalysisWrite(link_id, analysis, store.hash_text(text)),
        ]
    return writes


def _one_by_one(engine: Engine, writes: list[Write]) -> None:
    for write in writes:
        if isinstance(write, ArticleWrite):
            store.save_article(engine, write.link_id, write.page, write.extracted)
        else:
            store.save_analysis(engine, write.link_id, write.analysis, write.content_hash)


def _found(engine: Engine, query: str) -> list[dict[str, object]]:
    """What the search shows, best match first, clocks left out."""
    return [{k: v for k, v in row.items() if k not in CLOCKS} for row in search(engine, query)]


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows (clock columns left out), the search index's included."""
    assert engine.url.database
    with sqlite3.connect(engine.url.database) as db:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("link_search_") and r[0] != "alembic_version"
        ]
        dump = {}
        for table in sorted(tables):
            cursor = db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            keep = [i for i, d in enumerate(cursor.description) if d[0] not in CLOCKS]
            dump[table] = [tuple(row[i] for i in keep) for row in cursor]
        dump["link_search"] = db.execute(
            "SELECT rowid, title, summary, tags, text FROM link_search ORDER BY rowid"
        ).fetchall()
    return dump


@pytest.mark.parametrize("batch", [1, 3, 100])
def test_a_batch_stores_what_the_one_by_one_writes_store(tmp_path: Path, batch: int) -> None:
    reference, batched = _engine(tmp_path, "one"), _engine(tmp_path, "batch")
    for reanalysis in (False, True):  # the second round replaces tags: some go unused
        writes = _writes(reanalysis)
        _one_by_one(reference, writes)
        for first in range(0, len(writes), batch):
            results = save_batch(batched, writes[first : first + batch])
            assert all(r.error is None for r in results)
        assert _dump(batched) == _dump(reference)
    tags = {row[1] for row in _dump(reference)["tag"]}
    assert "gardenning" not in tags and "Gardening" not in tags  # matched to "gardening"
    for query in ("energia", "garden", "compost -huerto", '"placas solares"', "tren*"):
        assert _found(batched, query) == _found(reference, query), query


def test_a_bad_write_costs_only_itself(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "lib")
    writes = _writes()
    page = FetchedPage("https://example.org/gone", 200, "text/html", b"")
    gone = ArticleWrite(999, page, Extracted(text="orphan text", title="Gone"))
    results = save_batch(engine, [*writes[:4], gone, *writes[4:]])
    assert [r.error is None for r in results] == [True] * 4 + [False] + [True] * 6
    assert results[0].content_hash == store.hash_text(TEXTS[0][2])
    assert [r["id"] for r in search(engine, "orphan")] == []
    assert len(search(engine, "energia")) == 2  # both Spanish articles about energía
    with pytest.raises(LookupError):
        save_batch(engine, [gone])  # a batch of one raises as save_article would
    assert store.due_links(engine, limit=10) == []  # every good article analysed, done


def test_a_batch_that_fails_to_commit_stores_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "lib")
    assert engine.url.database
    blocker = sqlite3.connect(engine.url.database, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    slow = make_engine(load_settings(data_dir=tmp_path / "lib", _env_file=None))
    slow.pool.dispose()
    from sqlalchemy import event

    event.listen(slow, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout = 50"))
    results = save_batch(slow, _writes()[:2])
    assert all(isinstance(r.error, DBAPIError) for r in results)  # as the pipeline expects
    blocker.rollback()
    blocker.close()
    assert search(engine, "energia") == []
    assert len(store.due_links(engine, limit=10)) == len(TEXTS)


def test_a_write_the_database_refuses_fails_as_it_would_alone(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "lib")
    page = FetchedPage("https://example.org/0", 200, None, b"")  # type: ignore[arg-type]
    bad = ArticleWrite(1, page, Extracted(text="no content type", title="Bad"))
    with pytest.raises(IntegrityError):
        store.save_article(engine, bad.link_id, bad.page, bad.extracted)
    with pytest.raises(IntegrityError):
        save_batch(engine, [bad])
    results = save_batch(engine, [bad, *_writes()[2:4]])
    assert isinstance(results[0].error, IntegrityError)
    assert [r.error for r in results[1:]] == [None, None]
    assert [row["id"] for row in search(engine, "composting")] == [2]


def test_a_batched_article_is_found_by_the_title_the_user_gave_it(tmp_path: Path) -> None:
    """The daemon's batched writes index the user's title beside the page's, as sync does."""
    from readerd import store
    from readerd.config import load_settings
    from readerd.results import Extracted, FetchedPage, SavedLink
    from readerd.store import views
    from readerd.store.database import make_engine, upgrade_database

    engine = make_engine(load_settings(data_dir=tmp_path))
    upgrade_database(engine)
    store.import_links(engine, [SavedLink("linkding", "7", "https://e.org/7", title="Trenes zq")])
    [due] = store.due_links(engine, limit=5)
    page = FetchedPage(due.url, 200, "text/html", b"")
    extracted = Extracted(text="Rail history. " * 50, title="Railways of Spain", language="en")
    [written] = store.save_batch(engine, [store.ArticleWrite(due.id, page, extracted)])
    assert written.error is None
    assert [v["id"] for v in views.search(engine, "zq")] == [due.id]
    assert [v["id"] for v in views.search(engine, "railways")] == [due.id]
