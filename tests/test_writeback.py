"""Write-back to Linkding through the real CLI, against the fake (and, in
tests/test_linkding_real.py, the same contract against the real Linkding 1.42.0).

The contract a careful user trusts: readerd's tags land next to the user's and the
user's are never touched; only good tags (vocabulary, at most 5, Linkding's spelling);
--dry-run writes nothing; a tag the user deletes is never re-added; an edit the user
makes between sync and write-back wins; a second write-back makes no request. The fake
adds what the real server cannot be made to do on cue: 429, 401, 404.

The write-back ledger is readerd's database: each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import MODEL, AnalysisResponder, OpenAICompatServer, article_text
from tests.servers.read_later import LinkdingFake, serve
from tests.servers.web import WebServer

SAMPLES = Path(__file__).resolve().parents[1] / "readerd" / "samples"
PAGES = {  # a word only that article has -> the sample
    "compost": "en-home-composting.html",
    "sleep": "en-sleep-science.html",
    "bicycle": "en-history-of-the-bicycle.html",
    "dieta": "es-dieta-mediterranea.html",
    "solar": "es-energia-solar-en-casa.html",
    "ferrocarril": "es-ferrocarril-en-espana.html",
}
AI_TAGS = {  # what the (scripted) LLM tags each article with
    "compost": ["composting", "soil", "garden", "onlyhere"],
    "sleep": ["health", "sleep science", "composting", "bicycles", "cooking"],
    "bicycle": ["bicycles", "history", "sleep science", "soil"],
    "dieta": ["cooking", "health", "history"],
    "solar": ["energy", "Home Office", "cooking"],
    "ferrocarril": ["history", "energy", "trains"],
}
USED_ONCE = {"onlyhere", "trains"}  # never written: not vocabulary


class TaggingResponder(AnalysisResponder):
    """Valid analyses, with the tags of AI_TAGS (or `tags`) for each sample article."""

    def __init__(self, tags: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.tags = tags or AI_TAGS

    def arguments(self, request: dict[str, Any], name: str) -> dict[str, Any]:
        if name == "tag_article":
            text = article_text(request).lower()
            for word, tags in self.tags.items():
                if word in text:
                    return {"tags": tags}
        return super().arguments(request, name)


@dataclass
class Service:
    """What the contract needs of a Linkding, real or fake: the user's side of it."""

    url: str
    token: str
    add: Callable[[str, str, tuple[str, ...]], str]  # url, title, tags -> id
    archive: Callable[[str], None]
    get: Callable[[str], dict[str, Any]]  # the bookmark as the API shows it
    set_tags: Callable[[str, list[str]], None]  # the user edits the tags
    requests: Callable[[], int]  # requests the server has had


def fake_service(fake: LinkdingFake) -> Service:
    def set_tags(item: str, tags: list[str]) -> None:
        fake.edit(item, tags=fake.spell(tags))

    return Service(
        fake.url,
        fake.secret,
        add=lambda url, title, tags: fake.add(url, title, tags=tags),
        archive=lambda item: fake.update(item, archived=True),
        get=lambda item: dict(fake.items[item]),
        set_tags=set_tags,
        requests=lambda: len(fake.requests),
    )


@pytest.fixture
def pages(web_server: WebServer) -> dict[str, str]:
    return {
        word: web_server.add(f"/{word}.html", (SAMPLES / name).read_text())
        for word, name in PAGES.items()
    }


@pytest.fixture
def tagging_llm() -> Iterator[OpenAICompatServer]:
    with OpenAICompatServer() as server:
        server.respond_with(TaggingResponder())
        yield server


def configure(cli: ReaderdCLI, service: Service, llm: OpenAICompatServer) -> None:
    cli.env |= {
        "READERD_SOURCE": "linkding",
        "READERD_LINKDING_URL": service.url,
        "READERD_LINKDING_TOKEN": service.token,
        "READERD_FETCH_ALLOW": "127.0.0.1",
        "READERD_LLM_BASE_URL": llm.base_url,
        "READERD_LLM_API_KEY": "sk-test",
        "READERD_LLM_MODEL": MODEL,
        "READERD_WRITEBACK": "tags",
        "READERD_WRITEBACK_RATE": "50",
    }


def tags_of(service: Service, item: str) -> list[str]:
    return list(service.get(item)["tag_names"])


def library(cli: ReaderdCLI) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in json.loads(cli("list", "--json").stdout)}


