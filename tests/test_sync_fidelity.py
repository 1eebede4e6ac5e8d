"""Sync fidelity: what the user changes at the source is what readerd shows, everywhere.

For each service (its fake in tests/servers/read_later.py), through the real CLI: an
edit at the source (title, tags, archive) is counted as updated by the next sync and is
visible in `list`, `show`, `search` and the digest; the sync after that changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer
from tests.servers.read_later import FakeService, WallabagFake, serve
from tests.servers.web import WebServer

SERVICES = ("wallabag", "linkding", "karakeep", "readeck")  # Pocket: its own test below
SAMPLES = Path(__file__).resolve().parents[1] / "readerd" / "samples"
PAGES = ("en-home-composting.html", "en-sleep-science.html")


def service_env(fake: FakeService) -> dict[str, str]:
    """The READERD_* settings that point readerd at this fake."""
    prefix = f"READERD_{fake.name.upper()}_"
    env = {"READERD_SOURCE": fake.name, prefix + "URL": fake.url}
    if fake.name == "wallabag":
        client_id, client_secret, user = WallabagFake.client
        env |= {
            prefix + "CLIENT_ID": client_id,
            prefix + "CLIENT_SECRET": client_secret,
            prefix + "USERNAME": user,
            prefix + "PASSWORD": fake.secret,
        }
    else:
        env[prefix + ("API_KEY" if fake.name == "karakeep" else "TOKEN")] = fake.secret
    return env


@pytest.fixture(params=SERVICES)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeService]:
    with serve(request.param) as server:
        yield server


def rows(cli: ReaderdCLI) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in json.loads(cli("list", "--json").stdout)}


def search_urls(cli: ReaderdCLI, query: str) -> set[str]:
    return {row["url"] for row in json.loads(cli("search", query, "--json").stdout)}


def digest_text(cli: ReaderdCLI, out: Path) -> str:
    cli("digest", "--preview", "--out", str(out))
    return (out / "digest.txt").read_text()


def sync_counts(cli: ReaderdCLI) -> dict[str, int]:
    line = cli("sync").stdout
    return {word: int(n) for n, word in re.findall(r"(\d+) (new|updated|deleted|unchanged)", line)}


def test_an_edit_at_the_source_is_shown_everywhere_after_the_next_sync(
    fake: FakeService, readerd_cli: ReaderdCLI, web_server: WebServer, tmp_path: Path
) -> None:
    pages = [(SAMPLES / name).read_text() for name in PAGES]
    urls = [web_server.add(f"/{n}.html", page) for n, page in enumerate(pages)]
    edited = fake.add(urls[0], "Saved title", tags=("zqold",), html=pages[0])
    retagged = fake.add(urls[1], "Second", tags=("zqkeep",), html=pages[1])
    readerd_cli.env |= service_env(fake) | {
        "READERD_FETCH_ALLOW": "127.0.0.1",
        "READERD_ANALYZER": "offline",
    }
    readerd_cli("run", "--once")
    before = rows(readerd_cli)
    assert before[urls[0]]["title"] == "Saved title"  # the user's, not the page's
    assert before[urls[0]]["page_title"] not in (None, "Saved title")  # which is kept too

    fake.edit(edited, title="Mi título xilófono")
    fake.update(edited, archived=True)
    fake.edit(retagged, tags=("zqkeep", "zqnew"))  # a change of tags alone
    counts = sync_counts(readerd_cli)
    assert (counts["new"], counts["updated"], counts["deleted"]) == (0, 2, 0)

    after = rows(readerd_cli)
    assert after[urls[0]]["title"] == "Mi título xilófono"
    assert after[urls[0]]["state"] == "archived"
    assert after[urls[1]]["source_tags"] == ["zqkeep", "zqnew"]
    shown = json.loads(readerd_cli("show", str(after[urls[0]]["id"]), "--json").stdout)
    assert (shown["title"], shown["source_tags"]) == ("Mi título xilófono", ["zqold"])
    assert shown["page_title"] == before[urls[0]]["page_title"]
    assert search_urls(readerd_cli, "xilofono") == {urls[0]}  # accents folded
    assert search_urls(readerd_cli, "zqnew") == {urls[1]}
    assert search_urls(readerd_cli, "zqold") == {urls[0]}
    assert "Mi título xilófono" in digest_text(readerd_cli, tmp_path / "digest")

    fake.edit(edited, tags=())  # the user removes the last tag
    assert sync_counts(readerd_cli)["updated"] == 1
    assert search_urls(readerd_cli, "zqold") == set()

    again = sync_counts(readerd_cli)
    assert (again["new"], again["updated"], again["deleted"]) == (0, 0, 0)


def test_pocket_an_edit_is_shown_everywhere_after_the_next_sync(
    readerd_cli: ReaderdCLI, web_server: WebServer, pocket_server: PocketServer, tmp_path: Path
) -> None:
    url = web_server.add("/pocket.html", (SAMPLES / PAGES[0]).read_text())
    item = pocket_server.add_item(url, "Saved title", tags=("zqold",))
    readerd_cli.env |= {
        "READERD_SOURCE": "pocket",
        "READERD_POCKET_URL": pocket_server.url,
        "READERD_POCKET_CONSUMER_KEY": CONSUMER_KEY,
        "READERD_POCKET_ACCESS_TOKEN": ACCESS_TOKEN,
        "READERD_FETCH_ALLOW": "127.0.0.1",
        "READERD_ANALYZER": "offline",
    }
    readerd_cli("run", "--once")
    assert rows(readerd_cli)[url]["title"] == "Saved title"

    pocket_server.update_item(item, resolved_title="Mi título xilófono", status="1")
    counts = sync_counts(readerd_cli)
    assert (counts["new"], counts["updated"], counts["deleted"]) == (0, 1, 0)
    tags = {"zqnew": {"item_id": item, "tag": "zqnew"}}
    pocket_server.update_item(item, tags=tags)  # type: ignore[arg-type]
    assert sync_counts(readerd_cli)["updated"] == 1  # a change of tags alone

    row = rows(readerd_cli)[url]
    assert (row["title"], row["state"], row["source_tags"]) == (
        "Mi título xilófono",
        "archived",
        ["zqnew"],
    )
    shown = json.loads(readerd_cli("show", str(row["id"]), "--json").stdout)
    assert shown["title"] == "Mi título xilófono" and shown["page_title"]
    assert search_urls(readerd_cli, "xilofono zqnew") == {url}
    assert search_urls(readerd_cli, "zqold") == set()
    assert "Mi título xilófono" in digest_text(readerd_cli, tmp_path / "digest")
    again = sync_counts(readerd_cli)
    assert (again["new"], again["updated"], again["deleted"]) == (0, 0, 0)
