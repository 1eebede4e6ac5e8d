"""What every command needs: the settings (built once per command) and the database.

Public on purpose: each command module imports these; none reaches into another
module's privates. The heavy imports (pydantic settings, SQLAlchemy, Alembic) happen
here, inside the functions, so `readerd --help` never pays for them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from readerd.ask.embeddings import EmbeddingConfig
    from readerd.config import Settings
    from readerd.store.lite import Reader

_loaded: tuple[object, Settings] | None = None


def reset() -> None:
    """Forget the settings of an earlier command (main() calls this first)."""
    global _loaded
    _loaded = None


def _source_key() -> object:
    """What the settings are read from: the variables, the directory and its .env file."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(("READERD_", "OPENAI_")))
    try:
        dotenv = os.stat(".env")
        stamp: tuple[float, int] | None = (dotenv.st_mtime, dotenv.st_size)
    except OSError:
        stamp = None
    homes = [os.environ.get(name) for name in ("STATE_DIRECTORY", "XDG_DATA_HOME", "HOME")]
    return env, os.getcwd(), stamp, homes


def settings() -> Settings:
    """The settings of this command, loaded once; their secrets are redacted from then on.

    Invalid settings raise ConfigError naming every bad READERD_* variable. (They are
    loaded again only if what they are read from changed, as when tests run several
    commands in one process.)
    """
    global _loaded
    key = _source_key()
    if _loaded is None or _loaded[0] != key:
        from readerd.config import load_checked_settings
        from readerd.logs import add_secrets

        loaded = load_checked_settings()
        add_secrets(loaded.secrets())
        _loaded = (key, loaded)
    return _loaded[1]


def analysing_settings() -> Settings:
    """Settings for a command that analyses: an endpoint without a model is resolved or refused."""
    from readerd.analyze.openai.model_choice import resolve_model
    from readerd.cli import console

    resolved, note = resolve_model(settings())
    if note:
        console.print_note(note)
    return resolved


def engine(settings: Settings, *, upgrade: bool = False, write: bool = True) -> Engine:
    """The database engine; a brand-new database is created, an older one is reported."""
    from readerd.store.database import (
        make_engine,
        require_current_schema,
        schema_revisions,
        upgrade_database,
    )

    made = make_engine(settings, write=write)
    # A brand-new database is created on first use; an existing one at another
    # revision is left alone (a running daemon may own it) and reported.
    if upgrade or schema_revisions(made)[0] is None:
        upgrade_database(made)
    else:
        require_current_schema(made)
    return made


def read_engine() -> Engine:
    """A read-only engine on the configured database, for the commands that only show."""
    return engine(settings(), write=False)


def library() -> Reader:
    """The library for a command that only shows: plain sqlite3 when it can, else an engine.

    The sqlite3 path (store.lite) spares SQLAlchemy's and Alembic's import time, and
    finding the database through readerd.environment spares pydantic's; any database
    it does not open takes read_engine(), which validates the settings, creates or
    reports as ever.
    """
    from readerd.environment import configured_database_url, secret_values
    from readerd.logs import add_secrets
    from readerd.store import lite

    add_secrets(secret_values())
    found = lite.open_library(configured_database_url())
    if found is not None:
        return found
    from readerd.store.views import EngineLibrary

    return EngineLibrary(read_engine())


def embedding_config() -> EmbeddingConfig:
    """READERD_EMBED_* for `search --semantic`, read without pydantic (as `library()`)."""
    from readerd.ask.embeddings import EmbeddingConfig
    from readerd.environment import configured_data_dir, given_values, secret_values
    from readerd.logs import add_secrets

    add_secrets(secret_values())
    return EmbeddingConfig.from_environment(given_values(), configured_data_dir())


def database_where() -> str:
    """The configured database, for an error line (credentials masked)."""
    from readerd.errors import ConfigError
    from readerd.logs import redact

    try:
        return redact(settings().db_url.removeprefix("sqlite:///"))
    except (ConfigError, ValueError):
        return "the configured database"
