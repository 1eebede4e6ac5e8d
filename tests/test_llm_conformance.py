"""Replays every real response in ../shared/fixtures/llm-responses through a local server.

Each fixture's example tool names are mapped to readerd's own (and their arguments
to valid ones, or kept when the shape under test is the bad arguments), and the
expected outcome of each file is stated in CASES. A fixture file without an entry
fails, so the table stays complete.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from readerd.analyze import OpenAIAnalyzer, ServerProfiles
from readerd.config import Settings
from readerd.errors import LLMUnavailableError
from readerd.results import ArticleInput
from tests.servers.openai_compat import (
    AnalysisResponder,
    OpenAICompatServer,
    Reply,
    call,
    tool_reply,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "llm-responses"
TEXT = (Path(__file__).parent / "fixtures" / "llm" / "article_en.txt").read_text()
ARTICLE = ArticleInput(url="https://example.org/bikes", title="Bikes", text=TEXT, language="en")

S, T = "summarize_article", "tag_article"
SUMMARY = "Summary from the fixture."
VALID = {
    "summarize_article": {"summary": SUMMARY, "key_points": ["One.", "Two."], "language": "en"},
    "tag_article": {"tags": ["fixture tag"]},
}
KEEP = "keep"  # keep the fixture's own arguments (invalid for readerd's schema)


# --- mappings, one per shape ----------------------------------------------------------


def map_calls(*spec: tuple[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """tool_calls[i] -> readerd tool spec[i]; arguments made valid in the same type, or kept."""

    def adapt(body: dict[str, Any]) -> dict[str, Any]:
        calls = body["choices"][0]["message"]["tool_calls"]
        for item, (name, how) in zip(calls, spec, strict=True):
            fn = item.get("function", item)  # llama.cpp's legacy shape has no wrapper
            fn["name"] = name
            if how != KEEP and "arguments" in fn:
                args = VALID[name]
                fn["arguments"] = args if isinstance(fn["arguments"], dict) else json.dumps(args)
        return body

    return adapt


def map_wrapper(body: dict[str, Any]) -> dict[str, Any]:
    """multi_tool_use.parallel stays; its inner recipients become readerd's tools."""
    fn = body["choices"][0]["message"]["tool_calls"][0]["function"]
    uses = json.loads(fn["arguments"])["tool_uses"]
    for use, name in zip(uses, ("summarize_article", "tag_article"), strict=True):
        use["recipient_name"] = f"functions.{name}"
        use["parameters"] = VALID[name]
    fn["arguments"] = json.dumps({"tool_uses": uses})
    return body


