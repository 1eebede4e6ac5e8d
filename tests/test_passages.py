"""The passage index: articles cut into windows, searchable, and kept in step with their text."""

from __future__ import annotations

import json
from pathlib import Path

from readerd import store
from readerd.config import load_settings
from readerd.results import Extracted, FetchedPage, SavedLink
from readerd.store.database import make_engine, upgrade_database
from readerd.store.passages import article_passages, refresh_passages, search_passages
from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import OpenAICompatServer, call, text_reply, tool_reply
from tests.test_ask import SOLAR_QUESTION, asking, first_hits, solar_id, tool_results  # noqa: F401


def paragraphs(*topics: str) -> str:
    return "\n\n".join(f"{topic.capitalize()} matters. " * 60 for topic in topics)


def test_passages_follow_the_article_text(backend_url: str, tmp_path: Path) -> None:
    engine = make_engine(load_settings(data_dir=tmp_path, database_url=backend_url))
    upgrade_database(engine)
    store.import_links(engine, [SavedLink("import", "u1", "https://example.org/1")])
    [due] = store.due_links(engine, limit=5)
    page = FetchedPage(due.url, 200, "text/html", b"")

    def save(body: str) -> None:
        store.save_article(engine, due.id, page, Extracted(text=body, title="T", language="en"))

    save(paragraphs("compost", "rainwater", "beekeeping"))
    assert refresh_passages(engine) == 1
    assert refresh_passages(engine) == 0  # nothing changed, nothing re-cut
    [hit] = search_passages(engine, "beekeeping", 5)
    assert hit.link_id == due.id and "[beekeeping]" in hit.text.lower()
    [inside] = article_passages(engine, due.id, "rainwater", 3)
    assert "Rainwater matters." in inside.text and "Compost" not in inside.text
    save(paragraphs("compost", "solar"))
    assert refresh_passages(engine) == 1
    assert not search_passages(engine, "beekeeping", 5)
    assert search_passages(engine, "solar", 5)


def test_get_article_returns_the_passages_about_the_query(
    asking: ReaderdCLI,  # noqa: F811
    llm_server: OpenAICompatServer,
) -> None:
    llm_server.script(
        lambda r: tool_reply(call("get_article", {"id": solar_id(r), "query": "baterías"}))
    )
    llm_server.respond_with(text_reply("-"))
    result = asking("ask", SOLAR_QUESTION, "--json")
    assert json.loads(result.stdout)["rounds"] >= 2
    article = json.loads(tool_results(llm_server.requests[1])[-1])
    assert article["passages"] and all("bater" in p.lower() for p in article["passages"])

