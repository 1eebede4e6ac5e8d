"""Record and control of the LLM stage, through the real CLI and a real local LLM server.

Language enforcement, the request log and costs, the daily token budget, reprocess,
the model check at start, and the learnt request mode surviving a restart.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from readerd import store
from readerd.analyze import OpenAIAnalyzer, ServerProfiles
from readerd.cli import app
from readerd.config import Settings
from readerd.pipeline import process_due
from readerd.results import Extracted, FetchedPage, SavedLink
from readerd.store.database import make_engine, upgrade_database
from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import (
    MODEL,
    AnalysisResponder,
    OpenAICompatServer,
    call,
    tool_reply,
    user_text,
)

SPANISH = "es-dieta-mediterranea.html"
ENGLISH = ("en-home-composting.html", "en-sleep-science.html")
ENGLISH_SUMMARY = {
    "summary": "The Mediterranean diet is built on olive oil, vegetables, legumes and fish, "
    "and several long studies link it with a healthier heart and a longer life.",
    "key_points": ["Olive oil is the main fat.", "Fish and legumes replace most red meat."],
    "language": "en",
}


@pytest.fixture
def setup(readerd_cli: ReaderdCLI, llm_server: OpenAICompatServer, tmp_path: Path) -> Iterator[Any]:
    """Returns add(*samples): copies bundled samples into a folder source read by the CLI."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    readerd_cli.env.update(
        {
            "READERD_SOURCE": "folder",
            "READERD_FOLDER": str(folder),
            "READERD_LLM_BASE_URL": llm_server.base_url,
            "READERD_LLM_API_KEY": "sk-test-key",
            "READERD_LLM_MODEL": MODEL,
            "READERD_LLM_CONCURRENCY": "1",
        }
    )

    def add(*names: str) -> None:
        for name in names:
            with resources.as_file(resources.files("readerd.samples").joinpath(name)) as path:
                shutil.copy(path, folder / name)

    yield add


def in_process(cli: ReaderdCLI, *args: str, code: int = 0) -> Any:
    """The same CLI run in this process (quicker), for reads around the subprocess runs."""
    env = {**cli.env, "READERD_DATA_DIR": str(cli.data_dir)}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _links(cli: ReaderdCLI) -> dict[str, dict[str, Any]]:
    """`readerd list --json`, keyed by file name."""
    rows = in_process(cli, "list", "--json")
    return {row["url"].rsplit("/", 1)[-1]: row for row in rows}


def _has_tool_message(request: dict[str, Any]) -> bool:
    return any(m.get("role") == "tool" for m in request.get("messages", []))


def test_wrong_language_summary_is_asked_for_again_once(
    readerd_cli: ReaderdCLI, llm_server: OpenAICompatServer, setup: Any, sqlite_rows: Any
) -> None:
    setup(SPANISH)
    spanish = AnalysisResponder()
    llm_server.respond_with(
        lambda r: (
            spanish(r)
            if _has_tool_message(r)
            else tool_reply(
                call("summarize_article", ENGLISH_SUMMARY), call("tag_article", {"tags": ["dieta"]})
            )
        )
    )
    readerd_cli("run", "--once")
    assert len(llm_server.requests) == 2
    repair = [m["content"] for m in llm_server.requests[1]["messages"] if m["role"] == "tool"]
    assert any("Spanish (español)" in m and 'language to "es"' in m for m in repair)
    link = _links(readerd_cli)[SPANISH]
    assert link["language"] == "es" and link["summary_language"] == "es"
    assert "Mediterranean diet is built" not in link["summary"]
    outcomes = sqlite_rows(readerd_cli.db_path, "SELECT outcome FROM llm_call ORDER BY id")
    assert [o for (o,) in outcomes] == ["wrong_language", "ok"]


