"""save_batch (many writes, one transaction) stores what save_article + save_analysis store.

On SQLite (its plain-sqlite3 batch, store/batch.py) and on PostgreSQL (the ORM's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError

from readerd import store
from readerd.results import Analysis, Extracted, FetchedPage, LLMCall, SavedLink
from readerd.store.queue import AnalysisWrite, ArticleWrite, Write, save_batch
from readerd.store.views import search
from tests.backends import open_engine, search_rows, table_names, table_rows
from tests.conftest import migrated_url

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


def _engine(url: str, data_dir: Path) -> Engine:
    engine = open_engine(url, data_dir)
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
    dump = table_rows(engine, table_names(engine), leave_out=CLOCKS)
    dump["link_search"] = search_rows(engine)
    return dump


@contextmanager
def _another_writer(engine: Engine) -> Iterator[None]:
    """Another connection holding the write lock: SQLite's file lock, PostgreSQL's table locks."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as blocker:
            blocker.exec_driver_sql("LOCK TABLE link, article, analysis IN EXCLUSIVE MODE")
            yield
            blocker.rollback()
        return
    assert engine.url.database
    writer = sqlite3.connect(engine.url.database, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        yield
        writer.rollback()
    finally:
        writer.close()


def _impatient(url: str, data_dir: Path) -> Engine:
    """An engine that waits 50 ms for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout)."""
    engine = open_engine(url, data_dir)
    engine.pool.dispose()
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _lock_timeout(connection: Any, _: object) -> None:
            connection.execute("SET lock_timeout = 50")
            connection.commit()  # a SET whose transaction is rolled back is undone

    else:
        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout = 50"))
    return engine


@pytest.mark.parametrize("batch", [1, 3, 100])
def test_a_batch_stores_what_the_one_by_one_writes_store(
    backend: str, backend_url: str, request: pytest.FixtureRequest, tmp_path: Path, batch: int
) -> None:
    other = migrated_url(backend, request, tmp_path / "batch")
    reference, batched = _engine(backend_url, tmp_path), _engine(other, tmp_path / "batch")
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


def test_a_bad_write_costs_only_itself(backend_url: str, tmp_path: Path) -> None:
    engine = _engine(backend_url, tmp_path)
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


def test_an_article_for_a_link_that_is_gone_is_a_lookup_error(
    backend_url: str, tmp_path: Path
) -> None:
    """save_article and a batch of one name the missing link (not an orphan row's error)."""
    engine = _engine(backend_url, tmp_path)
    page = FetchedPage("https://example.org/gone", 200, "text/html", b"")
    gone = ArticleWrite(999, page, Extracted(text="orphan text", title="Gone"))
    with pytest.raises(LookupError, match="no link with id 999"):
        store.save_article(engine, gone.link_id, gone.page, gone.extracted)
    with pytest.raises(LookupError, match="no link with id 999"):
        save_batch(engine, [gone])
    assert len(store.due_links(engine, limit=10)) == len(TEXTS)  # nothing else was touched


def test_a_batch_that_fails_to_commit_stores_nothing(backend_url: str, tmp_path: Path) -> None:
    engine = _engine(backend_url, tmp_path)
    slow = _impatient(backend_url, tmp_path)
    with _another_writer(engine):  # held past the slow engine's wait for it
        results = save_batch(slow, _writes()[:2])
    assert all(isinstance(r.error, DBAPIError) for r in results)  # as the pipeline expects
    assert search(engine, "energia") == []
    assert len(store.due_links(engine, limit=10)) == len(TEXTS)


def test_a_write_the_database_refuses_fails_as_it_would_alone(
    backend_url: str, tmp_path: Path
) -> None:
    engine = _engine(backend_url, tmp_path)
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


def test_a_batched_article_is_found_by_the_title_the_user_gave_it(
    backend_url: str, tmp_path: Path
) -> None:
    """The daemon's batched writes index the user's title beside the page's, as sync does."""
    engine = open_engine(backend_url, tmp_path)
    store.import_links(engine, [SavedLink("linkding", "7", "https://e.org/7", title="Trenes zq")])
    [due] = store.due_links(engine, limit=5)
    page = FetchedPage(due.url, 200, "text/html", b"")
    extracted = Extracted(text="Rail history. " * 50, title="Railways of Spain", language="en")
    [written] = store.save_batch(engine, [store.ArticleWrite(due.id, page, extracted)])
    assert written.error is None
    assert [v["id"] for v in search(engine, "zq")] == [due.id]
    assert [v["id"] for v in search(engine, "railways")] == [due.id]
