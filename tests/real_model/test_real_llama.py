"""readerd against a real llama.cpp server (llama-cpp-python 0.3.36) and a real small model.

SmolLM2-135M is tiny: what it writes is poor, but it is a real model behind a real
grammar engine, so these tests check what our fakes cannot: that llama.cpp accepts
every schema readerd sends as a grammar, that every request is bounded, that the
tool-choice ladder finds the mode this server honours, and that the analysis stored
is the model's own.
"""

from __future__ import annotations

import html
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import trafilatura

from readerd.analyze.openai.prompts import tool_messages
from readerd.analyze.tools import ALL_TOOLS, normalize_tag, salvage, tool_specs
from readerd.results import ArticleInput
from readerd.text.tags import tag_key
from tests.conftest import ReaderdCLI
from tests.servers.llama import ALIAS, N_CTX, LlamaServer, RecordingProxy

# A 135M model on two shared cores can take minutes per article: the suite's 120 s
# per-test limit is for our own servers, not for a real model's generation.
pytestmark = [pytest.mark.real_model, pytest.mark.timeout(900)]

GRAMMAR_REFUSED = ("failed to parse grammar", "error parsing grammar")
SAMPLES = ("en-home-composting.html", "es-energia-solar-en-casa.html")
LONG_READS = ("en-sleep-science.html", "en-history-of-the-bicycle.html")


def copy_samples(folder: Path, *names: str) -> None:
    folder.mkdir(exist_ok=True)
    for name in names:
        with resources.as_file(resources.files("readerd.samples").joinpath(name)) as path:
            shutil.copy(path, folder / name)


def use_model(cli: ReaderdCLI, proxy: RecordingProxy, folder: Path, **extra: str) -> None:
    cli.env.update(
        {
            "READERD_SOURCE": "folder",
            "READERD_FOLDER": str(folder),
            "READERD_LLM_BASE_URL": proxy.base_url,
            "READERD_LLM_MODEL": ALIAS,
            "READERD_LLM_CONCURRENCY": "1",
            "READERD_LLM_CONTEXT_TOKENS": str(N_CTX),
            "READERD_LLM_MAX_REPAIRS": "1",  # one re-ask per mistake keeps the suite short
            **extra,
        }
    )


def links(cli: ReaderdCLI) -> list[dict[str, Any]]:
    return [json.loads(cli("show", str(row["id"]), "--json").stdout) for row in listed(cli)]


def listed(cli: ReaderdCLI) -> list[dict[str, Any]]:
    return json.loads(cli("list", "--json").stdout)


def tag_calls_about(proxy: RecordingProxy, link: dict[str, Any]) -> list[dict[str, Any]]:
    """Arguments of the tag_article calls made in requests about this link's article."""
    found = []
    for exchange in proxy.exchanges:
        request = json.dumps(exchange.request, ensure_ascii=False)
        about = link["url"] in request or (link["title"] or "\0") in request
        if not exchange.path.endswith("/chat/completions") or not about:
            continue
        choices = (exchange.response or {}).get("choices") or [{}]
        for call in (choices[0].get("message") or {}).get("tool_calls") or []:
            if call["function"]["name"] == "tag_article":
                try:
                    found.append(json.loads(call["function"]["arguments"], strict=False))
                except ValueError:
                    continue  # cut off at max_tokens: readerd refuses it too
    return found


def assert_left_to_retry_honestly(link: dict[str, Any]) -> None:
    """A 135M model sometimes misses every bounded attempt at a valid summary: readerd then
    stores no analysis, says why on the item and tries again later (never a made-up one)."""
    assert link["status"] == "pending" and link["attempts"] == 1, link
    assert link["next_attempt_at"] and link["analysis"] is None, link
    assert "no valid summar" in (link["last_error"] or ""), link["last_error"]


def assert_bounded_and_accepted(proxy: RecordingProxy, server: LlamaServer) -> None:
    chats = proxy.chat_requests()
    assert chats, "no request reached the model"
    assert all(isinstance(r.get("max_tokens"), int) and r["max_tokens"] > 0 for r in chats)
    log = server.log()
    assert not any(marker in log for marker in GRAMMAR_REFUSED), log[-3000:]
    assert server.alive()


