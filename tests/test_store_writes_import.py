"""store.importing.import_links stores exactly what sync.import_links stores, file after file."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from readerd.config import load_settings
from readerd.results import LinkState, SavedLink
from readerd.sources import read_import_file
from readerd.store import importing, sync
from readerd.store.database import make_engine, upgrade_database

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
CLOCKS = {"created_at", "processed_at"}  # now, in each run


def _engine(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(load_settings(data_dir=tmp_path / name, _env_file=None))
    upgrade_database(engine)
    return engine


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
    assert engine.url.database
    with sqlite3.connect(engine.url.database) as db:
        dump = {}
        for table in ("link", "tag", "link_tag", "tag_alias", "link_search"):
            cursor = db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            keep = [i for i, d in enumerate(cursor.description) if d[0] not in CLOCKS]
            dump[table] = [tuple(row[i] for i in keep) for row in cursor]
    return dump


def test_the_fast_import_stores_what_sync_stores(tmp_path: Path) -> None:
    reference, fast = _engine(tmp_path, "sync"), _engine(tmp_path, "fast")
    for links in (FIRST, SECOND, FIRST):
        assert importing.import_links(fast, links) == sync.import_links(reference, links)
        assert _dump(fast) == _dump(reference)
    rows = _dump(fast)["link"]
    assert not any("secret" in str(row) for row in rows)  # the password is never stored
    assert len(rows) == 10  # nine links (4 was deleted before it was seen) and the ftp one


def test_a_pocket_export_imports_alike(tmp_path: Path) -> None:
    links = read_import_file(FIXTURES / "pocket_shuffled_es.csv")
    everything = [*links, *links.refused]
    reference, fast = _engine(tmp_path, "sync"), _engine(tmp_path, "fast")
    report = importing.import_links(fast, everything)
    assert report == sync.import_links(reference, everything)
    assert report.new == len(everything)
    assert _dump(fast) == _dump(reference)
    assert importing.import_links(fast, everything).unchanged == len(everything)
