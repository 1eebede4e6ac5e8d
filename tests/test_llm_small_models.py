"""What small local models get wrong, and what readerd does about it (scripted server, real HTTP).

Peers' users report these with small models: tags that echo the prompt or the schema,
"Here is a summary:" openings, answers cut off at the token limit. readerd rejects them
by validation, asks once more, then keeps the valid parts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from readerd.analyze import OpenAIAnalyzer, ServerProfiles
from readerd.analyze.openai.prompts import CUT_OFF
from readerd.analyze.tools import TOOL_MAX_TOKENS
from readerd.results import ArticleInput
from tests.servers.openai_compat import (
    AnalysisResponder,
    OpenAICompatServer,
    Reply,
    call,
    completion,
    summary_args,
    tag_args,
    text_reply,
    tool_reply,
)
from tests.test_analyze_llm import ARTICLE, analyze, make, settings_for

GOOD_SUMMARY = summary_args("Cities that built bike lanes saw cycling double within five years.")


def named_only(script: dict[str, list[dict[str, Any]]]) -> Any:
    """A server that answers each named tool with the next scripted reply for that tool."""

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(request.get("tool_choice"), dict):
            return text_reply("I can only answer by name.")  # like llama-cpp-python
        name = request["tool_choice"]["function"]["name"]
        return script[name].pop(0) if len(script[name]) > 1 else script[name][0]

    return respond


def test_echoed_and_repeated_tags_are_refused_then_the_valid_ones_kept(
    llm_server: OpenAICompatServer,
) -> None:
    llm_server.respond_with(
        named_only(
            {
                "summarize_article": [tool_reply(call("summarize_article", GOOD_SUMMARY))],
                "tag_article": [
                    tool_reply(call("tag_article", tag_args("tags", "cycling", "cycling"))),
                    tool_reply(call("tag_article", tag_args("topic", "bike lanes", "tag_article"))),
                ],
            }
        )
    )
    result = analyze(llm_server, llm_max_repairs=1)
    assert result.tags == ("bike lanes",)  # echoes dropped, the model's real topic kept
    repair = next(
        m["content"]
        for r in llm_server.requests
        for m in r["messages"]
        if m["role"] == "tool" and "tag_article" in m["content"]
    )
    assert "not words of these instructions: tags" in repair
    invalid = [c for c in result.calls if c.outcome == "invalid"]
    assert invalid and all("instructions" in (c.error or "") for c in invalid)


def test_a_summary_that_restates_the_task_is_asked_again(llm_server: OpenAICompatServer) -> None:
    preamble = summary_args("Here is a summary of the article: cycling doubled in Paris.")
    llm_server.script(
        tool_reply(call("summarize_article", preamble), call("tag_article", tag_args("cycling")))
    )
    llm_server.respond_with(AnalysisResponder())
    result = analyze(llm_server)
    assert not result.summary.lower().startswith("here is")
    assert "not with a phrase like 'Here is a summary:'" in str(llm_server.requests[1]["messages"])


def test_when_every_answer_restates_the_task_the_content_is_kept_without_it(
    llm_server: OpenAICompatServer,
) -> None:
    preamble = summary_args("Here's a short summary: cycling doubled in Paris since 2019.")
    llm_server.respond_with(
        tool_reply(call("summarize_article", preamble), call("tag_article", tag_args("cycling")))
    )
    result = analyze(llm_server, llm_max_repairs=1)
    assert result.summary == "cycling doubled in Paris since 2019."


def test_an_answer_cut_at_max_tokens_is_asked_again_shorter_once(
    llm_server: OpenAICompatServer,
) -> None:
    cut = completion(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("summarize_article", '{"summary": "Cycling in Paris has dou')],
        },
        finish_reason="length",
    )
    llm_server.script(cut)
    llm_server.respond_with(AnalysisResponder())
    result = analyze(llm_server)
    assert result.summary and len(llm_server.requests) == 2
    assert CUT_OFF in str(llm_server.requests[1]["messages"])
    assert llm_server.requests[0]["max_tokens"] == sum(TOOL_MAX_TOKENS.values())


def test_cut_off_twice_stops_asking_that_conversation(llm_server: OpenAICompatServer) -> None:
    cut = completion(
        {"role": "assistant", "content": '{"summary": "Cycling in Paris has dou'}, "length"
    )
    llm_server.respond_with(cut)
    try:
        analyze(llm_server, llm_max_repairs=2)
    except Exception as exc:  # no valid summary anywhere: the article fails, as it should
        assert "no valid summarize_article" in str(exc)
    cut_offs = [r for r in llm_server.requests if CUT_OFF in str(r["messages"])]
    conversations = len(llm_server.requests) - len(cut_offs)
    assert len(cut_offs) <= conversations  # at most one shorter re-ask per conversation


def test_a_server_wanting_max_completion_tokens_gets_it(llm_server: OpenAICompatServer) -> None:
    message = (
        "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead."
    )
    body = {"error": {"message": message, "type": "invalid_request_error", "param": "max_tokens"}}
    llm_server.script(Reply(body, status=400))
    llm_server.respond_with(AnalysisResponder())
    analyzer = make(llm_server)
    result = asyncio.run(analyzer.analyze(ARTICLE))
    assert result.summary
    assert "max_tokens" not in llm_server.requests[1]
    assert llm_server.requests[1]["max_completion_tokens"] == sum(TOOL_MAX_TOKENS.values())
    assert analyzer.profile.token_param == "max_completion_tokens"


def test_what_is_the_same_for_every_article_comes_first(llm_server: OpenAICompatServer) -> None:
    llm_server.respond_with(AnalysisResponder())
    vocabulary = ("cycling", "cities", "energía solar")
    other = ArticleInput(url="https://example.org/b", title="Solar", text="Placas solares. " * 60,
                         language="es", vocabulary=vocabulary)  # fmt: skip
    analyze(llm_server, ArticleInput(**{**ARTICLE.__dict__, "vocabulary": vocabulary}))
    analyze(llm_server, other)
    first, second = (r["messages"] for r in llm_server.requests[:2])
    assert first[0] == second[0]  # system text, rules and vocabulary: a reusable prefix
    assert "energía solar" in first[0]["content"]
    assert llm_server.requests[0]["tools"] == llm_server.requests[1]["tools"]
    assert "Title: The bicycle dividend" in first[-1]["content"]  # the article comes last
    assert "The bicycle dividend" not in first[0]["content"]


def test_cached_prompt_tokens_are_logged_where_the_server_says(
    llm_server: OpenAICompatServer,
) -> None:
    def with_cache(request: dict[str, Any]) -> dict[str, Any]:
        body = AnalysisResponder()(request)
        body["usage"] = {
            "prompt_tokens": 900,
            "completion_tokens": 80,
            "prompt_tokens_details": {"cached_tokens": 512},
        }
        return body

    llm_server.respond_with(with_cache)
    result = analyze(llm_server)
    assert [c.tokens_cached for c in result.calls] == [512]


def test_a_model_swapped_under_the_same_name_sends_the_ladder_back_to_the_top(
    llm_server: OpenAICompatServer,
) -> None:
    analyzer = OpenAIAnalyzer(settings_for(llm_server), profiles=ServerProfiles())
    assert asyncio.run(analyzer.check_model()) is None  # remembers the model's /models entry
    analyzer.profile.mode = "json"  # learnt on that model
    assert asyncio.run(analyzer.check_model()) is None
    assert analyzer.profile.mode == "json"  # same entry: what was learnt stands
    analyzer.profile.fingerprint = '{"id": "test-model", "created": 1}'  # an older entry
    assert asyncio.run(analyzer.check_model()) is None
    assert analyzer.profile.mode == "tools_required"
