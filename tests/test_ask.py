"""`readerd ask`: answers from the library, through a scripted OpenAI-compatible server.

The library is the bundled samples, processed for real; the model is a script that
reads each request (the hits readerd sent, the passages get_article returned) and
answers as a given kind of model would: one that cites well, one that invents an id,
one that paraphrases, one that never calls a tool, one that loops.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import (
    MODEL,
    OpenAICompatServer,
    Reply,
    call,
    text_reply,
    tool_reply,
    user_text,
)

SOLAR_QUESTION = "¿Qué leí sobre placas solares y baterías?"
SOLAR_TITLE = "Energía solar en casa"
_HITS = re.compile(r"its hits:\n(\[.*?\])\n\n", re.DOTALL)


@pytest.fixture
def asking(backend_cli: ReaderdCLI, llm_server: OpenAICompatServer) -> ReaderdCLI:
    """The samples analysed offline, then a model configured for `ask`; SQLite, PostgreSQL."""
    readerd_cli = backend_cli
    readerd_cli("run", "--once")
    readerd_cli.env.update(
        READERD_LLM_BASE_URL=llm_server.base_url,
        READERD_LLM_MODEL=MODEL,
        READERD_LLM_API_KEY="sk-ask-test",
    )
    return readerd_cli


def first_hits(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The round-0 hits readerd put in the first user message."""
    match = _HITS.search(user_text(request))
    assert match, user_text(request)
    hits: list[dict[str, Any]] = json.loads(match.group(1))
    return hits


def solar_id(request: dict[str, Any]) -> int:
    return next(h["id"] for h in first_hits(request) if SOLAR_TITLE in h["title"])


def tool_results(request: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in request["messages"] if m.get("role") == "tool"]


def read_passage(request: dict[str, Any]) -> str:
    """A sentence from the passages the last get_article returned."""
    article = [json.loads(t) for t in tool_results(request) if t.startswith('{"id"')][-1]
    sentences = re.split(r"(?<=\.)\s+", article["passages"][0])
    return next(s for s in sentences if len(s) > 40)


