"""store.importing.import_links stores exactly what sync.import_links stores, file after file.

On SQLite the new links go in by plain SQL; on PostgreSQL importing is sync's upsert
itself, and these still pin what an import stores there (no password, every link once).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from readerd.results import LinkState, SavedLink
from readerd.sources import read_import_file
from readerd.store import importing, sync
from tests.backends import open_engine, search_rows, table_rows
from tests.conftest import migrated_url

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
CLOCKS = {"created_at", "processed_at"}  # now, in each run


def _engines(
    backend: str, backend_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Engine, Engine]:
    """(reference, fast): two migrated databases on the backend, for sync's and the fast path."""
    fast = migrated_url(backend, request, tmp_path / "fast")
    return open_engine(backend_url, tmp_path), open_engine(fast, tmp_path / "fast")


def _link(n: int, **changes: object) -> SavedLink:
    fields: dict[str, object] = {
        "source": "import",
        "source_id": f"https://example.org/{n}",
        "url": f"https://example.org/{n}",
        "title": f"Artículo {n}",
        "tags": ("energía", " solar ", "", "energía") if n % 2 else ("python",),
        "added_at": datetime(2026, 1, 1, 12, n % 60, 5, 123456),
    }
    return SavedLink(**{**fields, **changes})  # type: ignore[arg-type]


FIRST = [
    _link(1),
    _link(2, state=LinkState.ARCHIVED),
    _link(3),
    _link(3, title="Listed twice: the second wins"),  # a repeated row
    _link(4, state=LinkState.DELETED),  # deleted before readerd ever saw it
    _link(
        5, url="https://user:secret@example.org/5", source_id="https://user:secret@example.org/5"
    ),
    _link(6, content=b"<html><p>Already here</p></html>", content_type="text/html"),
    _link(7, tags=()),
    SavedLink("import", "ftp://example.org/x", "ftp://example.org/x", problem="unsupported scheme"),
    _link(8, source="pocket", tags=("pocket-only",)),
]
SECOND = [
    _link(1),  # unchanged
    _link(2, title="A new title"),  # updated: title and state
    _link(6, state=LinkState.DELETED),  # deleted now
    _link(7, tags=("python", "nuevo")),  # tags added
    _link(9),  # new
    _link(10, tags=("python",)),  # new, an existing tag
]


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    tables = ("link", "tag", "link_tag", "tag_alias")
    dump = table_rows(engine, tables, leave_out=CLOCKS)
    dump["link_search"] = search_rows(engine)
    return dump


def test_the_fast_import_stores_what_sync_stores(
    backend: str, backend_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    reference, fast = _engines(backend, backend_url, request, tmp_path)
    for links in (FIRST, SECOND, FIRST):
        assert importing.import_links(fast, links) == sync.import_links(reference, links)
        assert _dump(fast) == _dump(reference)
    rows = _dump(fast)["link"]
    assert not any("secret" in str(row) for row in rows)  # the password is never stored
    assert len(rows) == 10  # nine links (4 was deleted before it was seen) and the ftp one


def test_a_pocket_export_imports_alike(
    backend: str, backend_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    links = read_import_file(FIXTURES / "pocket_shuffled_es.csv")
    everything = [*links, *links.refused]
    reference, fast = _engines(backend, backend_url, request, tmp_path)
    report = importing.import_links(fast, everything)
    assert report == sync.import_links(reference, everything)
    assert report.new == len(everything)
    assert _dump(fast) == _dump(reference)
    assert importing.import_links(fast, everything).unchanged == len(everything)