def extracted_spanish_article(server: OpenAICompatServer, data_dir: Path, **values: Any) -> Any:
    """(settings, engine) of a database in data_dir holding one extracted Spanish article."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        llm_base_url=server.base_url,
        llm_model=MODEL,
        analyzer="openai",
        **values,
    )
    engine = make_engine(settings)
    upgrade_database(engine)
    url = "https://example.org/dieta"
    store.import_links(engine, [SavedLink("import", url, url, title="La dieta")])
    text = (resources.files("tests") / "fixtures/llm/article_es.txt").read_text()
    page = FetchedPage(url, 200, "text/html", b"")
    store.save_article(engine, 1, page, Extracted(text=text, title="La dieta", language="es"))
    return settings, engine


def test_forced_summary_language_is_asked_for(
    llm_server: OpenAICompatServer, tmp_path: Path
) -> None:
    settings, engine = extracted_spanish_article(llm_server, tmp_path, summary_language="en")
    llm_server.respond_with(
        tool_reply(call("summarize_article", ENGLISH_SUMMARY), call("tag_article", {"tags": ["x"]}))
    )
    analyzer = OpenAIAnalyzer(settings, profiles=ServerProfiles())
    assert asyncio.run(process_due(settings, engine, analyzer)).done == 1
    assert len(llm_server.requests) == 1  # an English summary is what was asked for
    assert "in English, whatever the article's language" in user_text(llm_server.requests[0])
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT ar.language, an.language FROM article ar JOIN analysis an USING (link_id)"
        ).one()
    assert tuple(stored) == ("es", "en")


def test_llm_log_shows_every_request_with_outcome_and_cost(
    readerd_cli: ReaderdCLI, llm_server: OpenAICompatServer, setup: Any
) -> None:
    setup(*ENGLISH)
    good = AnalysisResponder()
    bad = {"summary": "x", "key_points": ["only one"], "language": "en"}
    llm_server.script(
        tool_reply(call("summarize_article", bad), call("tag_article", {"tags": ["t"]}))
    )
    llm_server.respond_with(good)
    readerd_cli.env.update({"READERD_LLM_PRICE_IN": "2", "READERD_LLM_PRICE_OUT": "10"})
    readerd_cli("run", "--once")

    log = in_process(readerd_cli, "llm-log", "--json")
    calls = log["calls"]
    assert len(calls) == len(llm_server.requests) == 3
    assert sorted(c["outcome"] for c in calls) == ["invalid", "ok", "ok"]
    invalid = next(c for c in calls if c["outcome"] == "invalid")
    assert "key_points" in invalid["error"]
    for c in calls:
        assert c["model"] == MODEL and c["host"].startswith("127.0.0.1:") and c["link_id"]
        assert c["prompt_version"] == "tools-2" and c["mode"] == "tools_required"
        assert (c["tokens_in"], c["tokens_out"]) == (100, 20)  # the server's usage
        assert c["cost"] == pytest.approx((100 * 2 + 20 * 10) / 1e6)
    assert log["today"]["requests"] == 3 and log["today"]["cost"] == pytest.approx(0.0012)

    text = readerd_cli("llm-log").stdout
    assert "invalid" in text and "cost" in text and "0.0004" in text
    assert "today (" in text and "3 requests, 300 in + 60 out tokens, cost 0.0012" in text
    per_link = in_process(readerd_cli, "llm-log", "--by", "article", "--json")["rows"]
    assert sorted(r["requests"] for r in per_link) == [1, 2]


def test_daily_token_budget_stops_the_llm_stage_until_tomorrow(
    readerd_cli: ReaderdCLI, llm_server: OpenAICompatServer, setup: Any
) -> None:
    setup(SPANISH, ENGLISH[0])
    llm_server.respond_with(AnalysisResponder())
    readerd_cli.env["READERD_LLM_DAILY_TOKEN_BUDGET"] = "100"  # one request uses 120
    first = readerd_cli("run", "--once", check=False)
    assert first.returncode == 3  # the LLM stage stopped
    assert "LLM stage stopped: llm: daily token budget spent (120 of 100" in first.stderr
    assert len(llm_server.requests) == 1
    links = _links(readerd_cli).values()
    assert sorted(link["status"] for link in links) == ["done", "pending"]
    for link in (link for link in links if link["status"] == "pending"):
        assert link["stage"] == "analyze" and link["word_count"] > 100  # fetched and extracted
        assert "daily token budget spent" in link["last_error"] and link["attempts"] == 0

    in_process(readerd_cli, "process")  # nothing is due before tomorrow: nothing to do
    assert len(llm_server.requests) == 1  # nothing more today
    assert "0 left (spent" in " ".join(in_process(readerd_cli, "llm-log").split())


def test_reprocess_reanalyses_only_the_selected_links(
    readerd_cli: ReaderdCLI, llm_server: OpenAICompatServer, setup: Any
) -> None:
    setup(SPANISH, ENGLISH[0])
    llm_server.respond_with(AnalysisResponder())
    readerd_cli("run", "--once")
    assert len(llm_server.requests) == 2

    refused = readerd_cli("reprocess", check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("error: reprocess: give a filter")
    assert len(refused.stderr.strip().splitlines()) == 1
    only = next(t["tag"] for t in in_process(readerd_cli, "tags", "--json") if t["count"] == 1)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert "0 links" in in_process(readerd_cli, "reprocess", "--since", tomorrow, "--all")
    assert "0 links" in in_process(readerd_cli, "reprocess", "--model", "another-model")
    dry = ("reprocess", "--model", MODEL, "--prompt-version", "tools-2", "--dry-run")
    assert "2 links would be queued" in in_process(readerd_cli, *dry)

    assert "1 links queued" in in_process(readerd_cli, "reprocess", "--tag", only, "--model", MODEL)
    in_process(readerd_cli, "process")
    assert len(llm_server.requests) == 3  # only the selected link, although unchanged
    tagged = [row for row in _links(readerd_cli).values() if only in row["tags"]]
    assert len(tagged) == 1 and tagged[0]["status"] == "done"
    assert tagged[0]["title"].split()[0] in user_text(llm_server.requests[-1])

    in_process(readerd_cli, "process")
    assert len(llm_server.requests) == 3  # and nothing else, ever


def test_missing_model_is_said_plainly_and_fetching_goes_on(
    readerd_cli: ReaderdCLI, setup: Any
) -> None:
    setup(ENGLISH[0])
    with OpenAICompatServer(models=("other-model", "tiny-model")) as server:
        readerd_cli.env["READERD_LLM_BASE_URL"] = server.base_url
        result = readerd_cli("run", "--once", check=False)
        assert result.returncode == 3  # the LLM stage stopped
        host = server.base_url.split("//")[1].split("/")[0]
        expected = f'llm: model "{MODEL}" not found at {host}; available: other-model, tiny-model'
        assert expected in result.stderr
        assert server.requests == []  # no analysis request was sent
    for link in _links(readerd_cli).values():
        assert link["status"] == "pending" and link["stage"] == "analyze"
        assert link["word_count"] > 100 and "not found" in link["last_error"]


def test_learnt_request_mode_survives_a_restart(
    llm_server: OpenAICompatServer, tmp_path: Path
) -> None:
    profiles = tmp_path / "llm_profiles.json"  # what an earlier run learnt about this server
    learnt = {"mode": "json", "probed_at": time.time() - 3600}
    profiles.write_text(json.dumps({f"{llm_server.base_url} {MODEL}": learnt}))
    settings, engine = extracted_spanish_article(llm_server, tmp_path)
    llm_server.respond_with(AnalysisResponder())
    assert asyncio.run(process_due(settings, engine)).done == 1  # the analyser of a new process
    first = llm_server.requests[0]
    assert "tools" not in first and first["response_format"] == {"type": "json_object"}
    assert json.loads(profiles.read_text())[f"{llm_server.base_url} {MODEL}"]["mode"] == "json"


def test_a_day_later_the_better_mode_is_tried_again_and_kept(
    llm_server: OpenAICompatServer, tmp_path: Path
) -> None:
    profiles = tmp_path / "llm_profiles.json"  # learnt two days ago, before a server upgrade
    learnt = {"mode": "json", "probed_at": time.time() - 2 * 86400}
    profiles.write_text(json.dumps({f"{llm_server.base_url} {MODEL}": learnt}))
    settings, engine = extracted_spanish_article(llm_server, tmp_path)
    llm_server.respond_with(AnalysisResponder())
    assert asyncio.run(process_due(settings, engine)).done == 1
    assert llm_server.requests[0]["tool_choice"] == "required"
    saved = json.loads(profiles.read_text())[f"{llm_server.base_url} {MODEL}"]
    assert saved["mode"] == "tools_required" and saved["probed_at"] > time.time() - 60


@pytest.mark.parametrize("command", [["llm-log"], ["reprocess"], ["tags"], ["tags", "merge"]])
def test_commands_teach_in_their_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout and "Example" in result.stdout
