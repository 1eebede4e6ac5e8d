"""Engine creation (SQLite tuned for one writer and many readers) and Alembic upgrades."""

from __future__ import annotations

import errno
import os
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine.url import make_url

from readerd.config import Settings
from readerd.errors import ConfigError, DataDirError, StoreError
from readerd.logs import redact as redact_url
from readerd.store.singleton import take_turns

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
        path = Path(url.database)
        if write or not path.exists():  # a missing database is created, even to read it
            prepare_directory(path.parent)
            require_writable(path)
        elif not (_writable(path) and _writable(path.parent)):
            # A read-only file or mount: read it as it is (no WAL index can be made there).
            url = make_url(f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true")
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    read_only = "immutable=1" in str(url)
    event.listen(engine, "connect", _read_only_connection if read_only else _tune_sqlite_connection)
    begin_sql = "BEGIN IMMEDIATE" if write else "BEGIN"
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin_sql))
    return engine


def server_engine(url_text: str) -> Engine:
    """An engine on a database server's URL (PostgreSQL), for `db copy`'s target."""
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(url_text)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {redact_url(url_text)}") from None
    if url.get_backend_name() == "sqlite":
        raise ConfigError("a database server's URL is needed here (postgresql+psycopg://…)")
    try:
        return create_engine(url, pool_pre_ping=True)
    except ImportError as exc:  # the driver is not installed
        raise ConfigError(
            f"cannot use {url.drivername}: {exc.name or exc} is not installed "
            "(pip install 'readerd[postgres]')"
        ) from None


def prepare_directory(directory: Path) -> None:
    """Create the data directory (mode 700); StoreError naming the path and the problem."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (directory, *directory.parents) if p.exists()), directory)
        raise DataDirError(
            f"store: cannot use data directory {directory}: {blocker} is not a directory"
        ) from None
    except OSError as exc:
        raise DataDirError(
            f"store: cannot create data directory {directory}: {_why(exc, directory)}"
        ) from None


def directory_problem(directory: Path) -> str | None:
    """What stops a database from being made in `directory` (without creating it), or None."""
    existing = next((p for p in (directory, *directory.parents) if p.exists()), directory)
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not _writable(existing):
        return _why(None, existing)
    return None


def require_writable(path: Path) -> None:
    """StoreError unless the database file (or, before it exists, its directory) is writable.

    SQLite also writes `-wal` and `-shm` files beside the database, so the directory counts.
    """
    for target in (path.parent, path) if path.exists() else (path.parent,):
        if not _writable(target):
            raise DataDirError(f"store: cannot write the database {path}: {_why(None, target)}")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def _why(exc: OSError | None, path: Path) -> str:
    """`read-only file system`, `permission denied (uid 1000)`, or the OS's own words."""
    code = exc.errno if exc is not None else None
    if code is None:
        existing = next((p for p in (path, *path.parents) if p.exists()), path)
        try:
            if os.statvfs(existing).f_flag & os.ST_RDONLY:
                code = errno.EROFS
        except OSError:
            pass
    if code == errno.EROFS:
        return f"{path} is on a read-only file system"
    if code in (errno.EACCES, errno.EPERM, None):
        return f"permission denied: {path} is not writable by uid {os.getuid()}"
    return f"{path}: {exc.strerror if exc is not None else 'unusable'}"


def _read_only_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the "begin" listener decides, as below


def _tune_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
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
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser syntax
    return config


def upgrade_database(engine: Engine) -> None:
    """Apply every pending migration (idempotent).

    On PostgreSQL several readerd processes may start at once on one database: each
    migrates under a transaction-level advisory lock, so the first builds the schema
    and the others, once it commits, find it current.
    """
    config = _alembic_config(engine)
    with engine.begin() as connection:
        take_turns(connection, "migrate")
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


def sqlite_path(settings: Settings) -> Path | None:
    """The database file for SQLite URLs (None for other databases or in-memory)."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def ping(engine: Engine) -> None:
    """The health check: SELECT 1 through engine; raises what the database raises."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar_one()


def check_writable(engine: Engine) -> None:
    """A write that is rolled back, so changes nothing; raises what the database raises.

    It proves the file, its directory (for the WAL) and the write lock (BEGIN
    IMMEDIATE) are all usable.
    """
    with engine.connect() as connection, connection.begin() as transaction:
        connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
        transaction.rollback()
