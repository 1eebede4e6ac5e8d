"""Helpers of the store and queue tests that run on both backends (no fixtures here).

`backend_url` (tests/conftest.py) is one migrated database; conftest's `migrated_url` is
another on the same backend, for a test comparing two libraries. `open_engine` is readerd's engine
on a URL; `table_rows` reads every table in plain SQL, on SQLite or PostgreSQL alike,
and `search_rows` the full-text index, whose rows differ between the two (FTS5's columns
or PostgreSQL's tsvector) but compare alike between two databases of one backend.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from readerd.config import load_settings
from readerd.store.database import make_engine

Rows = list[tuple[object, ...]]


def open_engine(url: str, data_dir: Path) -> Engine:
    """readerd's engine on `url`, with no environment or .env file of the machine's."""
    return make_engine(load_settings(data_dir=data_dir, database_url=url, _env_file=None))


def table_names(engine: Engine) -> list[str]:
    """readerd's own tables, sorted: neither Alembic's nor the full-text index (or FTS5's)."""
    return sorted(
        name
        for name in inspect(engine).get_table_names()
        if not name.startswith("link_search") and name != "alembic_version"
    )


def table_rows(
    engine: Engine, tables: Collection[str], leave_out: Collection[str] = ()
) -> dict[str, Rows]:
    """Each table's rows ordered by their first two columns, without the columns named."""
    dump: dict[str, Rows] = {}
    with engine.connect() as connection:
        for table in tables:
            result = connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            keep = [i for i, name in enumerate(result.keys()) if name not in leave_out]
            dump[table] = [tuple(row[i] for i in keep) for row in result]
    return dump


def search_rows(engine: Engine) -> Rows:
    """The full-text index, a row per link: FTS5's columns, or PostgreSQL's weighted words."""
    if engine.dialect.name == "postgresql":
        query = "SELECT link_id, document::text FROM link_search ORDER BY link_id"
    else:
        query = "SELECT rowid, title, summary, tags, text FROM link_search ORDER BY rowid"
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]