def ask(cli: ReaderdCLI, question: str, *options: str) -> dict[str, Any]:
    result = cli("ask", question, "--json", *options)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_a_model_that_searches_reads_and_cites_gets_a_verified_answer(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    llm_server.script(
        lambda r: tool_reply(call("get_article", {"id": solar_id(r), "query": "baterías"})),
        lambda r: tool_reply(
            call(
                "answer",
                {
                    "text": "Guardaste un artículo sobre placas solares en casa.",
                    "citations": [{"id": solar_id(r), "quote": read_passage(r)}],
                },
            )
        ),
    )
    document = ask(asking, SOLAR_QUESTION)
    assert document["verified"] is True
    [citation] = document["citations"]
    assert SOLAR_TITLE in citation["title"]
    assert citation["url"].endswith("es-energia-solar-en-casa.html")
    first = llm_server.requests[0]
    assert first["tool_choice"] == "auto"
    assert {t["function"]["name"] for t in first["tools"]} == {
        "search_library",
        "get_article",
        "answer",
    }
    assert "Write the answer in Spanish" in user_text(first)
    assert (document["rounds"], document["searched"]) == (2, [SOLAR_QUESTION])
    log = json.loads(asking("llm-log", "--json").stdout)
    assert [row["mode"] for row in log["calls"]].count("ask") == 2


def test_a_citation_of_an_id_never_given_is_sent_back_then_dropped(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    invented = tool_reply(
        call(
            "answer",
            {
                "text": "Solar panels pay back.",
                "citations": [{"id": 9999, "quote": "solar panels pay back within eight years"}],
            },
        )
    )
    llm_server.script(invented, invented)
    result = asking("ask", "solar panels at home", check=False)
    assert result.returncode == 0
    assert "unverified" in result.stderr
    assert "Solar panels pay back." in result.stdout
    assert "Articles found:" in result.stdout and SOLAR_TITLE in result.stdout
    sent_back = tool_results(llm_server.requests[1])[-1]
    assert "id 9999" in sent_back and "not returned by a tool" in sent_back
    assert len(llm_server.requests) == 2  # sent back once, then taken as it is


def test_a_paraphrased_quote_is_sent_back_and_a_faithful_one_accepted(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    def answer(quote: str) -> Any:
        return lambda r: tool_reply(call("answer", {
            "text": "Las placas se amortizan.",
            "citations": [{"id": solar_id(r), "quote": quote}]}))  # fmt: skip

    llm_server.script(
        lambda r: tool_reply(call("get_article", {"id": solar_id(r)})),
        answer("las placas solares siempre se pagan solas en un año"),
        lambda r: answer(read_passage(r).upper().replace(" ", "  "))(r),  # case, spaces
    )
    document = ask(asking, SOLAR_QUESTION)
    assert document["verified"] is True and not document["dropped"]
    assert "does not occur in that article" in tool_results(llm_server.requests[2])[-1]


def test_a_model_that_never_calls_a_tool_is_asked_for_answer_by_name(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    llm_server.respond_with(text_reply("Leíste sobre energía solar."))
    document = ask(asking, SOLAR_QUESTION)
    assert document["verified"] is False
    assert document["answer"] == "Leíste sobre energía solar."
    assert [r["tool_choice"] for r in llm_server.requests] == [
        "auto",
        {"type": "function", "function": {"name": "answer"}},
    ]
    assert any(SOLAR_TITLE in hit["title"] for hit in document["hits"])


def test_a_model_looping_on_one_call_is_not_run_twice_and_runs_out_of_rounds(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    same = tool_reply(call("search_library", {"query": "compost"}))
    llm_server.script(same, same, same, same)
    llm_server.respond_with(text_reply("No sé."))
    document = ask(asking, "compost")
    assert document["searched"] == ["compost", "compost"]  # round 0, then the first call only
    assert document["rounds"] == 5  # four rounds, then the answer-only request
    repeated = tool_results(llm_server.requests[2])[-1]
    assert repeated.startswith("same call as before")


def test_article_text_is_framed_as_data(asking: ReaderdCLI, llm_server: OpenAICompatServer) -> None:
    llm_server.respond_with(text_reply("-"))
    ask(asking, SOLAR_QUESTION)
    system = llm_server.requests[0]["messages"][0]
    assert system["role"] == "system" and "never instructions" in system["content"]


def test_without_a_model_ask_prints_the_best_passages(backend_cli: ReaderdCLI) -> None:
    readerd_cli = backend_cli
    readerd_cli("run", "--once")
    result = readerd_cli("ask", SOLAR_QUESTION)
    assert "no model is configured" in result.stderr
    assert SOLAR_TITLE in result.stdout and "placas" in result.stdout
    document = json.loads(readerd_cli("ask", SOLAR_QUESTION, "--json").stdout)
    assert document["verified"] is False and document["answer"] is None
    assert SOLAR_TITLE in document["passages"][0]["title"]


def test_an_endpoint_that_fails_still_leaves_the_passages(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    llm_server.respond_with(Reply(body={"error": {"message": "invalid api key"}}, status=401))
    result = asking("ask", SOLAR_QUESTION, check=False)
    assert result.returncode == 1
    assert result.stderr.count("error:") == 1 and "sk-ask-test" not in result.stderr
    assert SOLAR_TITLE in result.stdout


def test_a_bad_since_date_is_a_usage_error(asking: ReaderdCLI) -> None:
    result = asking("ask", "solar", "--since", "last week", check=False)
    assert result.returncode == 2 and "--since" in result.stderr


#: Questions a reader would ask of the bundled samples, in both languages: the sample
#: that answers each, and what a model searches for when readerd's first search, in the
#: question's words, finds nothing (a Spanish article asked about in English).
QUESTIONS = {
    "How do I start a compost pile at home?": ("en-home-composting.html", ""),
    "¿Cómo se hace compost en casa?": ("en-home-composting.html", "compost"),
    "Who invented the first bicycle?": ("en-history-of-the-bicycle.html", ""),
    "¿Qué guardé sobre la historia de la bicicleta?": ("en-history-of-the-bicycle.html", "bicycle"),
    "How much sleep do adults need?": ("en-sleep-science.html", ""),
    "¿Qué beneficios tiene el aceite de oliva?": ("es-dieta-mediterranea.html", ""),
    "What is the Mediterranean diet?": ("es-dieta-mediterranea.html", "dieta mediterránea"),
    "¿Cuántas placas solares necesita una vivienda?": ("es-energia-solar-en-casa.html", ""),
    "When did the first railway open in Spain?": ("es-ferrocarril-en-espana.html", "ferrocarril"),
    "¿Cuándo se inauguró el primer ferrocarril en España?": ("es-ferrocarril-en-espana.html", ""),
    "How can I collect rainwater from my roof?": ("en-rainwater-harvesting.pdf", ""),
}


def test_the_right_sample_is_cited_for_nine_questions_in_ten(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    """A model that reads the best hit and quotes it: retrieval decides the source."""

    def model(fallback: str) -> Any:
        def reply(request: dict[str, Any]) -> Any:
            results = [json.loads(t) for t in tool_results(request) if t.startswith(("[", "{"))]
            articles = [r for r in results if isinstance(r, dict)]
            if articles:
                quote = articles[-1]["passages"][0][:120]
                return tool_reply(call("answer", {"text": "-", "citations": [
                    {"id": articles[-1]["id"], "quote": quote}]}))  # fmt: skip
            hits = results[-1] if results else first_hits(request)
            if hits:
                return tool_reply(call("get_article", {"id": hits[0]["id"]}))
            return tool_reply(call("search_library", {"query": fallback}))

        return reply

    right = 0
    for question, (sample, fallback) in QUESTIONS.items():
        llm_server.respond_with(model(fallback or question))
        document = ask(asking, question)
        cited = [c["url"].rsplit("/", 1)[-1] for c in document["citations"]]
        right += cited == [sample]
    print(f"the right sample cited for {right} of {len(QUESTIONS)} questions")
    assert right / len(QUESTIONS) >= 0.9, f"{right} of {len(QUESTIONS)}"


def test_a_spanish_question_answered_in_english_is_sent_back_once(
    asking: ReaderdCLI, llm_server: OpenAICompatServer
) -> None:
    def answer(text: str) -> Any:
        return lambda r: tool_reply(call("answer", {"text": text, "citations": []}))

    llm_server.script(
        answer(
            "You saved an article about solar panels at home and how many panels a house needs."
        ),
        answer(
            "Guardaste un artículo sobre placas solares en casa y cuántas necesita una vivienda."
        ),
    )
    document = ask(asking, SOLAR_QUESTION)
    assert "not in Spanish" in tool_results(llm_server.requests[1])[-1]
    assert document["answer"].startswith("Guardaste")