def run_writeback_contract(cli: ReaderdCLI, service: Service, pages: dict[str, str]) -> None:
    """The whole contract, as a user lives it: used against the fake and the real Linkding."""
    human = {
        "compost": ("Garden", "home office"),
        "sleep": ("health",),
        "bicycle": (),
        "dieta": ("cocina",),
        "solar": ("energía",),
    }
    ids = {word: service.add(pages[word], f"My {word}", tags) for word, tags in human.items()}
    service.archive(ids["solar"])
    cli("run", "--once")
    assert all(row["status"] == "done" for row in library(cli).values())
    before = {word: service.get(item) for word, item in ids.items()}

    preview = cli("writeback", "--dry-run").stdout
    assert f'{ids["compost"]} "My compost": +composting +soil' in preview
    assert "(yours, untouched: Garden, home-office)" in preview
    assert "nothing written" in preview
    assert {word: service.get(item) for word, item in ids.items()} == before
    off = cli("writeback", check=False, READERD_WRITEBACK="off")
    assert off.returncode == 2 and "READERD_WRITEBACK=tags" in off.stderr

    written = cli("writeback").stdout
    assert "write-back linkding: 5 item(s) written" in written
    tags = {word: tags_of(service, item) for word, item in ids.items()}
    for word in human:  # the user's tags, exactly as Linkding spells them
        assert set(before[word]["tag_names"]) <= set(tags[word])
    assert set(tags["compost"]) == {"Garden", "home-office", "composting", "soil"}
    assert set(tags["sleep"]) == {"health", "cooking", "bicycles", "composting", "sleep-science"}
    assert set(tags["solar"]) == {"energía", "cooking", "home-office"}  # not "Home-Office"
    assert all(len(set(t) - set(before[w]["tag_names"])) <= 5 for w, t in tags.items())
    assert not USED_ONCE & {tag for found in tags.values() for tag in found}

    requests = service.requests()
    again = cli("writeback").stdout
    assert "nothing to write (0 requests)" in again
    assert service.requests() == requests
    synced = cli("sync").stdout
    assert "0 new, 0 updated" in synced  # readerd's own write is not a change of the user's
    rows = library(cli)
    assert rows[pages["compost"]]["source_tags"] == ["Garden", "home-office"]

    # The user deletes one of readerd's tags, and adds one of their own elsewhere.
    service.set_tags(ids["compost"], ["Garden", "home-office", "composting"])
    service.set_tags(ids["bicycle"], [*tags["bicycle"], "mine"])
    cli("sync")
    assert library(cli)[pages["bicycle"]]["source_tags"] == ["mine"]
    assert "nothing to write (0 requests)" in cli("writeback").stdout
    assert "soil" not in tags_of(service, ids["compost"])  # never re-added
    assert "+soil" not in cli("writeback", "--dry-run").stdout

    # A new bookmark makes "energy" vocabulary; the user edits the solar one meanwhile.
    ids["ferrocarril"] = service.add(pages["ferrocarril"], "Trenes", ())
    cli("run", "--once")
    service.set_tags(ids["solar"], [*tags_of(service, ids["solar"]), "solar-power"])
    first = cli("writeback").stdout
    assert "1 changed at the source since the sync" in first
    assert "solar-power" in tags_of(service, ids["solar"])  # the user's edit stands
    assert "energy" not in tags_of(service, ids["solar"])
    assert set(tags_of(service, ids["ferrocarril"])) == {"history", "energy"}
    second = cli("writeback").stdout
    assert "1 item(s) written" in second
    assert {"solar-power", "energy", "energía"} <= set(tags_of(service, ids["solar"]))
    requests = service.requests()
    assert "nothing to write (0 requests)" in cli("writeback").stdout
    assert service.requests() == requests

    # Archiving only on request, and only with READERD_WRITEBACK=tags+archive.
    dieta = str(library(cli)[pages["dieta"]]["id"])
    assert cli("archive", dieta, check=False).returncode == 2
    tags = {word: tags_of(service, item) for word, item in ids.items()}
    assert service.get(ids["dieta"])["is_archived"] is False
    cli("archive", dieta, READERD_WRITEBACK="tags+archive")
    assert service.get(ids["dieta"])["is_archived"] is True
    assert {word: tags_of(service, item) for word, item in ids.items()} == tags
    assert library(cli)[pages["dieta"]]["state"] == "archived"


def test_writeback_contract_against_the_fake(
    backend_cli: ReaderdCLI, pages: dict[str, str], tagging_llm: OpenAICompatServer
) -> None:
    with serve("linkding") as fake:
        assert isinstance(fake, LinkdingFake)
        service = fake_service(fake)
        configure(backend_cli, service, tagging_llm)
        run_writeback_contract(backend_cli, service, pages)


