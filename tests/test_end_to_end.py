"""The whole path, through the real CLI: source → fetch → extract → analyse → store → query.

Every test that stores or reads links runs on SQLite and on PostgreSQL (`backend_cli`).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from readerd.cli import command_names
from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import (
    MODEL,
    AnalysisResponder,
    OpenAICompatServer,
    article_text,
    call,
    tool_reply,
)
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer
from tests.servers.web import WebServer


def _sample(name: str) -> bytes:
    return resources.files("readerd.samples").joinpath(name).read_bytes()


def _links(cli: ReaderdCLI, *args: str) -> dict[str, dict[str, Any]]:
    """`readerd list --json`, keyed by URL."""
    rows = json.loads(cli("list", "--json", "--limit", "500", *args).stdout)
    return {row["url"]: row for row in rows}


def test_quickstart_reads_the_bundled_samples_offline(backend_cli: ReaderdCLI) -> None:
    first = backend_cli("run", "--once")
    assert "7 new" in first.stdout
    assert "Two Wheels, Two Centuries" in first.stdout  # it prints what it stored

    links = _links(backend_cli)
    assert len(links) == 7
    assert {row["status"] for row in links.values()} == {"done"}
    assert {row["language"] for row in links.values()} == {"en", "es"}
    for row in links.values():
        assert row["summary"] and row["tags"] and row["word_count"] > 100
    pdf = next(row for url, row in links.items() if url.endswith(".pdf"))
    assert pdf["title"] and pdf["summary"]

    found = json.loads(backend_cli("search", "energia", "--json").stdout)  # no accent typed
    assert found[0]["title"].startswith("Energía solar en casa")
    spanish = json.loads(backend_cli("show", str(found[0]["id"]), "--json").stdout)
    assert spanish["summary_language"] == "es" and spanish["key_points"]
    analysed_at = spanish["analysis"]["analyzed_at"]

    again = backend_cli("run", "--once")
    assert "0 new" in again.stdout and "0 analysed" in again.stdout
    unchanged = json.loads(backend_cli("show", str(found[0]["id"]), "--json").stdout)
    assert unchanged["analysis"]["analyzed_at"] == analysed_at


def _serve_articles(web: WebServer) -> dict[str, str]:
    web.add_standard_routes()
    return {
        "en": web.url("/article.html"),
        "es": web.add("/es.html", _sample("es-dieta-mediterranea.html")),
        "rain": web.url("/doc.pdf"),
        "hops": web.url("/hop2"),
        "missing": web.url("/missing"),
        "image": web.url("/image.png"),
    }


def _llm_script(server: OpenAICompatServer) -> None:
    """Valid calls, except: the first Spanish request gets an invalid call that must be
    repaired, and the PDF's model never calls tag_article."""
    good, summary_only = AnalysisResponder(), AnalysisResponder(tools=("summarize_article",))
    broken = {"done": False}

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        text = article_text(request)
        if "dieta" in text and not broken["done"]:
            broken["done"] = True
            bad = {"summary": "Resumen.", "key_points": ["Uno."], "language": "spanish"}
            return tool_reply(call("summarize_article", bad), call("tag_article", {"tags": "x"}))
        if "rainwater" in text.lower() and "compost" not in text.lower():
            return summary_only(request)
        return good(request)

    server.respond_with(respond)


def _pocket_env(pocket: PocketServer, llm: OpenAICompatServer) -> dict[str, str]:
    return {
        "READERD_SOURCE": "pocket",
        "READERD_POCKET_URL": pocket.url,
        "READERD_POCKET_CONSUMER_KEY": CONSUMER_KEY,
        "READERD_POCKET_ACCESS_TOKEN": ACCESS_TOKEN,
        "READERD_FETCH_ALLOW": "127.0.0.1",
        "READERD_LLM_BASE_URL": llm.base_url,
        "READERD_LLM_API_KEY": "sk-test-key",
        "READERD_LLM_MODEL": MODEL,
        "READERD_FETCH_TIMEOUT": "5",
    }


