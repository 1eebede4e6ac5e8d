"""Where the settings come from, read without pydantic: for the commands that start at once.

`readerd list`, `show` and `search` need only the database's location, and importing
pydantic costs them more than the whole query (~0.15 s of ~0.35 s). They read it
here; every other command builds the full, validated `readerd.config.Settings`, which
uses the same helpers, so both agree on where the database is.

The names readerd knows (and which of them are secret) are read from the Settings
class's source with `ast`, so this module never repeats the list;
tests/test_config.py checks that the two agree.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

PREFIX = "READERD_"
ALIAS_PREFIXES = (PREFIX, "OPENAI_")
ENV_FILE = Path(".env")


def default_data_dir() -> Path:
    """systemd's StateDirectory, else $XDG_DATA_HOME/readerd, else ~/.local/share/readerd."""
    return _standard_dir("STATE_DIRECTORY", "XDG_DATA_HOME", ".local/share")


def default_cache_dir() -> Path:
    """For what readerd can rebuild: systemd's CacheDirectory, else $XDG_CACHE_HOME/readerd,
    else ~/.cache/readerd."""
    return _standard_dir("CACHE_DIRECTORY", "XDG_CACHE_HOME", ".cache")


def _standard_dir(systemd: str, xdg: str, under_home: str) -> Path:
    """The directory systemd gives the unit, else the XDG base directory's readerd/."""
    if given := os.environ.get(systemd):
        return Path(given.split(":")[0])
    base = os.environ.get(xdg) or str(Path.home() / under_home)
    return Path(base) / "readerd"


def database_url(configured: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL: READERD_DATABASE_URL, else readerd.db in the data directory."""
    return configured or f"sqlite:///{data_dir / 'readerd.db'}"


def _values(environ: Mapping[str, str] | None, env_file: Path) -> dict[str, tuple[str, str]]:
    """Every variable of .env and the environment, upper-cased -> (value, where)."""
    found: dict[str, tuple[str, str]] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        for name, value in dotenv_values(env_file).items():
            found[name.upper()] = (value or "", str(env_file))
    for name, value in (os.environ if environ is None else environ).items():
        found[name.upper()] = (value, "environment")
    return found


def given_names(
    environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE
) -> dict[str, tuple[str, str]]:
    """READERD_* names set in the environment or the .env file -> (value, where).

    Names are matched ignoring case, and the environment wins over .env, as in Settings.
    """
    values = _values(environ, env_file)
    return {name: found for name, found in values.items() if name.startswith(PREFIX)}


def given_values(
    environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE
) -> dict[str, str]:
    """The values of the READERD_* and OPENAI_* names that are set, by upper-case name."""
    values = _values(environ, env_file)
    return {name: found[0] for name, found in values.items() if name.startswith(ALIAS_PREFIXES)}


def configured_data_dir(
    environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE
) -> Path:
    """The data directory the settings would give: READERD_DATA_DIR or the default."""
    data_dir = given_names(environ, env_file).get(PREFIX + "DATA_DIR")
    return Path(data_dir[0]) if data_dir else default_data_dir()


def configured_database_url(
    environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE
) -> str:
    """The database URL the settings would give, from READERD_DATABASE_URL and _DATA_DIR."""
    given = given_names(environ, env_file)
    return database_url(
        given.get(PREFIX + "DATABASE_URL", ("", ""))[0] or None,
        configured_data_dir(environ, env_file),
    )


@cache
def setting_fields() -> dict[str, bool]:
    """Every variable name readerd reads -> whether its value is a secret.

    Read from the annotations of `class Settings` in config.py (a field typed
    SecretStr is a secret), and from the names its aliases list (OPENAI_API_KEY…).
    """
    source = (Path(__file__).parent / "config.py").read_text(encoding="utf-8")
    settings = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "Settings"
    )
    fields: dict[str, bool] = {}
    for statement in settings.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            secret = "SecretStr" in ast.unparse(statement.annotation)
            fields[PREFIX + statement.target.id.upper()] = secret
            for node in ast.walk(statement):
                if isinstance(node, ast.Constant) and str(node.value).startswith(ALIAS_PREFIXES):
                    fields[str(node.value)] = secret
    fields.pop(PREFIX + "MODEL_CONFIG", None)
    return fields


def secret_values(environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE) -> list[str]:
    """The values of every secret setting that is set, for log redaction."""
    secret = setting_fields()
    values = _values(environ, env_file)
    return [values[name][0] for name in secret if secret[name] and values.get(name, ("", ""))[0]]
