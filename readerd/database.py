"""Engine creation (SQLite tuned for one writer and many readers) and Alembic upgrades."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import make_url

from readerd.config import Settings
from readerd.errors import StoreError

BUSY_TIMEOUT_MS = 30_000


def make_engine(settings: Settings, *, write: bool = True) -> Engine:
    """An engine for the configured database; creates the data dir for SQLite.

    Write engines open every transaction with BEGIN IMMEDIATE, so two writers queue
    on the busy timeout instead of one failing mid-transaction with "database is
    locked"; read engines use plain BEGIN and never block the daemon's writes.
    """
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    event.listen(engine, "connect", _tune_sqlite_connection)
    begin_sql = "BEGIN IMMEDIATE" if write else "BEGIN"
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin_sql))
    return engine


def _tune_sqlite_connection(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets CLI readers run while the daemon writes; busy_timeout makes a
    # second writer wait instead of failing with "database is locked".
    # Take transaction control away from pysqlite so the "begin" listener decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("readerd.migrations")))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade_database(engine: Engine) -> None:
    """Apply every pending migration (idempotent)."""
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    _restrict_permissions(engine)


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(revision the database is at, revision this readerd expects)."""
    script = ScriptDirectory.from_config(_alembic_config(engine))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, script.get_current_head() or ""


def require_current_schema(engine: Engine) -> None:
    """Raise StoreError unless the database is at this readerd's schema revision."""
    current, head = schema_revisions(engine)
    if current != head:
        raise StoreError(
            f"store: database schema is at {current or 'nothing'}, this readerd needs {head}; "
            "run `readerd db upgrade`"
        )


def _restrict_permissions(engine: Engine) -> None:
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            path = Path(database + suffix)
            if path.exists():
                os.chmod(path, 0o600)