def test_pocket_to_llm_analysis_end_to_end(
    backend_cli: ReaderdCLI,
    pocket_server: PocketServer,
    web_server: WebServer,
    llm_server: OpenAICompatServer,
) -> None:
    urls = _serve_articles(web_server)
    ids = {
        name: pocket_server.add_item(url, f"saved {name}", tags=("inbox",))
        for name, url in urls.items()
    }
    _llm_script(llm_server)
    backend_cli.env.update(_pocket_env(pocket_server, llm_server))

    run = backend_cli("run", "--once", check=False)
    assert run.returncode == 1  # the missing page and the image are failed items
    links = _links(backend_cli)
    assert links[urls["en"]]["status"] == "done"
    assert links[urls["en"]]["ai_tags"] and links[urls["en"]]["source_tags"] == ["inbox"]
    assert links[urls["es"]]["status"] == "done"
    assert links[urls["es"]]["language"] == "es"
    assert links[urls["es"]]["summary_language"] == "es"
    assert links[urls["hops"]]["status"] == "done"  # two redirects followed
    assert links[urls["rain"]]["status"] == "done" and links[urls["rain"]]["ai_tags"]
    # The PDF's tags are the offline analyser's, and readerd says so; the others are the model's.
    rain = backend_cli("show", str(links[urls["rain"]]["id"]), "--json")
    assert json.loads(rain.stdout)["analysis"]["fallbacks"] == ["tag_article"]
    en = json.loads(backend_cli("show", str(links[urls["en"]]["id"]), "--json").stdout)
    assert en["analysis"]["fallbacks"] == []
    shown = backend_cli("show", str(links[urls["rain"]]["id"])).stdout
    assert "tags by the offline analyser: the model gave no valid tags" in shown
    assert links[urls["missing"]]["status"] == "failed"
    assert "404" in links[urls["missing"]]["last_error"]
    assert links[urls["image"]]["status"] == "unsupported"
    assert "image/png" in links[urls["image"]]["last_error"]

    repaired = [
        r
        for r in llm_server.requests
        if any(m.get("role") == "tool" for m in r.get("messages", []))
    ]
    assert repaired, "the invalid call was never answered with its error"
    models = backend_cli.rows("SELECT DISTINCT model, prompt_version FROM analysis")
    assert tuple({m for m, _ in models}) == (MODEL,)
    outcomes = dict(backend_cli.rows("SELECT outcome, count(*) FROM llm_call GROUP BY outcome"))
    assert outcomes["ok"] >= 3 and outcomes["invalid"] >= 1 and outcomes["missing"] >= 1

    # Incremental: the second sync sends the stored cursor and sees only the deletion.
    pocket_server.delete_item(ids["en"])
    requests_before = len(llm_server.requests)
    second = backend_cli("run", "--once")
    assert "1 deleted" in second.stdout
    assert pocket_server.requests[-1].body.get("since")
    assert urls["en"] not in _links(backend_cli)
    kept = backend_cli.rows(
        "SELECT l.deleted, a.summary FROM link l JOIN analysis a "
        "ON a.link_id = l.id WHERE l.url = :url",
        url=urls["en"],
    )
    assert kept and kept[0][0] == 1 and kept[0][1]  # deleted, analysis kept
    assert len(llm_server.requests) == requests_before  # nothing analysed twice


def test_pocket_auth_error_is_one_clear_line(
    backend_cli: ReaderdCLI, pocket_server: PocketServer, llm_server: OpenAICompatServer
) -> None:
    backend_cli.env.update(_pocket_env(pocket_server, llm_server))
    result = backend_cli("sync", check=False, READERD_POCKET_ACCESS_TOKEN="wrong-token")
    assert result.returncode == 3  # the sync stage stopped
    assert "Invalid access token" in result.stderr
    assert "Traceback" not in result.stderr and "wrong-token" not in result.stderr
    status = json.loads(backend_cli("stats", "--json").stdout)["sources"][0]
    assert status["source"] == "pocket" and "error" in status["last_result"]


def test_import_then_process(
    backend_cli: ReaderdCLI, web_server: WebServer, tmp_path: Path
) -> None:
    urls = _serve_articles(web_server)
    export = tmp_path / "part_000000.csv"
    export.write_text(
        "title,url,time_added,cursor,tags,status\n"
        f"Compost,{urls['en']},1700000000,1,jardín|casa,unread\n"
        f"Dieta,{urls['es']},1700000100,2,,archive\n",
        encoding="utf-8",
    )
    backend_cli.env["READERD_FETCH_ALLOW"] = "127.0.0.1"
    imported = backend_cli("import", str(export))
    assert "2 new" in imported.stdout
    backend_cli("process")
    links = _links(backend_cli)
    assert links[urls["en"]]["status"] == "done"
    assert links[urls["en"]]["source_tags"] == ["casa", "jardín"]
    assert links[urls["es"]]["state"] == "archived"
    assert "2 new" not in backend_cli("import", str(export)).stdout  # idempotent


def test_private_addresses_are_not_fetched_unless_allowed(
    backend_cli: ReaderdCLI, web_server: WebServer, tmp_path: Path
) -> None:
    url = web_server.add("/secret.html", _sample("en-sleep-science.html"))
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "links.txt").write_text(f"{url}\n", encoding="utf-8")
    (folder / "local.html").write_bytes(_sample("en-home-composting.html"))
    backend_cli.env.update({"READERD_SOURCE": "folder", "READERD_FOLDER": str(folder)})
    assert backend_cli("run", "--once", check=False).returncode == 1  # one failed item
    links = _links(backend_cli)
    assert links[url]["status"] == "failed"
    assert "127.0.0.1" in links[url]["last_error"]
    assert web_server.connections == []
    local = next(row for u, row in links.items() if u.endswith("local.html"))
    assert local["status"] == "done"  # the other item is unaffected


def test_every_command_has_help(readerd_cli: ReaderdCLI) -> None:
    # --help opens no database: the same on both backends, so SQLite only.
    commands = command_names()  # the real list: a new command is covered without an edit here
    assert {"run", "digest", "doctor", "status", "db backup", "tags merge"} <= set(commands)
    for command in commands:
        result = readerd_cli(*command.split(), "--help")
        assert "Usage" in result.stdout and len(result.stdout) > 100, command


def test_unknown_link_is_one_clear_line(backend_cli: ReaderdCLI) -> None:
    backend_cli("db", "upgrade")
    result = backend_cli("show", "999", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: show: no link with id 999"]
