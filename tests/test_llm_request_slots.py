"""llm_concurrency bounds the requests in flight at the endpoint, however many articles run."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from readerd.analyze import OpenAIAnalyzer, ServerProfiles
from readerd.config import load_settings
from readerd.results import ArticleInput
from tests.servers.openai_compat import MODEL, AnalysisResponder, OpenAICompatServer

TEXT = (
    "Solar panels on a flat roof need a tilted frame and a permit in most towns. "
    "The inverter turns their direct current into household power. "
    "A battery stores the midday surplus for the evening. "
    "Most homes recover the cost in eight to twelve years."
)


def test_no_more_requests_in_flight_than_llm_concurrency(
    llm_server: OpenAICompatServer, tmp_path: Path
) -> None:
    lock, in_flight, most = threading.Lock(), [0], [0]
    responder = AnalysisResponder()

    def slow(request: dict[str, Any]) -> dict[str, Any]:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.2)  # a model generating: requests overlap if readerd lets them
        with lock:
            in_flight[0] -= 1
        return responder(request)

    llm_server.respond_with(slow)
    settings = load_settings(
        data_dir=tmp_path,
        analyzer="openai",
        llm_base_url=llm_server.base_url,
        llm_model=MODEL,
        llm_concurrency=2,
    )
    analyzer = OpenAIAnalyzer(settings, profiles=ServerProfiles())
    articles = [
        ArticleInput(url=f"https://example.org/{i}", title=f"Solar {i}", text=TEXT, language="en")
        for i in range(6)
    ]

    async def analyse_all() -> list[Any]:
        try:  # six articles at once, as the pipeline's analysis slots may start them
            return await asyncio.gather(*(analyzer.analyze(a) for a in articles))
        finally:
            await analyzer.aclose()

    analyses = asyncio.run(analyse_all())
    assert all(a.summary and a.tags for a in analyses)
    assert len(llm_server.requests) == 6
    assert most[0] == 2  # two at a time: never more, and the limit is used
