"""readerd on PostgreSQL (a throwaway cluster): the same schema, commands and answers.

The migrations against the models, `db upgrade`, the quick start answering as on
SQLite, and `db copy`. The rest of the PostgreSQL half runs the ordinary test files
on both backends (the `backend*` fixtures of tests/conftest.py); several processes
and daemons are in test_leases.py and test_postgres_daemons.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from readerd import models  # noqa: F401  (every table joins SQLModel.metadata)
from readerd.config import load_settings
from readerd.store.database import make_engine, upgrade_database
from tests.conftest import ReaderdCLI
from tests.servers.postgres import PostgresCluster
from tests.test_schema_drift import FTS_TABLES, _outside_fts

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.url(postgres_cluster.fresh_database())


def test_migrations_build_what_the_models_say_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(load_settings(data_dir=tmp_path, database_url=postgres_url))
    upgrade_database(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, SQLModel.metadata) if _outside_fts(d)]
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert diffs == [], "\n".join(map(repr, diffs))
    assert tables - FTS_TABLES - {"alembic_version"} == set(SQLModel.metadata.tables)


def test_db_upgrade_creates_then_finds_the_schema_current(
    readerd_cli: ReaderdCLI, postgres_url: str
) -> None:
    readerd_cli.env["READERD_DATABASE_URL"] = postgres_url
    created = readerd_cli("db", "upgrade").stdout
    assert created.startswith("created the database at postgresql+psycopg://")
    assert "is up to date" in readerd_cli("db", "upgrade").stdout


def _library(cli: ReaderdCLI) -> dict[str, Any]:
    """What a user sees of the library, backend aside."""
    listed = json.loads(cli("list", "--json").stdout)
    shown = [json.loads(cli("show", str(row["id"]), "--json").stdout) for row in listed]
    searches = {
        query: [row["title"] for row in json.loads(cli("search", query, "--json").stdout)]
        for query in ("energia", "compost*", '"dieta mediterránea"', "bicycle OR bicicleta")
    }
    stats = json.loads(cli("stats", "--json").stdout)
    return {
        "links": [
            (row["title"], row["status"], row["language"], row["tags"], row["summary"])
            for row in shown
        ],
        "searches": searches,
        "stats": (stats["links"], stats["by_status"], stats["languages"], stats["words"]),
    }


def test_the_quick_start_on_postgresql_answers_as_on_sqlite(
    readerd_cli: ReaderdCLI, postgres_url: str, tmp_path: Path
) -> None:
    readerd_cli("run", "--once")
    on_sqlite = _library(readerd_cli)

    (tmp_path / "pg").mkdir()
    on_postgres = ReaderdCLI(tmp_path / "pg", {"READERD_DATABASE_URL": postgres_url})
    run = on_postgres("run", "--once")
    assert "7 analysed" in run.stdout and "0 failed" in run.stdout
    assert _library(on_postgres) == on_sqlite
    assert all(on_sqlite["searches"].values()), on_sqlite["searches"]  # every query finds
    again = on_postgres("run", "--once")
    assert "0 new" in again.stdout and "0 analysed" in again.stdout


def test_db_copy_moves_a_library_into_postgresql_where_it_answers_the_same(
    readerd_cli: ReaderdCLI, postgres_url: str, tmp_path: Path
) -> None:
    readerd_cli("run", "--once")
    on_sqlite = _library(readerd_cli)
    # trust auth ignores the password: it is here to be kept out of the output
    target = postgres_url.replace("postgres@", "postgres:s3cret-pw@")
    copied = readerd_cli("db", "copy", "--to", target)
    assert "every count checked" in copied.stdout and "7 link" in copied.stdout
    assert "s3cret-pw" not in copied.stdout + copied.stderr

    (tmp_path / "pg").mkdir()
    on_postgres = ReaderdCLI(tmp_path / "pg", {"READERD_DATABASE_URL": postgres_url})
    assert _library(on_postgres) == on_sqlite
    again = on_postgres("run", "--once")  # the sync cursor and the analyses came along
    assert "0 new" in again.stdout and "0 analysed" in again.stdout

    refused = readerd_cli("db", "copy", "--to", postgres_url, check=False)
    assert refused.returncode != 0
    assert "already holds a library" in refused.stderr and "Traceback" not in refused.stderr
