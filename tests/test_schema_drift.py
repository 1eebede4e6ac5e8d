"""The migrations build exactly the schema the models describe (the FTS index excepted)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from readerd import models  # noqa: F401  (every table joins SQLModel.metadata)
from readerd.config import load_settings
from readerd.store.database import make_engine, upgrade_database

#: Maintained with plain SQL, outside the models: the FTS5 index and its shadow tables.
FTS_TABLES = {"link_search", "passage_search"} | {
    f"{table}_{part}"
    for table in ("link_search", "passage_search")
    for part in ("data", "idx", "content", "docsize", "config")
}


def _outside_fts(diff: object) -> bool:
    """False for a difference that names an FTS table (compare_metadata's tuples or lists)."""
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            table = getattr(part, "table", None)
            if {getattr(part, "name", None), getattr(table, "name", None)} & FTS_TABLES:
                return False
    return True


def test_migrations_build_what_the_models_say(tmp_path: Path) -> None:
    engine = make_engine(load_settings(data_dir=tmp_path, _env_file=None))
    upgrade_database(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        diffs = [d for d in compare_metadata(context, SQLModel.metadata) if _outside_fts(d)]
    engine.dispose()
    assert diffs == [], "migrations and models disagree; write a migration:\n" + "\n".join(
        map(repr, diffs)
    )


def test_every_table_has_a_model(tmp_path: Path) -> None:
    engine = make_engine(load_settings(data_dir=tmp_path, _env_file=None))
    upgrade_database(engine)
    with engine.connect() as connection:
        from sqlalchemy import inspect

        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    modelled = set(SQLModel.metadata.tables)
    assert tables - FTS_TABLES - {"alembic_version"} == modelled