def test_every_tool_schema_compiles_as_a_grammar(
    llama: RecordingProxy, llama_server: LlamaServer
) -> None:
    article = ArticleInput(
        url="https://example.org/solar",
        title="Rooftop solar",
        text="Rooftop solar panels doubled in two years. Home batteries store the surplus.",
        language="en",
    )
    for name in ALL_TOOLS:
        body = {
            "model": ALIAS,
            "messages": tool_messages(article, article.text, [name]),
            "tools": tool_specs([name]),
            "tool_choice": {"type": "function", "function": {"name": name}},
            "max_tokens": 200,
        }
        reply = httpx.post(f"{llama.base_url}/chat/completions", json=body, timeout=300)
        assert reply.status_code == 200, reply.text
        (tool_call,) = reply.json()["choices"][0]["message"]["tool_calls"]
        assert tool_call["function"]["name"] == name
    assert_bounded_and_accepted(llama, llama_server)


def test_run_once_has_the_model_analyse_english_and_spanish_then_asks_nothing_more(
    readerd_cli: ReaderdCLI, llama: RecordingProxy, llama_server: LlamaServer, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    copy_samples(folder, *SAMPLES)
    use_model(readerd_cli, llama, folder)
    readerd_cli("run", "--once", timeout=540)

    shown = links(readerd_cli)
    assert sorted(s["language"] for s in shown) == ["en", "es"]
    summaries = [" ".join(a["summary"].split()) for a in llama.tool_arguments("summarize_article")]
    for link in shown:
        if link["status"] != "done":
            assert_left_to_retry_honestly(link)
            continue
        assert (link["analysis"]["analyzer"], link["analysis"]["model"]) == ("openai", ALIAS)
        # A 135M model's tags are sometimes all garbage; readerd must then say the tags are
        # its own, and only then: the model's tags whenever any call of its had valid ones.
        calls = tag_calls_about(llama, link)
        kept = [salvage("tag_article", args) for args in calls]
        usable = [args for args, ok in zip(calls, kept, strict=True) if ok is not None]
        tagged = {normalize_tag(t) for args in usable for t in args["tags"]}
        tagged |= {normalize_tag(t) for ok in kept if ok is not None for t in ok.tags}
        assert link["ai_tags"]
        if usable:
            assert link["analysis"]["fallbacks"] == []
            # the model's tags, not ours: compared by readerd's matching key, since readerd
            # stores a tag as displayed ("las_tres_marcadores" is "las tres marcadores")
            assert {tag_key(t) for t in link["ai_tags"]} <= {tag_key(t) for t in tagged}
        else:
            assert link["analysis"]["fallbacks"] == ["tag_article"], calls
        summary = " ".join(link["summary"].split())
        assert any(summary in s for s in summaries), summary  # the model's summary (cleaned)
    assert any(link["status"] == "done" for link in shown), shown  # the model analyses
    assert_bounded_and_accepted(llama, llama_server)

    before = len(llama.chat_requests())
    readerd_cli("run", "--once", timeout=120)
    assert len(llama.chat_requests()) == before  # nothing new, nothing asked again


def test_an_article_longer_than_the_context_is_chunked_and_covered(
    readerd_cli: ReaderdCLI, llama: RecordingProxy, llama_server: LlamaServer, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    copy_samples(tmp_path / "parts", *LONG_READS)
    paragraphs = [
        p
        for name in LONG_READS
        for p in (trafilatura.extract((tmp_path / "parts" / name).read_text()) or "").split("\n")
    ]
    folder.mkdir()
    page = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs if p.strip())
    (folder / "long.html").write_text(
        "<html><head><title>Two long reads</title></head><body><article>"
        f"<h1>Two long reads</h1>{page}</article></body></html>",
        encoding="utf-8",
    )
    use_model(readerd_cli, llama, folder, READERD_LLM_CONTEXT_TOKENS="2048")
    readerd_cli("run", "--once", timeout=540)

    (link,) = links(readerd_cli)
    assert link["word_count"] > 1100  # well over what 2,048 tokens of context can carry
    users = [
        m["content"] for r in llama.chat_requests() for m in r["messages"] if m["role"] == "user"
    ]
    parts = {u.split(" of a long article")[0] for u in users if u.startswith("Below is part ")}
    assert len(parts) >= 2  # each part summarised on its own
    if link["status"] == "done":
        assert link["analysis"]["coverage"] == 1.0
        assert any("summaries of its" in u for u in users)  # then the parts combined
    else:
        assert_left_to_retry_honestly(link)
    assert_bounded_and_accepted(llama, llama_server)


def test_doctor_names_the_server_the_model_and_the_mode_that_works(
    readerd_cli: ReaderdCLI, llama: RecordingProxy, tmp_path: Path
) -> None:
    use_model(readerd_cli, llama, tmp_path)
    result = readerd_cli("doctor", check=False, timeout=300)
    (line,) = [ln for ln in result.stdout.splitlines() if " llm" in ln or ln.startswith("llm")]
    assert "OK" in line and f"{ALIAS} at {llama.base_url} (listed)" in line
    assert "tool choice: named (required: answered text" in line
