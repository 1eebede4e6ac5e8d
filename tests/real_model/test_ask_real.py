"""`readerd ask` against the real llama.cpp server and model.

SmolLM2-135M rarely quotes well; what must hold is the contract: the conversation ends
within its round budget, every request is bounded and compiles as a grammar, and
whatever comes back is either a citation that passes the check or an honest
"unverified", never a citation that fails it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from readerd.ask.citations import quote_problem
from readerd.ask.conversation import MAX_ROUNDS
from tests.conftest import ReaderdCLI
from tests.real_model.test_real_llama import assert_bounded_and_accepted, copy_samples, use_model
from tests.servers.llama import LlamaServer, RecordingProxy

# A 135M model on two shared cores can take minutes per article: the suite's 120 s
# per-test limit is for our own servers, not for a real model's generation.
pytestmark = [pytest.mark.real_model, pytest.mark.timeout(900)]


@pytest.mark.parametrize(
    "question", ["What did I save about composting at home?", "¿Qué leí sobre placas solares?"]
)
def test_ask_ends_in_budget_with_checked_citations_or_says_unverified(
    readerd_cli: ReaderdCLI,
    llama: RecordingProxy,
    llama_server: LlamaServer,
    tmp_path: Path,
    question: str,
) -> None:
    folder = tmp_path / "inbox"
    copy_samples(folder, "en-home-composting.html", "es-energia-solar-en-casa.html")
    use_model(readerd_cli, llama, folder)
    readerd_cli("run", "--once", READERD_ANALYZER="offline")  # the library, quickly
    result = readerd_cli("ask", question, "--json", "--limit", "2")
    document = json.loads(result.stdout)
    assert 1 <= document["rounds"] <= MAX_ROUNDS + 1
    assert document["verified"] is bool(document["citations"])
    for citation in document["citations"]:
        text = json.loads(readerd_cli("show", str(citation["id"]), "--json").stdout)["text"]
        assert quote_problem(citation["quote"], text) is None, citation
    if not document["verified"]:
        assert document["hits"], "an unverified answer still names the articles found"
    assert_bounded_and_accepted(llama, llama_server)
    assert len(llama.chat_requests()) == document["rounds"]
