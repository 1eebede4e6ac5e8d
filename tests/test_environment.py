"""The light settings path of the read commands agrees with the validated settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from readerd.ask.embeddings import EmbeddingConfig
from readerd.config import Settings, load_settings
from readerd.environment import (
    configured_data_dir,
    configured_database_url,
    given_values,
    secret_values,
    setting_fields,
)
from readerd.errors import ConfigError
from tests.conftest import ReaderdCLI


def test_every_setting_and_alias_is_known_with_its_secrecy() -> None:
    expected: dict[str, bool] = {}
    for name, field in Settings.model_fields.items():
        secret = SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
        expected[f"READERD_{name.upper()}"] = secret
        for alias in getattr(field.validation_alias, "choices", ()):
            expected[str(alias)] = secret
    assert setting_fields() == expected


def _configure(
    variables: dict[str, str], dotenv: str, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run in `directory` with this .env and these variables set."""
    monkeypatch.chdir(directory)
    (directory / ".env").write_text(dotenv)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    "variables, dotenv",
    [
        ({}, ""),
        ({"READERD_DATA_DIR": "/srv/reading"}, ""),
        ({"READERD_DATA_DIR": "/srv/reading"}, "READERD_DATA_DIR=/elsewhere\n"),
        ({}, "readerd_data_dir=/from/dotenv\n"),
        ({"READERD_DATABASE_URL": "sqlite:////srv/other.db"}, "READERD_DATA_DIR=/x\n"),
        ({"READERD_DATABASE_URL": ""}, "READERD_DATA_DIR=/blank/url\n"),
    ],
)
def test_read_commands_find_the_database_the_settings_name(
    variables: dict[str, str],
    dotenv: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _configure(variables, dotenv, tmp_path, monkeypatch)
    assert configured_database_url() == load_settings().db_url


def test_secrets_of_the_light_path_are_the_settings_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("READERD_SMTP_PASSWORD=hunter2-dotenv\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-variable")
    monkeypatch.setenv("READERD_LINKDING_TOKEN", "ld-token")
    monkeypatch.setenv("READERD_LLM_MODEL", "not-a-secret")
    assert sorted(secret_values()) == sorted(load_settings().secrets())
    assert "not-a-secret" not in secret_values()


def test_search_starts_without_pydantic(readerd_cli: ReaderdCLI) -> None:
    """pydantic costs a read command more than its query; it must not creep back in."""
    readerd_cli("run", "--once")
    probe = (
        "import sys, runpy; sys.argv = ['readerd', 'search', 'compost', '--json']\n"
        "try:\n    runpy.run_module('readerd', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "heavy = sorted(m for m in ('pydantic', 'sqlalchemy', 'alembic', 'openai', "
        "'trafilatura') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=readerd_cli.base_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "HEAVY []" in result.stderr, result.stderr
    assert '"url"' in result.stdout  # it did find the library's articles


def test_a_read_command_still_names_a_misspelt_setting(readerd_cli: ReaderdCLI) -> None:
    readerd_cli("run", "--once")
    result = readerd_cli("list", READERD_DATADIR="/nowhere")
    assert "READERD_DATADIR" in result.stderr and "READERD_DATA_DIR" in result.stderr


@pytest.mark.parametrize(
    "variables, dotenv",
    [
        ({}, ""),
        ({"READERD_EMBED_BASE_URL": "http://gpu.lan:11434/v1", "READERD_EMBED_MODEL": "nomic"}, ""),
        (
            {"READERD_EMBED_MODEL": "nomic", "OPENAI_API_KEY": "sk-openai"},
            "READERD_EMBED_BASE_URL=http://from-dotenv/v1\nREADERD_EMBED_DIMENSIONS=256\n",
        ),
        (
            {"READERD_LLM_API_KEY": "sk-llm", "READERD_EMBED_API_KEY": "sk-embed"},
            "readerd_embed_query_prefix=search_query: \nREADERD_LLM_TIMEOUT=7.5\n",
        ),
        ({"READERD_DATA_DIR": "/srv/reading", "READERD_LLM_API_KEY": "sk-llm"}, ""),
    ],
)
def test_semantic_search_reads_the_embedding_settings_the_settings_give(
    variables: dict[str, str],
    dotenv: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _configure(variables, dotenv, tmp_path, monkeypatch)
    light = EmbeddingConfig.from_environment(given_values(), configured_data_dir())
    assert light == EmbeddingConfig.of(load_settings())


@pytest.mark.parametrize("name", ["READERD_EMBED_DIMENSIONS", "READERD_LLM_TIMEOUT"])
def test_a_bad_number_on_the_light_path_names_its_variable(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, "lots")
    with pytest.raises(ConfigError, match=f"{name}: must be"):
        EmbeddingConfig.from_environment(given_values(), configured_data_dir())
