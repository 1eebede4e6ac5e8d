"""`readerd doctor` checks every source through the client a sync uses, against local fakes."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from readerd.cli.doctor import check_source
from readerd.config import Settings
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer
from tests.servers.read_later import FakeService, WallabagFake, serve

SERVICES = ("wallabag", "linkding", "karakeep", "readeck")


def _settings(name: str, url: str, secret: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {"source": name, f"{name}_url": url, "fetch_timeout": 5}
    if name == "wallabag":
        client_id, client_secret, user = WallabagFake.client
        values.update(
            wallabag_client_id=client_id,
            wallabag_client_secret=client_secret,
            wallabag_username=user,
            wallabag_password=secret,
        )
    else:
        values[{"karakeep": "karakeep_api_key"}.get(name, f"{name}_token")] = secret
    return Settings(_env_file=None, **values, **extra)  # type: ignore[call-arg]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("name", SERVICES)
def test_a_good_credential_is_ok(name: str) -> None:
    with serve(name) as fake:
        result = check_source(_settings(name, fake.url, fake.secret))
    assert result.state == "OK", result.line()
    assert name in result.detail and "127.0.0.1" in result.detail


@pytest.mark.parametrize("name", SERVICES)
def test_a_bad_credential_fails_with_the_servers_words_and_no_secret(name: str) -> None:
    with serve(name) as fake:
        result = check_source(_settings(name, fake.url, "wrong-credential-123"))
        assert _requests_made(fake) >= 1
    assert result.state == "FAIL"
    assert result.detail.startswith(f"{name}: ")
    assert fake.auth_message in result.detail
    assert "wrong-credential-123" not in result.line()


@pytest.mark.parametrize("name", SERVICES)
def test_an_unreachable_service_fails_naming_the_host(name: str) -> None:
    port = _closed_port()
    result = check_source(_settings(name, f"http://127.0.0.1:{port}", "whatever-1"))
    assert result.state == "FAIL"
    assert result.detail == f"{name}: cannot connect to 127.0.0.1:{port}: connection refused"


def test_pocket_is_checked_with_the_sync_client(pocket_server: PocketServer) -> None:
    def pocket(url: str, token: str = ACCESS_TOKEN) -> Settings:
        return Settings(  # type: ignore[call-arg]
            _env_file=None,
            source="pocket",
            pocket_url=url,
            pocket_consumer_key=CONSUMER_KEY,
            pocket_access_token=token,
        )

    assert check_source(pocket(pocket_server.url)).state == "OK"
    refused = check_source(pocket(pocket_server.url, "nope-token"))
    assert refused.state == "FAIL" and refused.detail.startswith("pocket: ")
    assert "nope-token" not in refused.line()
    port = _closed_port()
    gone = check_source(pocket(f"http://127.0.0.1:{port}"))
    assert gone.detail == f"pocket: cannot connect to 127.0.0.1:{port}: connection refused"


def test_imports_only_is_a_source_that_needs_no_check() -> None:
    result = check_source(Settings(_env_file=None, source="none"))  # type: ignore[call-arg]
    assert result.state == "OK" and "imports only" in result.detail


def _requests_made(fake: FakeService) -> int:
    return len(fake.requests)