@contextmanager
def synced_linkding(
    cli: ReaderdCLI, pages: dict[str, str], llm: OpenAICompatServer
) -> Iterator[LinkdingFake]:
    """Two bookmarks synced and analysed by `cli`, with tags to write back."""
    with serve("linkding") as fake:
        assert isinstance(fake, LinkdingFake)
        fake.add(pages["compost"], "Compost", tags=("garden",))
        fake.add(pages["bicycle"], "Bicycles")
        configure(cli, fake_service(fake), llm)
        cli("run", "--once")
        yield fake


@pytest.fixture
def backend_fake(
    backend_cli: ReaderdCLI, pages: dict[str, str], tagging_llm: OpenAICompatServer
) -> Iterator[LinkdingFake]:
    """synced_linkding by backend_cli: the tests here, on SQLite and on PostgreSQL."""
    with synced_linkding(backend_cli, pages, tagging_llm) as fake:
        yield fake


def test_a_429_holds_writeback_until_retry_after_then_it_goes_through(
    backend_cli: ReaderdCLI, backend_fake: LinkdingFake
) -> None:
    backend_fake.fail_next(429, retry_after=4)  # longer than a CLI start on a slow machine
    held = backend_cli("writeback")
    assert "asked to wait (Retry-After): 2 item(s) left" in held.stdout
    asked_at, count = time.monotonic(), len(backend_fake.requests)
    assert "asked to wait" in backend_cli("writeback").stdout
    assert len(backend_fake.requests) == count  # nothing sent before the server's time
    time.sleep(max(0.0, asked_at + 4.1 - time.monotonic()))
    assert "2 item(s) written" in backend_cli("writeback").stdout


def test_a_refused_token_pauses_writeback_with_a_clear_line_and_no_secret(
    backend_cli: ReaderdCLI, backend_fake: LinkdingFake
) -> None:
    refused = backend_cli("writeback", check=False, READERD_LINKDING_TOKEN="wrong-token-123")
    assert refused.returncode == 3
    assert "write-back linkding: paused:" in refused.stdout
    assert "status=401" in refused.stdout and "READERD_LINKDING_" in refused.stdout
    assert "wrong-token-123" not in refused.stdout + refused.stderr
    assert len([r for r in backend_fake.requests if r.method == "PATCH"]) == 0
    status = backend_cli("writeback", "--status").stdout
    assert "write-back linkding: 2 tag(s) pending, 0 done, 0 failed" in status
    assert "paused:" in status
    assert "2 item(s) written" in backend_cli("writeback").stdout  # the right token again


def test_a_bookmark_deleted_in_linkding_is_marked_gone_and_not_tried_again(
    backend_cli: ReaderdCLI, backend_fake: LinkdingFake
) -> None:
    first = next(iter(backend_fake.items))
    backend_fake.delete(first)
    out = backend_cli("writeback").stdout
    assert "1 item(s) written" in out and "1 gone at the source" in out
    assert "nothing to write (0 requests)" in backend_cli("writeback").stdout


def test_a_server_error_waits_with_a_backoff(
    backend_cli: ReaderdCLI, backend_fake: LinkdingFake
) -> None:
    backend_fake.fail_next(503, n=1)
    out = backend_cli("writeback", check=False)
    assert out.returncode == 1 and "1 item(s) written" in out.stdout and "1 failed" in out.stdout
    status = backend_cli("writeback", "--status").stdout
    assert "1 tag(s) pending" in status and "last error: linkding:" in status and "503" in status
    assert "nothing to write (0 requests)" in backend_cli("writeback").stdout  # not due yet


def test_a_crash_between_the_write_and_its_record_leaves_the_tags_readerds(
    backend_cli: ReaderdCLI, backend_fake: LinkdingFake
) -> None:
    human = {item: list(b["tag_names"]) for item, b in backend_fake.items.items()}
    env = backend_cli.base_env() | backend_cli.env
    command = [sys.executable, "-m", "readerd", "writeback"]
    process = subprocess.Popen(command, env=env, cwd=backend_cli.data_dir)
    backend_fake.after_write = lambda request: os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=120) == -signal.SIGKILL
    backend_fake.after_write = None
    (first,) = [i for i, b in backend_fake.items.items() if b["tag_names"] != human[i]]
    # the PATCH went through; readerd died before recording its reply

    out = backend_cli("writeback").stdout
    assert "1 item(s) written" in out  # the other bookmark; the first one is settled
    backend_cli("sync")
    rows = {row["title"]: row for row in json.loads(backend_cli("list", "--json").stdout)}
    for item, bookmark in backend_fake.items.items():  # readerd's tags stayed readerd's
        assert rows[bookmark["title"]]["source_tags"] == human[item]
        assert len(bookmark["tag_names"]) > len(human[item])
    assert "nothing to write (0 requests)" in backend_cli("writeback").stdout
    assert first
