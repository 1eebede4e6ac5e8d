"""PocketSource against a real local Pocket server (`pocket_server`, from conftest) and samples."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest
from tenacity import wait_none

from readerd.config import Settings
from readerd.errors import ConfigError, SourceAuthError, SourceError
from readerd.results import LinkState, SyncBatch
from readerd.sources import make_source
from readerd.sources.pocket import PocketSource, parse_get_response
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sources"


def sync(server: PocketServer, since: str | None = None, **kwargs: object) -> SyncBatch:
    source = PocketSource(server.url, CONSUMER_KEY, ACCESS_TOKEN, wait=wait_none(), **kwargs)
    return asyncio.run(source.changes(since))


def bodies(server: PocketServer) -> list[dict]:
    return [r.body for r in server.requests]


def test_first_sync_pages_across_three_pages(pocket_server: PocketServer) -> None:
    ids = [pocket_server.add_item(f"https://example.com/{n}", f"Item {n}") for n in range(5)]
    batch = sync(pocket_server, page_size=2)
    assert [link.source_id for link in batch.links] == ids
    assert [(b["offset"], b["count"]) for b in bodies(pocket_server)] == [(0, 2), (2, 2), (4, 2)]
    first = bodies(pocket_server)[0]
    assert (first["state"], first["detailType"], first["sort"]) == ("all", "complete", "oldest")
    assert "since" not in first
    headers = pocket_server.requests[0].headers
    assert headers["X-Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert batch.cursor == str(pocket_server.now)


def test_full_last_page_ends_on_empty_list_array(pocket_server: PocketServer) -> None:
    for n in range(4):
        pocket_server.add_item(f"https://example.com/{n}")
    batch = sync(pocket_server, page_size=2)
    assert len(batch.links) == 4
    assert len(pocket_server.requests) == 3  # the third page is `"list": []`


def test_empty_account_returns_no_links_and_the_server_since(pocket_server: PocketServer) -> None:
    batch = sync(pocket_server)
    assert batch == SyncBatch(links=[], cursor=str(pocket_server.now))


def test_second_sync_sends_since_and_gets_only_changes(pocket_server: PocketServer) -> None:
    a = pocket_server.add_item("https://example.com/a")
    pocket_server.add_item("https://example.com/b")
    first = sync(pocket_server)
    c = pocket_server.add_item("https://example.com/c")
    pocket_server.update_item(a, status="1")
    second = sync(pocket_server, first.cursor)
    assert bodies(pocket_server)[-1]["since"] == int(first.cursor or 0)
    assert {(link.source_id, link.state) for link in second.links} == {
        (a, LinkState.ARCHIVED),
        (c, LinkState.UNREAD),
    }
    assert int(second.cursor or 0) > int(first.cursor or 0)


def test_deleted_item_comes_back_as_deleted_without_url(pocket_server: PocketServer) -> None:
    gone = pocket_server.add_item("https://example.com/gone")
    cursor = sync(pocket_server).cursor
    pocket_server.delete_item(gone)
    (link,) = sync(pocket_server, cursor).links
    assert (link.source_id, link.state, link.url) == (gone, LinkState.DELETED, "")


def test_numbers_as_strings_become_typed_fields(pocket_server: PocketServer) -> None:
    item = pocket_server.add_item("https://example.com/x", "Título", status="1", tags=("ñu", "b"))
    (link,) = sync(pocket_server).links
    assert link.source == "pocket" and link.source_id == item
    assert link.state is LinkState.ARCHIVED
    assert link.title == "Título" and link.tags == ("ñu", "b")
    assert link.added_at is not None and link.added_at.timestamp() > 0
    assert link.added_at.tzinfo is None


def test_401_is_auth_error_with_the_servers_x_error(pocket_server: PocketServer) -> None:
    source = PocketSource(pocket_server.url, CONSUMER_KEY, "wrong-token", wait=wait_none())
    with pytest.raises(SourceAuthError) as caught:
        asyncio.run(source.changes(None))
    message = str(caught.value)
    assert message.startswith("pocket: get failed: status=401")
    assert "Invalid access token." in message and "107" in message
    assert "wrong-token" not in message and CONSUMER_KEY not in message
    assert not caught.value.retryable
    assert len(pocket_server.requests) == 1


def test_503_is_retried_then_succeeds(pocket_server: PocketServer) -> None:
    pocket_server.add_item("https://example.com/a")
    pocket_server.fail_next(503, 2)
    batch = sync(pocket_server)
    assert len(batch.links) == 1
    assert len(pocket_server.requests) == 3


def test_503_that_persists_is_a_retryable_source_error(pocket_server: PocketServer) -> None:
    pocket_server.fail_next(503, 10)
    with pytest.raises(SourceError) as caught:
        sync(pocket_server, attempts=3)
    assert caught.value.retryable and not isinstance(caught.value, SourceAuthError)
    assert "status=503" in str(caught.value)
    assert len(pocket_server.requests) == 3


def test_403_rate_limit_is_retryable_and_says_when_it_resets(pocket_server: PocketServer) -> None:
    pocket_server.fail_next(403)
    with pytest.raises(SourceError) as caught:
        sync(pocket_server)
    assert not isinstance(caught.value, SourceAuthError) and caught.value.retryable
    assert "rate limited" in str(caught.value) and "1800s" in str(caught.value)
    assert len(pocket_server.requests) == 1  # a reset an hour away is not waited for here


def test_403_without_rate_limit_headers_is_auth_error(pocket_server: PocketServer) -> None:
    pocket_server.fail_next(403, headers={"X-Error": "Access denied", "X-Error-Code": "158"})
    with pytest.raises(SourceAuthError, match="Access denied"):
        sync(pocket_server)


def test_network_error_is_retried_then_retryable_source_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: connections are refused
    source = PocketSource(f"http://127.0.0.1:{port}", "k", "t", wait=wait_none(), attempts=2)
    with pytest.raises(SourceError) as caught:
        asyncio.run(source.changes(None))
    assert caught.value.retryable
    assert str(caught.value) == f"pocket: cannot connect to 127.0.0.1:{port}: connection refused"


def test_credentials_never_reach_the_logs(
    pocket_server: PocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    pocket_server.add_item("https://example.com/a")
    pocket_server.fail_next(503)
    with caplog.at_level(logging.DEBUG):
        sync(pocket_server)
    assert "retrying" in caplog.text
    assert ACCESS_TOKEN not in caplog.text and CONSUMER_KEY not in caplog.text


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_make_source_names_the_missing_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("READERD_POCKET_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="READERD_POCKET_ACCESS_TOKEN"):
        make_source(_settings(source="pocket", pocket_consumer_key="k"))


def test_make_source_builds_pocket_without_showing_secrets() -> None:
    settings = _settings(
        source="pocket",
        pocket_url="http://127.0.0.1:1/",
        pocket_consumer_key="sekret-key",
        pocket_access_token="sekret-token",
        pocket_page_size=7,
    )
    source = make_source(settings)
    assert isinstance(source, PocketSource) and source.name == "pocket"
    assert source.page_size == 7 and source.endpoint == "http://127.0.0.1:1/v3/get"
    assert "sekret" not in repr(source)


def shared_sample(name: str) -> object:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared fixtures not found beside the checkout: {SHARED}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_real_get_sample_parses() -> None:
    links, since = parse_get_response(shared_sample("pocket_get_sample.json"))
    assert since == "1583723171"
    first, second = links
    assert first.url.startswith("https://www.inc.com/")  # resolved_url over given_url
    assert first.title == "How Great Entrepreneurs Think"
    assert (first.state, second.state) == (LinkState.UNREAD, LinkState.ARCHIVED)
    assert second.title and second.title.startswith("Thinking of selling")  # "" falls back


def test_real_deleted_and_last_page_samples_parse() -> None:
    (deleted,), since = parse_get_response(shared_sample("pocket_get_deleted_item_sample.json"))
    assert (deleted.source_id, deleted.state, deleted.url) == ("2929045771", LinkState.DELETED, "")
    assert since == "1585393208"
    assert parse_get_response(shared_sample("pocket_get_last_page_sample.json")) == (
        [],
        "1583763395",
    )


def test_real_sample_without_since_keeps_no_cursor_and_reads_tags() -> None:
    links, since = parse_get_response(shared_sample("pocket_get_wallabag_test_sample.json"))
    assert since is None
    assert links[0].tags == ("grantland", "Ryder Cup")
