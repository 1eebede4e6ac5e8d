"""The pipeline's decisions, in process: real store (SQLite, PostgreSQL), fakes at the seams.

What happens to an item when the analyser is rate limited, has a bug or serves no
model, and how a sync moves its cursor, without a server in the way (tests/fakes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from readerd.config import Settings
from readerd.errors import AnalysisError
from readerd.pipeline import process_due, sync_links
from readerd.results import SavedLink
from readerd.store import views
from readerd.store.database import make_engine
from tests.fakes import FakeAnalyzer, FakeSource

PAGE = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "<p>Compost needs greens, browns, air and water; turn the pile every week. </p>" * 12
    + "</article></body></html>"
)


def saved(n: int) -> SavedLink:
    title = f"Compost note {n}"
    return SavedLink(
        source="fake",
        source_id=str(n),
        url=f"https://example.org/compost-{n}",
        title=title,
        content=PAGE.format(title=title).encode(),
        content_type="text/html",
    )


@pytest.fixture
def library(backend_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=backend_url,
        source="none",
        extract_timeout=30,
    )
    engine = make_engine(settings)
    yield settings, engine
    engine.dispose()


def synced(library: tuple[Settings, Engine], *links: SavedLink) -> None:
    settings, engine = library
    asyncio.run(sync_links(settings, engine, source=FakeSource().with_batch(list(links))))


def by_url(engine: Engine) -> dict[str, dict[str, object]]:
    return {view["url"]: dict(view) for view in views.list_links(engine, limit=100)}


def test_a_rate_limited_analysis_waits_without_spending_an_attempt(
    library: tuple[Settings, Engine],
) -> None:
    settings, engine = library
    synced(library, saved(1), saved(2))
    limited = AnalysisError("analyze: rate limited by the endpoint", retry_after=600)
    analyzer = FakeAnalyzer().queue(limited)
    report = asyncio.run(process_due(settings, engine, analyzer=analyzer))
    assert (report.done, report.retry) == (1, 1)
    waiting = [v for v in by_url(engine).values() if v["status"] != "done"]
    assert len(waiting) == 1 and waiting[0]["attempts"] == 0
    assert waiting[0]["last_error"] == "analyze: rate limited by the endpoint"
    next_try = datetime.fromisoformat(str(waiting[0]["next_attempt_at"]).replace("Z", "+00:00"))
    assert timedelta(minutes=9) < next_try - datetime.now(UTC) <= timedelta(minutes=10)


def test_a_bug_in_the_analyser_costs_one_item_and_is_retried(
    library: tuple[Settings, Engine],
) -> None:
    settings, engine = library
    synced(library, saved(1), saved(2), saved(3))
    analyzer = FakeAnalyzer().queue(RuntimeError("boom"))
    report = asyncio.run(process_due(settings, engine, analyzer=analyzer))
    assert (report.done, report.retry) == (2, 1)
    broken = [v for v in by_url(engine).values() if v["status"] != "done"]
    assert broken[0]["last_error"] == "analyze: internal error: RuntimeError('boom')"
    assert broken[0]["attempts"] == 1 and broken[0]["stage"] == "analyze"
    assert len(analyzer.seen) == 3


def test_an_unserved_model_stops_analysis_and_keeps_every_article(
    library: tuple[Settings, Engine],
) -> None:
    settings, engine = library
    synced(library, saved(1), saved(2))
    analyzer = FakeAnalyzer(model_problem="llm: model 'qwen' is not served at 127.0.0.1")
    report = asyncio.run(process_due(settings, engine, analyzer=analyzer))
    assert report.llm_stopped and "not served" in report.llm_stopped
    assert not analyzer.seen and report.done == 0
    for view in by_url(engine).values():
        assert view["stage"] == "analyze" and view["word_count"]  # extracted, waiting


def test_sync_moves_the_cursor_only_with_the_links(library: tuple[Settings, Engine]) -> None:
    settings, engine = library
    source = FakeSource().with_batch([saved(1), saved(2)]).with_batch([saved(3)])
    first = asyncio.run(sync_links(settings, engine, source=source))
    second = asyncio.run(sync_links(settings, engine, source=source))
    assert (first.new, second.new) == (2, 1)
    assert source.cursors_seen == [None, "cursor-1"]
    assert sorted(by_url(engine)) == [f"https://example.org/compost-{n}" for n in (1, 2, 3)]