def map_content(*pairs: tuple[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Text replacements in message.content (calls written as text)."""

    def adapt(body: dict[str, Any]) -> dict[str, Any]:
        message = body["choices"][0]["message"]
        for old, new in pairs:
            assert old in message["content"], old
            message["content"] = message["content"].replace(old, new)
        return body

    return adapt


def map_groq_malformed(body: dict[str, Any]) -> dict[str, Any]:
    """`web_search{json}</function>` -> `summarize_article{valid json}</function>`."""
    generation = body["error"]["failed_generation"]
    name, rest = generation.split("{", 1)
    assert name == "web_search" and rest.endswith("}</function>")
    body["error"]["failed_generation"] = f"{S}{json.dumps(VALID[S])}</function>"
    return body


def map_groq_schema_mismatch(body: dict[str, Any]) -> dict[str, Any]:
    """`{"name": "get_something_by_name", "arguments": {…}}`: name -> tag_article, args kept."""
    generation = body["error"]["failed_generation"]
    assert '"get_something_by_name"' in generation
    body["error"]["failed_generation"] = generation.replace("get_something_by_name", T)
    return body


def as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


QWEN_PARAMS = (
    "<parameter=summary>\n" + SUMMARY + "\n</parameter>\n<parameter=key_points>\n"
    '["One.", "Two."]\n</parameter>\n<parameter=language>\nen'
)
LLAMA_ARGS = json.dumps(VALID["summarize_article"])


@dataclass(frozen=True)
class Case:
    """How to replay one fixture and what readerd must make of it."""

    adapt: Callable[[dict[str, Any]], dict[str, Any]]
    outcome: str  # call-log outcome of the request the fixture answered
    result: str = "analysis"  # or "unavailable"
    when: str = "first"  # "first" | "tools" (every request with tools) | "repair"
    from_fixture: bool = False  # the summary is the fixture's (mapped) one
    mode: str | None = None  # mode of the last request


CASES: dict[str, Case] = {
    "cerebras__tool_call_qwen3_coder.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "deepseek__parallel_tool_calls_with_content.json": Case(
        map_calls((S, ""), (T, "")), "ok", from_fixture=True
    ),
    "deepseek__single_tool_call_with_content.json": Case(
        map_calls((S, "")), "missing", from_fixture=True
    ),
    "gemini_openai_compat__empty_tool_call_id.json": Case(map_calls((T, KEEP)), "invalid"),
    # tool_use_failed: retried in place (a retry often succeeds); persisting, the ladder goes down
    "groq__hallucinated_tool_name_400.json": Case(as_is, "error", mode="tools_required"),
    "groq__model_not_found_404.json": Case(as_is, "error", result="unavailable"),
    "groq__parallel_tool_calls.json": Case(map_calls((S, ""), (T, "")), "ok", from_fixture=True),
    "groq__rate_limit_429.json": Case(as_is, "error"),  # requested > TPM limit: shrink, retry
    "groq__single_tool_call.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "groq__tool_choice_required.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "groq__tool_use_failed_malformed_generation_400.json": Case(
        map_groq_malformed, "error", from_fixture=True
    ),
    "groq__tool_use_failed_required_but_text_400.json": Case(as_is, "error", mode="tools_required"),
    "groq__tool_use_failed_schema_mismatch_400.json": Case(
        map_groq_schema_mismatch, "error", mode="tools_required"
    ),
    "huggingface_router__parallel_tool_calls.json": Case(
        map_calls((S, ""), (T, "")), "ok", from_fixture=True
    ),
    "llamacpp__arguments_as_object.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "llamacpp__doc_example_legacy_tool_shape.json": Case(
        map_calls((S, "")), "missing", from_fixture=True
    ),
    "llamacpp__exceed_context_size_400.json": Case(as_is, "error"),
    "llamacpp__tools_without_jinja_500.json": Case(as_is, "error", when="tools", mode="json"),
    "lmstudio__empty_tool_calls_array.json": Case(as_is, "missing"),
    "mistral__invalid_tool_call_id_400.json": Case(as_is, "error", when="repair"),
    "mistral__single_tool_call.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "mistral__tool_choice_any.json": Case(map_calls((T, "")), "missing"),
    "ollama__legacy_finish_reason_stop_with_tool_calls.json": Case(
        map_calls((S, "")), "missing", from_fixture=True
    ),
    "ollama__tool_call_gpt_oss.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "openai__context_length_exceeded_400.json": Case(as_is, "error"),
    "openai__hallucinated_multi_tool_use_parallel.json": Case(map_wrapper, "ok", from_fixture=True),
    "openai__named_tool_choice_finish_stop.json": Case(
        map_calls((S, "")), "missing", from_fixture=True
    ),
    "openai__parallel_tool_calls.json": Case(
        map_calls((S, ""), (T, ""), (T, "")), "ok", from_fixture=True
    ),
    "openai__rate_limit_429.json": Case(as_is, "error"),  # Retry-After: 1, waited inline
    "openai__single_tool_call.json": Case(map_calls((T, KEEP)), "invalid"),  # arguments "{}"
    "openai__tool_choice_required.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "openrouter__tool_call_missing_arguments.json": Case(map_calls((S, "")), "invalid"),
    "openrouter__tool_call_mistral_small.json": Case(
        map_calls((S, "")), "missing", from_fixture=True
    ),
    "openrouter__upstream_rate_limited_429.json": Case(as_is, "error"),  # no Retry-After: backoff
    "snowflake_cortex__empty_finish_reason.json": Case(
        map_calls((S, "")), "missing", from_fixture=True
    ),
    "vllm__auto_tool_choice_not_enabled_400.json": Case(as_is, "error", mode="tool_named"),
    "vllm__context_length_exceeded_400.json": Case(as_is, "error"),
    "vllm__hermes_parser_missed_qwen3coder_xml.json": Case(
        map_content(("square_the_number", S), ("<parameter=input_num>\n1024", QWEN_PARAMS)),
        "missing",
        from_fixture=True,
    ),
    "vllm__max_tokens_truncated_tool_call_leaks_into_content.json": Case(
        map_content(("get_weather", S)), "invalid"
    ),
    "vllm__newstyle_error_envelope_400.json": Case(as_is, "error", when="repair"),
    "vllm__tool_call_crusoe_hosted.json": Case(map_calls((S, "")), "missing", from_fixture=True),
    "vllm__tool_call_emitted_as_text_llama.json": Case(
        map_content(("get_current_traffic", S), ('{"location": "Sydney"}', LLAMA_ARGS)),
        "missing",
        from_fixture=True,
    ),
    "vllm__tool_choice_without_tools_400.json": Case(as_is, "error", mode="tool_named"),
}


def fixture_reply(path: Path, case: Case) -> Reply:
    """The fixture as a scripted reply, mapped to readerd's tools."""
    data = json.loads(path.read_text())
    headers = {
        k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in data["headers"].items()
    }
    return Reply(
        body=case.adapt(copy.deepcopy(data["body"])), status=data["status"], headers=headers
    )


def script(server: OpenAICompatServer, reply: Reply, case: Case) -> None:
    """Put the fixture where the case says it belongs in the conversation."""
    responder = AnalysisResponder()
    if case.when == "tools":
        server.respond_with(lambda req: reply if "tools" in req else responder(req))
        return
    if case.when == "repair":  # answers the follow-up that echoes an invalid call
        prelude = {**VALID[S], "summary": "Summary before the repair."}
        server.script(tool_reply(call(S, prelude), call(T, {"tags": "not a list"})))
    server.script(reply)
    server.respond_with(responder)


def answered_outcome(calls: list[Any], case: Case) -> str:
    """Outcome of the request the fixture answered."""
    return calls[1 if case.when == "repair" else 0].outcome


NAMES = sorted(set(CASES) | {p.name for p in FIXTURES.glob("*.json")})


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"shared fixtures not found at {FIXTURES}")
@pytest.mark.parametrize("name", NAMES)
def test_fixture_replay(name: str, llm_server: OpenAICompatServer) -> None:
    path = FIXTURES / name
    if name not in CASES:
        pytest.fail(f"{name}: new fixture without an expected outcome in CASES")
    if not path.exists():
        pytest.fail(f"{name}: listed in CASES but the fixture file is gone")
    case = CASES[name]
    script(llm_server, fixture_reply(path, case), case)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, analyzer="openai", llm_base_url=llm_server.base_url, llm_model="test-model"
    )
    analyzer = OpenAIAnalyzer(settings, profiles=ServerProfiles(), backoff=0.01)
    if case.result == "unavailable":
        with pytest.raises(LLMUnavailableError):
            asyncio.run(analyzer.analyze(ARTICLE))
        return
    result = asyncio.run(analyzer.analyze(ARTICLE))
    assert answered_outcome(result.calls, case) == case.outcome
    assert result.summary and result.tags and result.language == "en"
    assert (result.summary == SUMMARY) is case.from_fixture
    assert "Half" not in result.summary and result.coverage == 1.0
    if case.mode:
        assert result.calls[-1].mode == case.mode
    for request in llm_server.requests:  # every echoed call id is answered and non-empty
        ids = [c["id"] for m in request["messages"] for c in m.get("tool_calls", [])]
        answered = [m["tool_call_id"] for m in request["messages"] if m["role"] == "tool"]
        assert all(ids) and sorted(ids) == sorted(answered)
