"""SSRF through the real CLI: every address, spelling, redirect and scheme an attacker could save.

One `readerd run --once` syncs every hostile link from a Pocket server and tries to
read it. "Public" here is a web server on 127.0.0.3, the only allowed host; every
other loopback listener stands for a private address and must see no connection.
The proxy variables point at a listener too: fetches must never go through it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from readerd.errors import BlockedAddressError
from readerd.fetch.netguard import GuardedBackend
from readerd.text.urls import redact_userinfo
from tests.hostile.helpers import Trap, links_by_url, module_cli, pocket, pocket_env, trap
from tests.servers.web import WebServer, start_web_server

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@dataclass
class Run:
    """The servers, what was saved, and what readerd stored and printed."""

    private: WebServer  # 127.0.0.1, not allowed
    other: WebServer  # 127.0.0.2, not allowed
    public: WebServer  # 127.0.0.3, READERD_FETCH_ALLOW
    v6: Trap  # [::1]
    proxy: Trap  # what HTTP(S)_PROXY/ALL_PROXY point at
    urls: dict[str, str]  # case name -> saved URL
    links: dict[str, dict[str, Any]]  # saved URL -> stored row
    output: str

    def row(self, case: str) -> dict[str, Any]:
        """The stored row of one case (stored with the password of its userinfo masked)."""
        return self.links[redact_userinfo(self.urls[case])]


def _direct(private: WebServer, v6: Trap) -> dict[str, tuple[str, str]]:
    """case -> (saved URL, the address the error must name)."""
    port = private.port
    loopback = {
        "127.0.0.1": "127.0.0.1",
        "localhost": "127.0.0.1",  # a name that resolves to a private address
        "0.0.0.0": "0.0.0.0",
        "2130706433": "127.0.0.1",
        "0x7f.1": "127.0.0.1",
        "0177.0.0.1": "127.0.0.1",
        "127.1": "127.0.0.1",
        "[::ffff:127.0.0.1]": "::ffff:127.0.0.1",
        "[64:ff9b::7f00:1]": "64:ff9b::7f00:1",
    }
    cases = {h: (f"http://{h}:{port}/article.html", ip) for h, ip in loopback.items()}
    cases["[::1]"] = (v6.url("/article.html"), "::1")
    for ip in ("169.254.169.254", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",
               "100.64.0.1", "100.127.255.254"):  # fmt: skip
        cases[ip] = (f"http://{ip}/latest/meta-data/", ip)
    return cases


def _redirects(public: WebServer, private: WebServer, other: WebServer, v6: Trap) -> dict[str, str]:
    """Routes on the public server that redirect somewhere private; case -> target URL."""
    targets = {
        "to-other": other.url("/article.html"),
        "to-localhost": f"http://localhost:{private.port}/article.html",
        "to-v6": v6.url("/article.html"),
        "to-metadata": "http://169.254.169.254/latest/meta-data/",
        "to-encoded": f"http://0x7f000002:{other.port}/article.html",
        "to-file": "file:///etc/passwd",
        "to-gopher": f"gopher://127.0.0.2:{other.port}/_GET%20/",
        "to-credentials": f"http://alice:hunter22@127.0.0.3:{public.port}/article.html",
    }
    for case, target in targets.items():
        public.redirect(f"/{case}", target)
    public.redirect("/to-other-307", other.url("/article.html"), 307)
    public.redirect("/to-other-308", other.url("/article.html"), 308)
    public.redirect("/chain-1", "/chain-2", 301)  # two allowed hops, then a private one
    public.redirect("/chain-2", public.url("/to-other"), 302)
    return targets


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Save every hostile link in Pocket and run readerd once over them."""
    private, stop_private = start_web_server("127.0.0.1")
    other, stop_other = start_web_server("127.0.0.2")
    public, stop_public = start_web_server("127.0.0.3")
    try:
        with trap("::1") as v6, trap("127.0.0.4") as proxy, pocket() as source:
            urls = {case: url for case, (url, _) in _direct(private, v6).items()}
            for case in [*_redirects(public, private, other, v6), "to-other-307",
                         "to-other-308", "chain-1"]:  # fmt: skip
                urls[case] = public.url(f"/{case}")
            urls |= {
                "file": "file:///etc/passwd",
                "gopher": f"gopher://127.0.0.1:{private.port}/_GET%20/",
                "data": "data:text/html,<p>hello</p>",
                "credentials": f"http://alice:hunter22@127.0.0.3:{public.port}/article.html",
                "public article": public.url("/article.html"),
                "public redirect": public.url("/hop2"),
            }
            for case, url in urls.items():
                source.add_item(url, case)
            cli = module_cli(tmp_path_factory.mktemp("ssrf"))
            cli.env.update(pocket_env(source))
            cli.env.update(READERD_FETCH_ALLOW="127.0.0.3", READERD_FETCH_TIMEOUT="5",
                           READERD_ANALYZER="offline", READERD_LOG_LEVEL="DEBUG")  # fmt: skip
            cli.env.update({name: proxy.url() for name in PROXY_VARIABLES})
            result = cli("run", "--once", check=False)
            assert result.returncode == 1, result.stderr  # refused links are failed items
            yield Run(private, other, public, v6, proxy, urls, links_by_url(cli),
                      result.stdout + result.stderr)  # fmt: skip
    finally:
        stop_private(), stop_other(), stop_public()


