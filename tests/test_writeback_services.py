"""Write-back to every service, each by its own API's semantics, against the fakes.

The same contract for Linkding, Wallabag, Karakeep and Readeck: readerd's good tags
land next to the user's, which are never touched; a tag the user removes is never
re-added; a second write-back makes no request; a 429 is waited out, a refused
credential pauses write-back with one clear line. Per service, what is sent is checked
too: Wallabag never PATCHes tags, Karakeep attaches as "ai" and detaches only its
own, Readeck sends add_labels, Linkding PATCHes the union after a GET.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import MODEL, OpenAICompatServer
from tests.servers.read_later import FakeService, KarakeepFake, serve
from tests.test_sync_fidelity import service_env
from tests.test_writeback import AI_TAGS, PAGES, SAMPLES, TaggingResponder, pages, tagging_llm

__all__ = ["pages", "tagging_llm"]  # fixtures, imported for their names

SERVICES = ("linkding", "wallabag", "karakeep", "readeck")
HUMAN = {"compost": ["Garden"], "sleep": ["health"], "bicycle": []}
READERDS = {  # the good tags of tests/test_writeback.py's AI_TAGS among these three
    "compost": {"composting", "soil"},
    "sleep": {"sleep science", "composting", "bicycles"},
    "bicycle": {"bicycles", "sleep science", "soil"},
}
WRONG_CREDENTIAL = {
    "linkding": "READERD_LINKDING_TOKEN",
    "wallabag": "READERD_WALLABAG_PASSWORD",
    "karakeep": "READERD_KARAKEEP_API_KEY",
    "readeck": "READERD_READECK_TOKEN",
}


def spelt(service: str, tag: str) -> str:
    """The tag as each service stores it."""
    if service == "linkding":
        return "-".join(tag.split())
    return tag.lower() if service == "wallabag" else tag


@pytest.fixture(params=SERVICES)
def synced(
    request: pytest.FixtureRequest,
    readerd_cli: ReaderdCLI,
    pages: dict[str, str],
    tagging_llm: OpenAICompatServer,
) -> Iterator[tuple[FakeService, dict[str, str]]]:
    """Three items synced from the service and analysed (tags to write back)."""
    with serve(request.param) as fake:
        ids = {  # Wallabag and Karakeep bring the article along: the same page
            word: fake.add(pages[word], f"My {word}", tags=tuple(tags), html=article(word))
            for word, tags in HUMAN.items()
        }
        readerd_cli.env |= service_env(fake) | {
            "READERD_FETCH_ALLOW": "127.0.0.1",
            "READERD_LLM_BASE_URL": tagging_llm.base_url,
            "READERD_LLM_API_KEY": "sk-test",
            "READERD_LLM_MODEL": MODEL,
            "READERD_WRITEBACK": "tags",
            "READERD_WRITEBACK_RATE": "50",
        }
        readerd_cli("run", "--once")
        rows = json.loads(readerd_cli("list", "--json").stdout)
        assert all(row["status"] == "done" and row["ai_tags"] for row in rows)
        yield fake, ids


def article(word: str) -> str:
    return (SAMPLES / PAGES[word]).read_text()


def test_readerds_tags_go_next_to_the_users_and_a_removed_one_never_comes_back(
    readerd_cli: ReaderdCLI, synced: tuple[FakeService, dict[str, str]]
) -> None:
    fake, ids = synced
    name = fake.name
    assert "nothing written" in readerd_cli("writeback", "--dry-run").stdout
    assert not [r for r in fake.requests if r.method != "GET" and "token" not in r.path]

    out = readerd_cli("writeback").stdout
    assert f"write-back {name}: 3 item(s) written" in out
    for word, item in ids.items():
        human = {spelt(name, t) for t in HUMAN[word]}
        wanted = {spelt(name, t) for t in READERDS[word]}
        assert set(fake.tag_names(item)) == human | wanted, word
    _check_the_api_was_used_as_the_service_means(fake, ids)

    count = len(fake.requests)
    assert "nothing to write (0 requests)" in readerd_cli("writeback").stdout
    assert len(fake.requests) == count
    sync = readerd_cli("sync").stdout
    assert "0 new" in sync and "0 deleted" in sync
    rows = {row["title"]: row for row in json.loads(readerd_cli("list", "--json").stdout)}
    assert rows["My compost"]["source_tags"] == [spelt(name, "Garden")]  # not readerd's

    soil = spelt(name, "soil")
    fake.set_tag_names(ids["compost"], [t for t in fake.tag_names(ids["compost"]) if t != soil])
    readerd_cli("sync")
    readerd_cli("writeback")
    assert soil not in fake.tag_names(ids["compost"])  # never re-added
    assert "+soil" not in readerd_cli("writeback", "--dry-run").stdout
    count = len(fake.requests)
    assert "nothing to write (0 requests)" in readerd_cli("writeback").stdout
    assert len(fake.requests) == count


def _check_the_api_was_used_as_the_service_means(fake: FakeService, ids: dict[str, str]) -> None:
    writes = [r for r in fake.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]
    writes = [r for r in writes if "token" not in r.path]
    if fake.name == "wallabag":
        assert {(r.method, r.path.rsplit("/", 1)[-1]) for r in writes} == {("POST", "tags.json")}
        assert all(isinstance(r.body, dict) and "tags" in r.body for r in writes)
    elif fake.name == "karakeep":
        assert isinstance(fake, KarakeepFake)
        assert {r.method for r in writes} == {"POST"}
        assert all(t["attachedBy"] == "ai" for r in writes for t in r.body["tags"])
        assert fake.attached_by(ids["compost"])["Garden"] == "human"
    elif fake.name == "readeck":
        assert {r.method for r in writes} == {"PATCH"}
        assert all(set(r.body) == {"add_labels", "remove_labels"} for r in writes)
    else:
        assert {r.method for r in writes} == {"PATCH"}
        assert all(set(r.body) == {"tag_names"} for r in writes)


def test_a_429_is_waited_out(
    readerd_cli: ReaderdCLI, synced: tuple[FakeService, dict[str, str]]
) -> None:
    fake, _ = synced
    fake.fail_next(429, retry_after=4)  # longer than a CLI start on a slow machine
    assert "asked to wait (Retry-After): 3 item(s) left" in readerd_cli("writeback").stdout
    asked_at, count = time.monotonic(), len(fake.requests)
    assert "asked to wait" in readerd_cli("writeback").stdout
    assert len(fake.requests) == count  # nothing sent before the server's time
    time.sleep(max(0.0, asked_at + 4.1 - time.monotonic()))
    assert "3 item(s) written" in readerd_cli("writeback").stdout


def test_a_refused_credential_pauses_writeback_in_one_line(
    readerd_cli: ReaderdCLI, synced: tuple[FakeService, dict[str, str]]
) -> None:
    fake, _ = synced
    variable = WRONG_CREDENTIAL[fake.name]
    out = readerd_cli("writeback", check=False, **{variable: "wrong-secret-456"})
    assert out.returncode == 3
    (line,) = out.stdout.strip().splitlines()
    assert line.startswith(f"write-back {fake.name}: paused:")
    assert "wrong-secret-456" not in out.stdout + out.stderr
    assert "3 item(s) written" in readerd_cli("writeback").stdout


def test_a_tag_readerd_no_longer_wants_is_removed_only_if_still_readerds(
    readerd_cli: ReaderdCLI,
    synced: tuple[FakeService, dict[str, str]],
    tagging_llm: OpenAICompatServer,
) -> None:
    fake, ids = synced
    readerd_cli("writeback")
    bikes = spelt(fake.name, "bicycles")
    if isinstance(fake, KarakeepFake):  # the user attaches "bicycles" on the sleep item
        fake.items[ids["sleep"]]["tags"] = [
            {**t, "attachedBy": "human"} if t["name"] == bikes else t
            for t in fake.items[ids["sleep"]]["tags"]
        ]
    retagged = AI_TAGS | {
        "compost": ["composting", "garden"],  # soil goes
        "sleep": ["health", "sleep science", "composting"],  # bicycles goes
    }
    tagging_llm.respond_with(TaggingResponder(retagged))
    readerd_cli("reprocess", "--all")
    readerd_cli("process")
    preview = readerd_cli("writeback", "--dry-run").stdout
    assert f"-{spelt(fake.name, 'soil')}" in preview
    out = readerd_cli("writeback").stdout
    compost = {spelt(fake.name, t) for t in ("Garden", "composting")}
    assert set(fake.tag_names(ids["compost"])) == compost  # the user's Garden stays
    if isinstance(fake, KarakeepFake):  # attached by the user now: theirs, not removed
        assert bikes in fake.tag_names(ids["sleep"]) and "1 removed" in out
    else:
        assert bikes not in fake.tag_names(ids["sleep"]) and "2 removed" in out
    count = len(fake.requests)
    assert "nothing to write (0 requests)" in readerd_cli("writeback").stdout
    assert len(fake.requests) == count


def test_archive_on_request_only_and_only_when_allowed(
    readerd_cli: ReaderdCLI, synced: tuple[FakeService, dict[str, str]]
) -> None:
    fake, ids = synced
    rows = {row["title"]: row for row in json.loads(readerd_cli("list", "--json").stdout)}
    link_id = str(rows["My sleep"]["id"])
    refused = readerd_cli("archive", link_id, check=False)  # READERD_WRITEBACK=tags
    assert refused.returncode == 2 and "READERD_WRITEBACK=tags+archive" in refused.stderr
    assert not [r for r in fake.requests if r.method == "PATCH"]
    readerd_cli("writeback")
    assert all(state is False for state in archived(fake).values())  # tags never archive

    out = readerd_cli("archive", link_id, READERD_WRITEBACK="tags+archive").stdout
    assert f'archived in {fake.name}: {link_id} "My sleep"' in out
    assert archived(fake) == {ids["sleep"]: True, ids["compost"]: False, ids["bicycle"]: False}
    rows = {row["title"]: row for row in json.loads(readerd_cli("list", "--json").stdout)}
    assert rows["My sleep"]["state"] == "archived"
    assert "0 updated" in readerd_cli("sync").stdout
    if fake.name == "wallabag":  # the archive PATCH carries no tags
        assert all("tags" not in r.body for r in fake.requests if r.method == "PATCH")


def archived(fake: FakeService) -> dict[str, bool]:
    key = {"linkding": "is_archived", "wallabag": "is_archived", "readeck": "is_archived"}
    field = key.get(fake.name, "archived")
    return {item: bool(data[field]) for item, data in fake.items.items()}


def test_no_writer_shows_its_credentials() -> None:
    """A writer in a log line or a traceback names its server, never its secret."""
    from readerd.sources.karakeep_writer import KarakeepWriter
    from readerd.sources.linkding_writer import LinkdingWriter
    from readerd.sources.readeck_writer import ReadeckWriter
    from readerd.sources.wallabag_writer import WallabagWriter

    secret = "s3cret-value-42"
    writers = [
        LinkdingWriter("http://ld.lan:9090/", secret, rate=2),
        ReadeckWriter("http://rd.lan", secret, rate=2),
        KarakeepWriter("http://kk.lan/api/v1", secret, rate=2),
        WallabagWriter("http://wb.lan", "id", secret, "me", secret, rate=2),
    ]
    shown = [repr(w) for w in writers]
    assert shown == [
        "LinkdingWriter('http://ld.lan:9090')",
        "ReadeckWriter('http://rd.lan/api')",
        "KarakeepWriter('http://kk.lan')",
        "WallabagWriter('http://wb.lan')",
    ]
