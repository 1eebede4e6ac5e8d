"""`readerd doctor` and `readerd status` against real files and local servers."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from readerd.cli.doctor import check_database, check_llm, check_smtp, check_source
from readerd.config import Settings, load_settings
from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import (
    MODEL,
    AnalysisResponder,
    OpenAICompatServer,
    call,
    tag_args,
    text_reply,
    tool_reply,
)
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer
from tests.servers.smtp import PASSWORD, USER, StartServer, smtp_certificates, start_smtp

__all__ = ["smtp_certificates", "start_smtp"]  # fixtures used below


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No READERD_* from the developer's shell or .env leaks into these settings."""
    for name in list(os.environ):
        if name.startswith(("READERD_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings(tmp_path: Path, **overrides: object) -> Settings:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    base: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "source": "folder",
        "folder": inbox,
        "analyzer": "offline",
    }
    return load_settings(**{**base, **overrides})


def test_doctor_all_ok_with_folder_source_and_offline_analyser(
    readerd_cli: ReaderdCLI, tmp_path: Path
) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.html").write_text("<html><body><p>Hello</p></body></html>")
    readerd_cli.env.update(
        READERD_SOURCE="folder", READERD_FOLDER=str(tmp_path / "inbox"), READERD_ANALYZER="offline"
    )
    readerd_cli("db", "upgrade")
    lines = readerd_cli("doctor").stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["OK", "OK", "OK", "SKIP", "SKIP", "SKIP"]
    assert lines[0].startswith("OK  config (source folder")
    assert lines[1].startswith("OK  database (sqlite:///") and "writable" in lines[1]
    assert lines[2] == f"OK  source (folder {tmp_path / 'inbox'}, 1 entries)"
    assert lines[3].startswith("SKIP llm: the offline analyser is used")
    assert lines[4] == "SKIP smtp: READERD_SMTP_HOST is not set (no digest e-mail)"


def test_doctor_fails_naming_the_broken_setting(readerd_cli: ReaderdCLI, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = readerd_cli(
        "doctor",
        check=False,
        READERD_SOURCE="folder",
        READERD_FOLDER=str(missing),
        READERD_ANALYZER="offline",
    )
    assert result.returncode == 1
    assert f"FAIL source: folder: READERD_FOLDER={missing} is not a directory" in result.stdout
    assert "FAIL database: " in result.stdout and "readerd db upgrade" in result.stdout


def test_doctor_reports_invalid_config_and_skips_the_rest(readerd_cli: ReaderdCLI) -> None:
    result = readerd_cli("doctor", check=False, READERD_SYNC_INTERVAL="soon")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL config: READERD_SYNC_INTERVAL: ")
    assert all(line.startswith("SKIP ") for line in lines[1:]) and len(lines) == 6


def test_database_check_finds_an_old_schema(readerd_cli: ReaderdCLI, tmp_path: Path) -> None:
    readerd_cli("db", "upgrade")
    with sqlite3.connect(readerd_cli.db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    result = check_database(settings(tmp_path, data_dir=readerd_cli.data_dir))
    assert result.state == "FAIL"
    assert result.detail.startswith("schema is at 0001, this readerd needs ")


def test_pocket_check_uses_the_credentials(pocket_server: PocketServer, tmp_path: Path) -> None:
    pocket = {
        "source": "pocket",
        "pocket_url": pocket_server.url,
        "pocket_consumer_key": CONSUMER_KEY,
    }
    good = check_source(settings(tmp_path, **pocket, pocket_access_token=ACCESS_TOKEN))
    assert (good.state, good.detail) == ("OK", f"pocket {pocket_server.url}/v3/get, authorised")
    assert pocket_server.requests[-1].body["count"] == 1
    bad = check_source(settings(tmp_path, **pocket, pocket_access_token="wrong-token"))
    assert bad.state == "FAIL"
    assert "pocket: get failed: status=401" in bad.detail and "Invalid access token" in bad.detail


def test_pocket_check_reports_an_unreachable_server(tmp_path: Path) -> None:
    result = check_source(
        settings(
            tmp_path,
            source="pocket",
            pocket_url="http://127.0.0.1:9",
            pocket_consumer_key="k",
            pocket_access_token="t",
        )
    )
    assert (result.state, result.detail) == (
        "FAIL",
        "pocket: cannot connect to 127.0.0.1:9: connection refused",
    )


def test_llm_check_asks_the_endpoint_for_its_models(
    llm_server: OpenAICompatServer, tmp_path: Path
) -> None:
    llm_server.respond_with(AnalysisResponder())
    llm = {"analyzer": "openai", "llm_base_url": llm_server.base_url, "llm_api_key": "sk-test"}
    ok = check_llm(settings(tmp_path, **llm, llm_model="test-model"))
    assert (ok.state, ok.detail) == (
        "OK",
        f"test-model at {llm_server.base_url} (listed); tool choice: required",
    )
    assert all(r["max_tokens"] <= 150 for r in llm_server.requests)  # a probe costs little
    host = llm_server.base_url.split("//")[1].removesuffix("/v1")
    missing = check_llm(settings(tmp_path, **llm, llm_model="llama-9000"))
    assert (missing.state, missing.detail) == (
        "FAIL",
        f"model 'llama-9000' is not served by {host} (test-model)",
    )


def test_llm_check_accepts_what_the_daemon_accepts_and_names_the_working_mode(
    tmp_path: Path,
) -> None:
    def like_llama_cpp(request: dict[str, Any]) -> dict[str, Any]:
        """Tool calls only for a named tool choice; "required" and "auto" get prose."""
        if isinstance(request.get("tool_choice"), dict):
            return tool_reply(call("tag_article", tag_args("solar energy", "batteries")))
        return text_reply("Rooftop solar is great!")

    with OpenAICompatServer(models=("llama3.1:latest",)) as server:
        server.respond_with(like_llama_cpp)
        llm = {"analyzer": "openai", "llm_base_url": server.base_url, "llm_model": "llama3.1"}
        result = check_llm(settings(tmp_path, **llm))
    assert result.state == "OK", result.detail  # Ollama's ':latest' is the same model
    assert result.detail.endswith("tool choice: named (required: answered text)")


def test_llm_check_counts_a_named_call_with_bad_tags_as_the_mode_working(
    tmp_path: Path,
) -> None:
    # A small model at its server's default temperature sometimes fills a forced call
    # with junk (llama.cpp with SmolLM2 did, 6 probes in 60); the mode still works, and
    # the analysis re-asks with the validation error. A prose answer is still no call.
    def junk_tags_when_named(request: dict[str, Any]) -> dict[str, Any]:
        if isinstance(request.get("tool_choice"), dict):
            return tool_reply(call("tag_article", {"tags": ["{", "https://example.org/"]}))
        return text_reply("Rooftop solar is great!")

    with OpenAICompatServer() as server:
        server.respond_with(junk_tags_when_named)
        llm = {"analyzer": "openai", "llm_base_url": server.base_url, "llm_model": MODEL}
        result = check_llm(settings(tmp_path, **llm))
    assert result.state == "OK", result.detail
    assert result.detail.endswith(
        "tool choice: named (required: answered text; named: the call's tags failed "
        "validation once)"
    )


def test_llm_check_skips_the_offline_analyser(tmp_path: Path) -> None:
    assert check_llm(settings(tmp_path)).state == "SKIP"


def test_smtp_check_logs_in_with_starttls(start_smtp: StartServer, tmp_path: Path) -> None:
    server = start_smtp("starttls")
    mail = {
        **server.settings(),
        "smtp_user": USER,
        "digest_to": ["me@example.org"],
        "digest_from": "readerd@example.org",
    }
    ok = check_smtp(settings(tmp_path, **mail, smtp_password=PASSWORD))
    assert ok.state == "OK", ok.detail
    assert f"logged in as {USER}" in ok.detail
    bad = check_smtp(settings(tmp_path, **mail, smtp_password="wrong"))
    assert bad.state == "FAIL" and bad.detail.startswith("smtp: login refused by 127.0.0.1:")


def test_smtp_check_refuses_a_password_in_clear_text(
    start_smtp: StartServer, tmp_path: Path
) -> None:
    server = start_smtp("none")
    result = check_smtp(
        settings(
            tmp_path,
            **server.settings(),
            smtp_user=USER,
            smtp_password=PASSWORD,
            digest_to=["me@example.org"],
            digest_from="readerd@example.org",
        )
    )
    assert result.state == "FAIL" and "refusing to log in over an unencrypted" in result.detail


def test_status_before_anything_ran(readerd_cli: ReaderdCLI) -> None:
    report = json.loads(readerd_cli("status", "--json").stdout)
    assert report["daemon"]["running"] is False
    assert "does not exist yet" in report["database"]["error"]
    assert not readerd_cli.db_path.exists()  # status never creates the database
    text = readerd_cli("status").stdout
    assert text.startswith("daemon: never started")
