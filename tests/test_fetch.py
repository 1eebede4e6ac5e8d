"""fetch_page against a real local server: limits, redirects, statuses and the SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from readerd.config import Settings
from readerd.errors import BlockedAddressError, FetchError
from readerd.fetch import fetch_page, make_fetch_client, parse_content_type
from readerd.fetch.netguard import GuardedBackend, is_public_address
from readerd.results import FetchedPage
from tests.servers.web import ARTICLE_SAMPLE, PNG, WebServer, _sample

MiB = 1024 * 1024


def settings(**overrides: Any) -> Settings:
    """Test settings: the loopback server allowed, short deadline, no .env."""
    values: dict[str, Any] = {"fetch_allow": ["127.0.0.1"], "fetch_timeout": 5.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def fetch(url: str, **overrides: Any) -> FetchedPage:
    """Run fetch_page once with a fresh client."""
    config = settings(**overrides)

    async def run() -> FetchedPage:
        async with make_fetch_client(config) as client:
            return await fetch_page(client, url, config)

    return asyncio.run(run())


def fetch_error(url: str, **overrides: Any) -> FetchError:
    """The FetchError fetch_page raises for url."""
    with pytest.raises(FetchError) as caught:
        fetch(url, **overrides)
    return caught.value


# --- plain fetches


def test_html_article(web_server: WebServer) -> None:
    page = fetch(web_server.url("/article.html"))
    assert page == FetchedPage(
        url=web_server.url("/article.html"),
        status=200,
        content_type="text/html",
        body=_sample(ARTICLE_SAMPLE),
        charset="utf-8",
    )
    headers = web_server.requests[0].headers
    assert headers["User-Agent"].startswith("readerd/")
    assert headers["Accept-Encoding"] == "gzip, deflate"


def test_pdf_and_image_bytes_come_back_as_they_are(web_server: WebServer) -> None:
    pdf = fetch(web_server.url("/doc.pdf"))
    assert (pdf.content_type, pdf.body[:5]) == ("application/pdf", b"%PDF-")
    image = fetch(web_server.url("/image.png"))
    assert (image.content_type, image.body, image.charset) == ("image/png", PNG, None)


def test_content_type_is_lower_cased_without_params() -> None:
    assert parse_content_type('Text/HTML; Charset="ISO-8859-1"') == ("text/html", "iso-8859-1")
    assert parse_content_type("") == ("", None)


def test_gzip_page_is_decompressed(web_server: WebServer) -> None:
    assert fetch(web_server.url("/gzip")).body == _sample(ARTICLE_SAMPLE)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_with_and_without_zlib_header(web_server: WebServer, wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(b"<p>deflated</p>" * 100) + packer.flush()
    url = web_server.add("/deflate", body, headers={"Content-Encoding": "deflate"})
    assert fetch(url).body == b"<p>deflated</p>" * 100


def test_unknown_content_encoding_is_refused(web_server: WebServer) -> None:
    url = web_server.add("/br", b"\x1b\x00", headers={"Content-Encoding": "br"})
    assert "unsupported content encoding" in str(fetch_error(url))


# --- redirects


def test_follows_a_two_hop_redirect_chain(web_server: WebServer) -> None:
    page = fetch(web_server.url("/hop2"))
    assert page.url == web_server.url("/article.html")
    assert [r.path for r in web_server.requests] == ["/hop2", "/hop1", "/article.html"]


def test_too_many_redirects(web_server: WebServer) -> None:
    error = fetch_error(web_server.url("/hop2"), fetch_max_redirects=1)
    assert "too many redirects" in str(error) and "limit=1" in str(error)
    assert not error.retryable
    assert len(web_server.requests) == 2


def test_redirect_loop(web_server: WebServer) -> None:
    error = fetch_error(web_server.url("/loop-a"))
    assert str(error).startswith("fetch: redirect loop:")
    assert [r.path for r in web_server.requests] == ["/loop-a", "/loop-b"]


# --- statuses and network errors


@pytest.mark.parametrize(
    ("path", "status", "retryable"),
    [("/missing", 404, False), ("/gone", 410, False), ("/error", 500, True), ("/busy", 429, True)],
)
def test_error_status(web_server: WebServer, path: str, status: int, retryable: bool) -> None:
    error = fetch_error(web_server.url(path))
    assert f"status={status}" in str(error) and str(error).startswith("fetch: http error:")
    assert error.retryable is retryable


def test_retry_after_is_passed_on(web_server: WebServer) -> None:
    assert fetch_error(web_server.url("/busy")).retry_after == 120
    assert fetch_error(web_server.url("/missing")).retry_after is None


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        (lambda: format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True), 590, 601),
        (lambda: "Wed, 21 Oct 2015 07:28:00 GMT", None, None),  # in the past: no wait
        (lambda: "172800", 86400, 86400),  # two days: capped at one
        (lambda: "soon", None, None),
    ],
)
def test_retry_after_as_an_http_date_or_seconds(
    web_server: WebServer, header: Callable[[], str], low: float | None, high: float | None
) -> None:
    web_server.add("/later", "come back", status=503, headers={"Retry-After": header()})
    delay = fetch_error(web_server.url("/later")).retry_after
    if low is None:
        assert delay is None
    else:
        assert delay is not None and low <= delay <= (high or low)


def test_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/")
    assert error.retryable and str(error).startswith("fetch: network error:")


# --- limits


def test_slow_drip_body_hits_the_total_deadline(web_server: WebServer) -> None:
    started = time.monotonic()
    error = fetch_error(web_server.url("/slow"), fetch_timeout=1.0)
    assert "timed out" in str(error) and error.retryable
    assert time.monotonic() - started < 3


def test_slow_headers_hit_the_deadline(web_server: WebServer) -> None:
    url = web_server.add("/sleepy", "late", delay=3)
    assert "timed out" in str(fetch_error(url, fetch_timeout=0.5))


def test_too_large_by_content_length(web_server: WebServer) -> None:
    error = fetch_error(web_server.url("/big"), fetch_max_bytes=MiB)
    assert str(error) == f"fetch: too large: url={web_server.url('/big')} limit=1 MiB"
    assert not error.retryable


def test_too_large_while_streaming_without_content_length(web_server: WebServer) -> None:
    assert "too large" in str(fetch_error(web_server.url("/big-stream"), fetch_max_bytes=MiB))


def test_gzip_bomb_is_stopped_at_the_decompressed_limit(web_server: WebServer) -> None:
    assert "too large" in str(fetch_error(web_server.url("/bomb"), fetch_max_bytes=MiB))


def test_body_exactly_at_the_limit_is_fine(web_server: WebServer) -> None:
    url = web_server.add("/exact", b"a" * 1000, "text/plain")
    assert len(fetch(url, fetch_max_bytes=1000).body) == 1000


def test_proxy_variables_are_ignored(
    web_server: WebServer, other_web_server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, other_web_server.url("/"))
    assert fetch(web_server.url("/article.html")).status == 200
    assert other_web_server.connections == []


# --- SSRF guard


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "LocalHost", "[::1]", "0.0.0.0", "2130706433", "0x7f.1",
     "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "127.0.0.1."],
)  # fmt: skip
def test_loopback_in_any_spelling_is_blocked(web_server: WebServer, host: str) -> None:
    url = f"http://{host}:{web_server.port}/article.html"
    with pytest.raises(BlockedAddressError, match="blocked address"):
        fetch(url, fetch_allow=[])
    assert web_server.connections == []


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "10.0.0.1", "192.168.1.1", "172.16.5.4", "100.64.0.1", "224.0.0.1",
     "255.255.255.255", "[fd00::1]", "[fe80::1]", "[64:ff9b::a00:1]", "[2002:c0a8:101::1]"],
)  # fmt: skip
def test_private_ranges_are_blocked_before_any_connection(host: str) -> None:
    # BlockedAddressError comes only from the guard, which runs before a socket is opened.
    with pytest.raises(BlockedAddressError):
        fetch(f"http://{host}/latest/meta-data/", fetch_allow=[], fetch_timeout=2.0)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1:70/_GET", "data:text/html,<p>hi</p>",
     "ftp://127.0.0.1/readme", "javascript:alert(1)", "//127.0.0.1/article.html"],
)  # fmt: skip
def test_other_schemes_are_refused(url: str) -> None:
    error = fetch_error(url)
    assert "unsupported scheme" in str(error) and not error.retryable


def test_credentials_in_url_are_refused_and_not_echoed(web_server: WebServer) -> None:
    error = fetch_error(f"http://alice:s3cret@127.0.0.1:{web_server.port}/article.html")
    assert "credentials in url" in str(error) and "s3cret" not in str(error)
    assert web_server.connections == []


def test_redirect_to_a_non_allowed_loopback_alias_is_blocked(
    web_server: WebServer, other_web_server: WebServer
) -> None:
    url = web_server.redirect("/out", other_web_server.url("/article.html"))
    with pytest.raises(BlockedAddressError, match=r"ip=127\.0\.0\.2"):
        fetch(url)
    assert len(web_server.connections) == 1
    assert other_web_server.connections == []


def test_redirect_to_localhost_is_blocked_when_only_the_ip_is_allowed(
    web_server: WebServer,
) -> None:
    url = web_server.redirect("/home", f"http://localhost:{web_server.port}/article.html")
    with pytest.raises(BlockedAddressError):
        fetch(url)
    assert [r.path for r in web_server.requests] == ["/home"]


def test_allowed_alias_is_reachable(other_web_server: WebServer) -> None:
    # The control for the test above: the same listener answers once it is allowed.
    page = fetch(other_web_server.url("/article.html"), fetch_allow=["127.0.0.2"])
    assert page.status == 200 and len(other_web_server.connections) == 1


def test_allow_list_matches_host_names(web_server: WebServer) -> None:
    url = f"http://LOCALHOST:{web_server.port}/article.html"
    assert fetch(url, fetch_allow=["localhost"]).status == 200


class FakeBackend:
    """Records what the guard asks to connect to, without opening sockets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> object:
        self.calls.append((host, port))
        return object()


def test_guard_checks_resolved_names_and_connects_to_the_checked_ip() -> None:
    inner = FakeBackend()
    guard = GuardedBackend([], inner=inner)  # type: ignore[arg-type]
    with pytest.raises(BlockedAddressError, match="host=localhost"):
        asyncio.run(guard.connect_tcp("localhost", 80))
    asyncio.run(guard.connect_tcp("0x5d.0xb8.0xd8.0x22", 443))  # a public address, spelt oddly
    assert inner.calls == [("93.184.216.34", 443)]


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2606:4700::1111", True), ("::ffff:8.8.8.8", True),
     ("64:ff9b::808:808", True), ("127.0.0.1", False), ("::", False), ("fc00::1", False),
     ("::ffff:10.1.2.3", False), ("64:ff9b::7f00:1", False), ("64:ff9b:1::a00:1", False),
     ("100.127.255.254", False), ("198.18.0.1", False), ("240.0.0.1", False),
     ("192.0.2.1", False), ("ff02::1", False), ("2001:db8::1", False)],
)  # fmt: skip
def test_public_address_classification(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
