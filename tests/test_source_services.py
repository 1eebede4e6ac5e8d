"""Wallabag, Linkding, Karakeep and Readeck sources against small real servers on 127.0.0.1.

The fakes live in tests/servers/read_later.py; the real replies they imitate are in
../shared/fixtures/sources/ and are parsed here too (skipped when that folder is absent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tenacity import wait_none

from readerd.config import Settings
from readerd.errors import ConfigError, SourceAuthError, SourceError
from readerd.results import LinkState, SyncBatch
from readerd.sources import (
    KarakeepSource,
    LinkdingSource,
    ReadeckSource,
    Source,
    WallabagSource,
    karakeep,
    linkding,
    make_source,
    readeck,
    wallabag,
)
from readerd.sources.service_http import OVERLAP, ClientOptions, parse_time
from tests.conftest import ReaderdCLI
from tests.servers.read_later import FakeService, ReadeckFake, WallabagFake, serve
from tests.servers.web import WebServer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sources"
LOCAL = Path(__file__).resolve().parent / "fixtures" / "sources"
SERVICES = ("wallabag", "linkding", "karakeep", "readeck")
LISTING = {  # the request each source pages through
    "wallabag": "/api/entries.json",
    "linkding": "/api/bookmarks/",
    "karakeep": "/api/v1/bookmarks",
    "readeck": "/api/bookmarks",
}
SINCE_PARAM = {"wallabag": "since", "linkding": "modified_since", "readeck": "since"}


@pytest.fixture(params=SERVICES)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeService]:
    with serve(request.param) as server:
        yield server


def source_for(fake: FakeService, secret: str | None = None, **options: Any) -> Source:
    secret = fake.secret if secret is None else secret
    page_size = options.pop("page_size", 2)
    client = ClientOptions(**{"wait": wait_none(), **options})
    if fake.name == "wallabag":
        credentials = (*WallabagFake.client, secret)
        return WallabagSource(fake.url, *credentials, page_size=page_size, options=client)
    kind = {"linkding": LinkdingSource, "karakeep": KarakeepSource, "readeck": ReadeckSource}
    return kind[fake.name](fake.url, secret, page_size=page_size, options=client)


def sync(fake: FakeService, since: str | None = None, **options: Any) -> SyncBatch:
    return asyncio.run(source_for(fake, **options).changes(since))


def ids(batch: SyncBatch) -> set[str]:
    return {link.source_id for link in batch.links}


# --- every service ----------------------------------------------------------------------


def test_first_sync_returns_everything_across_pages(fake: FakeService) -> None:
    added = [fake.add(f"https://example.com/{n}", f"Item {n}") for n in range(5)]
    batch = sync(fake)
    assert ids(batch) == set(added)
    assert {link.source for link in batch.links} == {fake.name}
    assert {link.url for link in batch.links} == {f"https://example.com/{n}" for n in range(5)}
    assert len(fake.paths(LISTING[fake.name])) == 3  # pages of 2, 2 and 1
    assert batch.cursor and parse_time(batch.cursor) is not None


def test_second_sync_sends_the_cursor_and_gets_only_changes(fake: FakeService) -> None:
    a, _, c = (fake.add(f"https://example.com/{n}") for n in "abc")
    first = sync(fake)
    d = fake.add("https://example.com/d")
    fake.update(a, archived=True)
    second = sync(fake, first.cursor)
    boundary = {c} if fake.name == "readeck" else set()  # Readeck's `since` is inclusive
    assert ids(second) == {a, d} | boundary
    assert {x.source_id: x.state for x in second.links}[a] is LinkState.ARCHIVED
    if fake.name in SINCE_PARAM:
        sent = [r.query.get(SINCE_PARAM[fake.name]) for r in fake.requests]
        assert [first.cursor] in sent
    assert parse_time(second.cursor) > parse_time(first.cursor)  # type: ignore[operator]


def test_tags_state_and_times_are_mapped(fake: FakeService) -> None:
    fake.add("https://example.com/x", "Título  con\n espacios", tags=("ñu", "b"), archived=True)
    (link,) = sync(fake).links
    assert link.title == "Título con espacios"
    assert link.tags == ("ñu", "b")
    assert link.state is LinkState.ARCHIVED
    assert link.added_at == link.updated_at == datetime(2024, 3, 1, 12, 1)  # naive UTC
    assert link.added_at.tzinfo is None


def test_wrong_credentials_are_an_auth_error_with_the_servers_message(
    fake: FakeService,
) -> None:
    with pytest.raises(SourceAuthError) as caught:
        sync(fake, secret="wrong-secret")
    message = str(caught.value)
    assert message.startswith(f"{fake.name}: ") and "status=40" in message
    assert fake.auth_message in message
    assert "wrong-secret" not in message and not caught.value.retryable
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [503, 429])
def test_busy_server_is_retried_then_succeeds(fake: FakeService, status: int) -> None:
    fake.add("https://example.com/a")
    fake.fail_next(status, 2)
    assert len(sync(fake).links) == 1
    assert [r.path for r in fake.requests[:3]] == [fake.requests[0].path] * 3


def test_a_503_that_persists_is_a_retryable_error_and_no_secret_is_logged(
    fake: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(503, 10)
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as caught:
        sync(fake, attempts=3)
    assert caught.value.retryable and not isinstance(caught.value, SourceAuthError)
    assert str(caught.value).startswith(f"{fake.name}: ") and "status=503" in str(caught.value)
    assert len(fake.requests) == 3
    assert "retrying" in caplog.text and fake.secret not in caplog.text


def test_cursor_stays_behind_the_server_clock(fake: FakeService) -> None:
    fake.now = datetime.now(UTC).replace(microsecond=0)  # a change made just now
    item = fake.add("https://example.com/fresh")
    first = sync(fake)
    assert parse_time(first.cursor) <= datetime.now(UTC).replace(tzinfo=None) - OVERLAP  # type: ignore[operator]
    assert item in ids(sync(fake, first.cursor))  # seen again: a paging race cannot lose it


# --- what each service adds ---------------------------------------------------------------


@pytest.fixture
def wallabag_fake() -> Iterator[WallabagFake]:
    with serve("wallabag") as server:
        assert isinstance(server, WallabagFake)
        yield server


def test_wallabag_content_comes_along_and_its_fetch_failures_do_not(
    wallabag_fake: WallabagFake,
) -> None:
    good = wallabag_fake.add("https://example.com/ok", html="<article><p>Full text.</p></article>")
    failed = "wallabag can't retrieve contents for this article. Please troubleshoot."
    bad = wallabag_fake.add("https://example.com/ko", html=failed)
    links = {link.source_id: link for link in sync(wallabag_fake).links}
    assert links[good].content == b"<article><p>Full text.</p></article>"
    assert links[good].content_type == "text/html"
    assert links[bad].content is None and links[bad].content_type is None
    query = wallabag_fake.paths("/api/entries.json")[0].query
    assert (query["detail"], query["sort"], query["order"]) == (["full"], ["updated"], ["asc"])


def test_wallabag_token_is_cached_for_the_run_and_renewed_once_on_401(
    wallabag_fake: WallabagFake,
) -> None:
    for n in range(5):
        wallabag_fake.add(f"https://example.com/{n}")
    source = source_for(wallabag_fake)
    assert len(asyncio.run(source.changes(None)).links) == 5
    assert len(wallabag_fake.paths("/oauth/v2/token")) == 1  # three pages, one token
    token_request = wallabag_fake.paths("/oauth/v2/token")[0].body
    assert token_request["grant_type"] == "password"
    wallabag_fake.expire_tokens()
    assert len(asyncio.run(source.changes(None)).links) == 5
    assert len(wallabag_fake.paths("/oauth/v2/token")) == 2


def test_wallabag_token_refused_twice_is_an_auth_error(wallabag_fake: WallabagFake) -> None:
    wallabag_fake.add("https://example.com/a")
    source = source_for(wallabag_fake)
    asyncio.run(source.changes(None))
    wallabag_fake.expire_tokens()
    wallabag_fake.tokens = _NoTokens()  # every new token is refused as well
    with pytest.raises(SourceAuthError, match="The access token provided is invalid"):
        asyncio.run(source.changes(None))
    assert len(wallabag_fake.paths("/oauth/v2/token")) == 2


class _NoTokens(set[str]):
    def __contains__(self, item: object) -> bool:
        return False


def test_linkding_reads_the_archived_list_too() -> None:
    with serve("linkding") as fake:
        kept = fake.add("https://example.com/kept")
        done = fake.add("https://example.com/done", archived=True)
        batch = sync(fake)
        assert {x.source_id: x.state for x in batch.links} == {
            kept: LinkState.UNREAD,
            done: LinkState.ARCHIVED,
        }
        assert fake.paths("/api/bookmarks/archived/")
        assert fake.requests[0].headers["Authorization"] == "Token ld-token"


def test_karakeep_keeps_human_tags_html_and_skips_notes_without_url() -> None:
    with serve("karakeep") as fake:
        link = fake.add("https://example.com/k", tags=("to-read",), ai_tags=("ai-guess",))
        fake.add("", note="just a thought")
        first = sync(fake)
        (saved,) = first.links
        assert saved.source_id == link and saved.tags == ("to-read",)
        assert saved.content and saved.content.startswith(b"<article>")
        assert fake.requests[0].query["includeContent"] == ["true"]  # first sync: in the list

        new = fake.add("https://example.com/new", html="<article>Fresh</article>")
        (changed,) = sync(fake, first.cursor).links
        assert changed.source_id == new and changed.content == b"<article>Fresh</article>"
        listing = [r.query["includeContent"] for r in fake.paths("/api/v1/bookmarks")]
        assert listing[-1] == ["false"]  # later syncs list metadata only...
        assert fake.paths(f"/api/v1/bookmarks/{new}")  # ...and read what changed


def test_readeck_reports_deletions_and_sends_whole_seconds() -> None:
    with serve("readeck") as fake:
        gone = fake.add("https://example.com/gone")
        first = sync(fake)
        fake.delete(gone)
        second = sync(fake, first.cursor)
        deleted = [x for x in second.links if x.state is LinkState.DELETED]
        assert [(x.source_id, x.url) for x in deleted] == [(gone, "")]
        since = fake.paths("/api/bookmarks/sync")[-1].query["since"][0]
        assert since == first.cursor and since.endswith("Z") and "." not in since


def test_readeck_without_the_id_filter_falls_back_to_one_by_one() -> None:
    with serve("readeck") as fake:
        assert isinstance(fake, ReadeckFake)
        added = {fake.add(f"https://example.com/{n}") for n in range(3)}
        fake.id_filter = False
        assert ids(sync(fake, page_size=1)) == added


def test_network_error_is_retried_then_a_retryable_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: connections are refused
    source = LinkdingSource(
        f"http://127.0.0.1:{port}", "t", options=ClientOptions(wait=wait_none(), attempts=2)
    )
    with pytest.raises(SourceError) as caught:
        asyncio.run(source.changes(None))
    assert caught.value.retryable
    # One plain line naming service, host and reason: no Python repr.
    assert str(caught.value) == f"linkding: cannot connect to 127.0.0.1:{port}: connection refused"


# --- settings -----------------------------------------------------------------------------

SETTINGS = {
    "wallabag": {
        "wallabag_url": "http://127.0.0.1:1/",
        "wallabag_client_id": "id",
        "wallabag_client_secret": "sekret-client",
        "wallabag_username": "me",
        "wallabag_password": "sekret-password",
    },
    "linkding": {"linkding_url": "http://127.0.0.1:1/api", "linkding_token": "sekret-token"},
    "karakeep": {"karakeep_url": "http://127.0.0.1:1/api/v1", "karakeep_api_key": "sekret-key"},
    "readeck": {"readeck_url": "http://127.0.0.1:1", "readeck_token": "sekret-token"},
}


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", SERVICES)
def test_make_source_builds_each_service_without_showing_secrets(name: str) -> None:
    settings = _settings(source=name, **SETTINGS[name])
    source = make_source(settings)
    assert source.name == name and "sekret" not in repr(source)
    assert "127.0.0.1:1" in repr(source) and "/api/api" not in repr(source)
    assert {v for k, v in SETTINGS[name].items() if "sekret" in v} <= set(settings.secrets())


@pytest.mark.parametrize("name", SERVICES)
def test_make_source_names_every_missing_env_var(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in SETTINGS[name]:
        monkeypatch.delenv(f"READERD_{key.upper()}", raising=False)
    url_key = f"{name}_url"
    with pytest.raises(ConfigError) as caught:
        make_source(_settings(source=name, **{url_key: "http://127.0.0.1:1"}))
    for key in SETTINGS[name]:
        if key != url_key:
            assert f"READERD_{key.upper()}" in str(caught.value)
    with pytest.raises(ConfigError, match=f"READERD_{name.upper()}_URL must be http"):
        make_source(_settings(source=name, **{**SETTINGS[name], url_key: "ftp://x"}))


# --- the real replies ---------------------------------------------------------------------


def shared_sample(name: str) -> Any:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared fixtures not found beside the checkout: {SHARED}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_real_wallabag_replies_parse() -> None:
    (link,), pages = wallabag.parse_entries_page(shared_sample("wallabag_entries_sample.json"))
    assert pages == 399 and link.source_id == "12327"
    assert link.url.startswith("https://www.motorsport-magazin.com/formel1/news-268468")
    assert link.title == "Formel 1, Racing Point zittert vor Finale: Viel zu verlieren"
    assert link.tags == ("3min",) and link.state is LinkState.ARCHIVED
    assert link.added_at == datetime(2020, 12, 12, 20, 31, 4)  # +0100 as UTC
    assert link.updated_at == datetime(2020, 12, 12, 20, 33, 51)
    assert link.content and link.content.startswith(b"Er baut auf")
    assert link.content_type == "text/html"
    empty = shared_sample("wallabag_entries_empty_docs_sample.json")
    assert wallabag.parse_entries_page(empty) == ([], 1)


def test_real_linkding_replies_parse() -> None:
    links, count, more = linkding.parse_bookmarks_page(
        shared_sample("linkding_bookmarks_sample.json")
    )
    (link,) = links
    assert (count, more) == (1, True)
    assert (link.source_id, link.url, link.title) == ("1", "https://example.com", "Example title")
    assert link.tags == ("tag1", "tag2") and link.state is LinkState.UNREAD
    assert link.added_at == datetime(2020, 9, 26, 9, 46, 23, 6313)
    assert link.updated_at == datetime(2020, 9, 26, 16, 1, 14, 275335)
    (pinkt,), _, more = linkding.parse_bookmarks_page(
        shared_sample("linkding_bookmarks_pinkt_sample.json")
    )
    assert pinkt.title == "Google" and pinkt.tags == ("kotlin", "dev") and not more


def test_real_karakeep_reply_parses() -> None:
    (link,), cursor = karakeep.parse_bookmarks_page(shared_sample("karakeep_bookmarks_sample.json"))
    assert cursor == "next_page_cursor"
    assert (link.source_id, link.url, link.title) == (
        "bookmark1",
        "https://example.com",
        "Test Bookmark 1",
    )
    assert link.tags == () and link.state is LinkState.UNREAD and link.content is None
    assert link.added_at == link.updated_at == datetime(2023, 1, 1)


def test_documented_readeck_replies_parse() -> None:
    # Shaped after Readeck's OpenAPI schemas (bookmarkSyncList, bookmarkSummary).
    changes = json.loads((LOCAL / "readeck_sync_sample.json").read_text(encoding="utf-8"))
    updated, deleted, newest = readeck.parse_sync_list(changes)
    assert updated == ["VnopmpKQ3CmQ6apY9mgDws", "Gk3LxyTmW8sNq2Rdz4Fp7A"]
    assert [(x.source_id, x.state) for x in deleted] == [
        ("Wj66qLatSeikPc31FwvqyS", LinkState.DELETED)
    ]
    assert newest == datetime(2025, 7, 3, 12, 49, 30)
    items = json.loads((LOCAL / "readeck_bookmarks_sample.json").read_text(encoding="utf-8"))
    tidy, loading = (readeck.bookmark_to_link(item) for item in items)
    assert tidy and tidy.title == "A tidy kitchen" and tidy.tags == ("home", "cooking")
    assert tidy.state is LinkState.ARCHIVED
    assert loading and loading.state is LinkState.DELETED and loading.title is None


# --- through the real CLI -----------------------------------------------------------------


def test_linkding_end_to_end_through_the_cli(
    readerd_cli: ReaderdCLI, web_server: WebServer
) -> None:
    with serve("linkding") as fake:
        url = web_server.url("/article.html")
        item = fake.add(url, "Saved in linkding", tags=("garden",))
        readerd_cli.env.update(
            {
                "READERD_SOURCE": "linkding",
                "READERD_LINKDING_URL": fake.url,
                "READERD_LINKDING_TOKEN": fake.secret,
                "READERD_FETCH_ALLOW": "127.0.0.1",
                "READERD_ANALYZER": "offline",
            }
        )
        first = readerd_cli("run", "--once")
        assert "1 new" in first.stdout

        fake.update(item, archived=True)
        second = readerd_cli("run", "--once")
        assert "sync linkding: 0 new" in second.stdout
        (row,) = json.loads(readerd_cli("list", "--json").stdout)
        assert (row["url"], row["status"], row["source_tags"]) == (url, "done", ["garden"])
        assert row["state"] == "archived" and row["summary"]
        since = fake.paths("/api/bookmarks/")[-1].query["modified_since"][0]
        assert parse_time(since) == datetime(2024, 3, 1, 12, 1)  # the first sync's cursor