DIRECT = [
    "127.0.0.1", "localhost", "[::1]", "0.0.0.0", "169.254.169.254", "10.0.0.1", "172.16.0.1",
    "172.31.255.254", "192.168.1.1", "100.64.0.1", "100.127.255.254", "2130706433", "0x7f.1",
    "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]",
]  # fmt: skip


@pytest.mark.parametrize("case", DIRECT)
def test_private_address_is_refused_before_connecting(run: Run, case: str) -> None:
    url, ip = _direct(run.private, run.v6)[case]
    host = case.strip("[]")
    row = run.row(case)
    assert (row["status"], row["attempts"]) == ("failed", 1)  # permanent: never retried
    ip = str(ipaddress.ip_address(ip))  # Python's own spelling of the address
    assert row["last_error"] == f"fetch: blocked address: host={host} ip={ip} url={url}"


REDIRECTS = {
    "to-other": "ip=127.0.0.2",
    "to-other-307": "ip=127.0.0.2",
    "to-other-308": "ip=127.0.0.2",
    "chain-1": "ip=127.0.0.2",
    "to-localhost": "host=localhost ip=127.0.0.1",
    "to-v6": "host=::1 ip=::1",
    "to-metadata": "ip=169.254.169.254",
    "to-encoded": "host=0x7f000002 ip=127.0.0.2",
    "to-file": "unsupported scheme",
    "to-gopher": "unsupported scheme",
    "to-credentials": "credentials in url",
}


@pytest.mark.parametrize("case", REDIRECTS)
def test_redirect_from_a_public_page_to_a_private_one_is_refused(run: Run, case: str) -> None:
    row = run.row(case)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"].startswith("fetch: ") and REDIRECTS[case] in row["last_error"]
    assert "hunter22" not in row["last_error"]


def test_every_redirect_hop_is_checked_and_the_public_server_saw_only_first_hops(
    run: Run,
) -> None:
    paths = sorted(r.path for r in run.public.requests)
    expected = sorted(
        [f"/{case}" for case in REDIRECTS]
        + ["/chain-2", "/to-other"]  # the chain's later hops
        + ["/article.html", "/hop2", "/hop1", "/article.html"]  # the two controls
    )
    assert paths == expected


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("file", "fetch: unsupported scheme: url=file:///etc/passwd scheme=file"),
        ("gopher", "fetch: unsupported scheme: url={url} scheme=gopher"),
        ("data", "fetch: unsupported scheme: url=data:text/html,<p>hello</p> scheme=data"),
        ("credentials", "fetch: credentials in url: url=http://127.0.0.3:{port}/article.html"),
    ],
)
def test_other_schemes_and_credentials_are_refused(run: Run, case: str, error: str) -> None:
    row = run.row(case)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == error.format(url=run.urls[case], port=run.public.port)


def test_no_private_listener_and_no_proxy_saw_a_connection(run: Run) -> None:
    assert run.private.connections == []
    assert run.other.connections == []
    assert run.v6.connections == []
    assert run.proxy.connections == []
    assert "hunter22" not in run.output


def test_allowed_pages_are_read_directly_with_proxy_variables_set(run: Run) -> None:
    for case in ("public article", "public redirect"):
        row = run.row(case)
        assert (row["status"], row["last_error"]) == ("done", None), case
        assert row["summary"]


# --- DNS rebinding: one resolution per connection, and the socket goes to the checked IP


class _FakeBackend:
    """Records connect requests without opening sockets."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> object:
        self.calls.append(host)
        return object()


def test_dns_rebinding_has_no_window(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["93.184.216.34", "127.0.0.1"])  # public first, then rebound to loopback
    lookups: list[str] = []

    async def rebinding_resolver(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    monkeypatch.setattr(anyio, "getaddrinfo", rebinding_resolver)
    inner = _FakeBackend()
    guard = GuardedBackend([], inner=inner)  # type: ignore[arg-type]
    asyncio.run(guard.connect_tcp("rebind.example", 80))
    assert inner.calls == ["93.184.216.34"]  # the checked address itself, no second lookup
    with pytest.raises(BlockedAddressError, match=r"host=rebind\.example ip=127\.0\.0\.1"):
        asyncio.run(guard.connect_tcp("rebind.example", 80))
    assert lookups == ["rebind.example", "rebind.example"] and len(inner.calls) == 1
    assert ipaddress.ip_address(inner.calls[0]).is_global
