"""Conformance against the real Linkding 1.42.0 (../shared/services/linkding).

Run with `.venv/bin/pytest -n 0 -m linkding tests/test_linkding_real.py`.

A new user's first hour: five bookmarks (one archived) synced; then edits made through
Linkding's own REST API — a title, tags, an archive, a new bookmark — are what readerd
shows after the next sync, and the sync after that changes nothing. Skipped with the
reason when ../shared is absent, failed instead under CI=true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.linkding_real import CountingProxy, RealLinkding, start_linkding
from tests.servers.openai_compat import OpenAICompatServer
from tests.servers.web import WebServer
from tests.test_writeback import PAGES as WRITEBACK_PAGES
from tests.test_writeback import Service, configure, run_writeback_contract, tagging_llm

__all__ = ["tagging_llm"]  # a fixture, imported for its name

pytestmark = pytest.mark.linkding

SAMPLES = Path(__file__).resolve().parents[1] / "readerd" / "samples"
PAGES = (
    "en-home-composting.html",
    "en-sleep-science.html",
    "en-history-of-the-bicycle.html",
    "es-dieta-mediterranea.html",
    "es-energia-solar-en-casa.html",
    "es-ferrocarril-en-espana.html",
)


@pytest.fixture
def linkding(tmp_path: Path) -> Iterator[RealLinkding]:
    server = start_linkding(tmp_path / "linkding-data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pages(web_server: WebServer) -> list[str]:
    return [web_server.add(f"/{n}.html", (SAMPLES / p).read_text()) for n, p in enumerate(PAGES)]


def writeback_pages(web_server: WebServer) -> dict[str, str]:
    return {
        word: web_server.add(f"/wb-{word}.html", (SAMPLES / name).read_text())
        for word, name in WRITEBACK_PAGES.items()
    }


def point_at(cli: ReaderdCLI, linkding: RealLinkding, **extra: str) -> None:
    cli.env |= {
        "READERD_SOURCE": "linkding",
        "READERD_LINKDING_URL": linkding.url,
        "READERD_LINKDING_TOKEN": linkding.token,
        "READERD_FETCH_ALLOW": "127.0.0.1",
        "READERD_ANALYZER": "offline",
        **extra,
    }


def sync_counts(output: str) -> dict[str, int]:
    found = re.findall(r"(\d+) (new|updated|deleted|unchanged)", output)
    return {word: int(n) for n, word in found}


def rows(cli: ReaderdCLI) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in json.loads(cli("list", "--json").stdout)}


def search_urls(cli: ReaderdCLI, query: str) -> set[str]:
    return {row["url"] for row in json.loads(cli("search", query, "--json").stdout)}


def test_five_bookmarks_then_edits_made_in_linkding_are_seen_after_the_next_sync(
    linkding: RealLinkding, readerd_cli: ReaderdCLI, pages: list[str]
) -> None:
    ids = [
        linkding.add(pages[0], "Compost at home, my notes", ("garden", "home office")),
        linkding.add(pages[1], "", ("health",)),
        linkding.add(pages[2], "Bicycles", ()),
        linkding.add(pages[3], "Dieta", ("cocina",)),
        linkding.add(pages[4], "Solar", ("energía",)),
    ]
    linkding.archive(ids[4])
    point_at(readerd_cli, linkding)
    first = readerd_cli("run", "--once")
    assert sync_counts(first.stdout)["new"] == 5
    before = rows(readerd_cli)
    assert set(before) == set(pages[:5])
    assert before[pages[0]]["title"] == "Compost at home, my notes"
    assert before[pages[0]]["source_tags"] == ["garden", "home-office"]  # Linkding's spelling
    assert before[pages[1]]["title"] == before[pages[1]]["page_title"]  # no title of the user's
    assert before[pages[4]]["state"] == "archived"
    assert all(row["status"] == "done" for row in before.values())

    linkding.patch(ids[0], title="Compostaje casero zqtitle")
    linkding.patch(ids[1], tag_names=["health", "zqsleep"])
    linkding.archive(ids[2])
    new = linkding.add(pages[5], "Trenes zqnew", ("viajes",))
    second = sync_counts(readerd_cli("sync").stdout)
    assert (second["new"], second["updated"], second["deleted"]) == (1, 3, 0)

    readerd_cli("process")
    after = rows(readerd_cli)
    assert after[pages[0]]["title"] == "Compostaje casero zqtitle"
    assert after[pages[1]]["source_tags"] == ["health", "zqsleep"]
    assert after[pages[2]]["state"] == "archived"
    assert after[pages[5]]["title"] == "Trenes zqnew" and after[pages[5]]["status"] == "done"
    shown = json.loads(readerd_cli("show", str(after[pages[0]]["id"]), "--json").stdout)
    assert shown["title"] == "Compostaje casero zqtitle"
    assert shown["page_title"] == before[pages[0]]["page_title"]
    assert search_urls(readerd_cli, "zqtitle") == {pages[0]}
    assert search_urls(readerd_cli, "zqsleep") == {pages[1]}
    assert search_urls(readerd_cli, "zqnew") == {pages[5]}
    assert linkding.get(new)["title"] == "Trenes zqnew"

    third = sync_counts(readerd_cli("sync").stdout)
    assert (third["new"], third["updated"], third["deleted"]) == (0, 0, 0)


def test_writeback_contract_against_the_real_linkding(
    linkding: RealLinkding,
    readerd_cli: ReaderdCLI,
    web_server: WebServer,
    tagging_llm: OpenAICompatServer,
) -> None:
    proxy = CountingProxy(linkding.url)  # counts readerd's requests to the real server
    with proxy:
        service = Service(
            proxy.url,
            linkding.token,
            add=lambda url, title, tags: str(linkding.add(url, title, tags)),
            archive=lambda item: linkding.archive(int(item)),
            get=lambda item: linkding.get(int(item)),
            set_tags=lambda item, tags: linkding.patch(int(item), tag_names=tags) and None,
            requests=lambda: proxy.count,
        )
        configure(readerd_cli, service, tagging_llm)
        pages = writeback_pages(web_server)
        run_writeback_contract(readerd_cli, service, pages)

        # A token Linkding refuses pauses write-back, quoting Linkding's own words.
        linkding.add(pages["compost"] + "?again", "Compost again", ("garden",))
        readerd_cli("run", "--once")
        refused = readerd_cli("writeback", check=False, READERD_LINKDING_TOKEN="0" * 40)
        assert refused.returncode == 3
        assert "paused:" in refused.stdout and "Invalid token." in refused.stdout
        after = readerd_cli("writeback").stdout  # the new one, and the old one's new vocabulary
        assert "2 item(s) written" in after and "0 failed" in after
