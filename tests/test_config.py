"""Settings: every knob documented, comma lists, fallbacks, clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readerd.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]


def _env_names(settings_cls: type[Settings]) -> set[str]:
    names = set()
    for name, field in settings_cls.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.add(str(choices[0]) if choices else f"READERD_{name.upper()}")
    return names


def test_env_example_documents_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*(READERD_[A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M)
    )
    missing = _env_names(Settings) - documented
    assert not missing, f".env.example lacks: {sorted(missing)}"


def test_fetch_allow_is_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READERD_FETCH_ALLOW", "127.0.0.1, NAS.local")
    assert load_settings().fetch_allow == ["127.0.0.1", "nas.local"]


def test_openai_variables_are_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    settings = load_settings()
    assert settings.llm_api_key and settings.llm_api_key.get_secret_value() == "sk-fallback"
    monkeypatch.setenv("READERD_LLM_API_KEY", "sk-readerd")
    assert load_settings().llm_api_key.get_secret_value() == "sk-readerd"  # type: ignore[union-attr]


def test_offline_unless_a_model_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_settings().use_llm
    monkeypatch.setenv("READERD_LLM_MODEL", "qwen2.5")
    monkeypatch.setenv("READERD_LLM_BASE_URL", "http://127.0.0.1:1/v1")
    assert load_settings().use_llm
    monkeypatch.setenv("READERD_ANALYZER", "offline")
    assert not load_settings().use_llm


def test_bad_summary_language_is_a_config_error(readerd_cli) -> None:  # type: ignore[no-untyped-def]
    result = readerd_cli("stats", check=False, READERD_SUMMARY_LANGUAGE="spanish")
    assert result.returncode == 2
    assert "READERD_SUMMARY_LANGUAGE" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_secret_setting_is_redacted_when_set() -> None:
    """secrets() follows the SecretStr fields: a new secret setting needs no list kept by hand."""
    from pydantic import SecretStr

    secret_fields = [
        name
        for name, field in Settings.model_fields.items()
        if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    ]
    assert len(secret_fields) >= 9
    values = {name: f"secret-value-{i}" for i, name in enumerate(secret_fields)}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    assert sorted(settings.secrets()) == sorted(values.values())
