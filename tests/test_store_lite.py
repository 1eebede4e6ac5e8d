"""store.lite (plain sqlite3, for the read commands) shows exactly what store.views shows."""

from __future__ import annotations

import pytest

from readerd.config import load_settings
from readerd.store import lite
from readerd.store.database import make_engine, schema_revisions
from readerd.store.search import QueryError
from readerd.store.views import EngineLibrary
from tests.conftest import ReaderdCLI


def test_schema_head_is_alembics(readerd_cli: ReaderdCLI) -> None:
    readerd_cli("db", "upgrade")
    engine = make_engine(load_settings(data_dir=readerd_cli.data_dir, _env_file=None))
    assert schema_revisions(engine) == (lite.schema_head(), lite.schema_head())
    engine.dispose()


def test_the_sqlite3_views_are_the_engines(readerd_cli: ReaderdCLI) -> None:
    readerd_cli("run", "--once")  # the bundled samples, analysed offline
    readerd_cli("import", str(_urls(readerd_cli)))  # plus pending and failed-looking rows
    settings = load_settings(data_dir=readerd_cli.data_dir, _env_file=None)
    fast = lite.open_library(settings.db_url)
    assert fast is not None
    with fast, EngineLibrary(make_engine(settings, write=False)) as slow:
        assert fast.is_empty() == slow.is_empty() is False
        for status in (None, "pending", "retry", "done", "failed", "unsupported", "deleted"):
            assert fast.list_links(status=status) == slow.list_links(status=status), status
        assert fast.list_links(limit=2) == slow.list_links(limit=2)
        tag = slow.list_links(status="done")[0]["tags"][0]
        assert fast.list_links(tag=tag) == slow.list_links(tag=tag) != []
        for row in slow.list_links():
            assert fast.get_link(row["id"]) == slow.get_link(row["id"])
        assert fast.get_link(9999) is slow.get_link(9999) is None
        for query in ("energia", "solar -coche", '"placas solares"', "ener*", "nothing-here"):
            assert fast.search(query) == slow.search(query), query
        for library in (fast, slow):
            with pytest.raises(QueryError):
                library.search("solar AND")


def test_no_database_or_another_schema_takes_the_engine_path(readerd_cli: ReaderdCLI) -> None:
    url = f"sqlite:///{readerd_cli.db_path}"
    assert lite.open_library(url) is None  # not there yet: the engine path creates it
    readerd_cli("db", "upgrade")
    library = lite.open_library(url)
    assert library is not None
    library.connection.close()
    import sqlite3

    with sqlite3.connect(readerd_cli.db_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    assert lite.open_library(url) is None  # the engine path reports the old schema
    assert lite.open_library("postgresql://localhost/readerd") is None


def _urls(cli: ReaderdCLI):  # type: ignore[no-untyped-def]
    path = cli.data_dir / "more.txt"
    path.write_text("https://example.org/one\nhttps://example.org/two\n", encoding="utf-8")
    return path
