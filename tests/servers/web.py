"""A real article web server on 127.0.0.x for fetch tests, recording every connection."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import pytest

ARTICLE_SAMPLE = "en-home-composting.html"
PDF_SAMPLE = "en-rainwater-harvesting.pdf"
BIG = 3 * 1024 * 1024  # bigger than the small limits the tests set
BOMB = 32 * 1024 * 1024  # inflated size of /bomb; about 32 KiB on the wire
DRIP_CHUNKS, DRIP_PAUSE = 40, 0.25  # /slow: 10 s at most, then it stops by itself
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@cache
def _sample(name: str) -> bytes:
    return resources.files("readerd.samples").joinpath(name).read_bytes()


@cache
def _bomb() -> bytes:
    return gzip.compress(b"\0" * BOMB, compresslevel=9)


@dataclass
class Route:
    """What one path answers."""

    status: int = 200
    body: bytes | Callable[[], Iterator[bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before the status line
    content_length: bool = True  # False: no Content-Length, the body ends when the socket closes


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class WebServer:
    """Routes by path; `.connections` holds one client address per accepted TCP connection."""

    host: str = "127.0.0.1"
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    connections: list[tuple[str, int]] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        """Absolute URL of path on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def add(
        self,
        path: str,
        body: bytes | str | Callable[[], Iterator[bytes]] = b"",
        content_type: str | None = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        content_length: bool = True,
    ) -> str:
        """Serve body at path; returns the path's URL."""
        all_headers = {"Content-Type": content_type} if content_type else {}
        all_headers.update(headers or {})
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(status, data, all_headers, delay, content_length)
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        """Answer path with a redirect to `to` (a path or an absolute URL)."""
        return self.add(path, b"", None, status, {"Location": to})

    def add_standard_routes(self) -> None:
        """The routes every fetch test may use."""
        self.add("/article.html", _sample(ARTICLE_SAMPLE))
        self.add("/doc.pdf", _sample(PDF_SAMPLE), "application/pdf")
        self.add("/image.png", PNG, "image/png")
        self.redirect("/hop2", "/hop1", 301)
        self.redirect("/hop1", self.url("/article.html"), 302)
        self.redirect("/loop-a", "/loop-b")
        self.redirect("/loop-b", "/loop-a")
        self.add("/missing", "not here", status=404)
        self.add("/gone", "gone", status=410)
        self.add("/error", "boom", status=500)
        self.add("/busy", "slow down", status=429, headers={"Retry-After": "120"})
        self.add("/slow", _drip, headers={"Content-Length": str(DRIP_CHUNKS * 100)})
        self.add("/big", b"x" * BIG, "text/plain")
        self.add("/big-stream", _stream(b"y" * BIG), "text/plain", content_length=False)
        page = _sample(ARTICLE_SAMPLE)
        self.add("/gzip", gzip.compress(page), headers={"Content-Encoding": "gzip"})
        self.add("/bomb", _bomb(), headers={"Content-Encoding": "gzip"})


def _drip() -> Iterator[bytes]:
    """A body that arrives 100 bytes at a time, slowly."""
    for _ in range(DRIP_CHUNKS):
        yield b"z" * 100
        time.sleep(DRIP_PAUSE)


def _stream(data: bytes, size: int = 64 * 1024) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return chunks


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    web: WebServer

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.web.connections.append(tuple(client_address[:2]))
        return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        web = self.server.web
        web.requests.append(RecordedRequest("GET", self.path, dict(self.headers.items())))
        route = web.routes.get(self.path.split("?")[0]) or Route(404, b"no such route")
        time.sleep(route.delay)
        chunks = route.body() if callable(route.body) else [route.body]
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.content_length and not callable(route.body):
            self.send_header("Content-Length", str(len(route.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:  # the client hung up: that is what limits are for
            return

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_web_server(host: str = "127.0.0.1") -> tuple[WebServer, Callable[[], None]]:
    """Start a server on host (ephemeral port) in a thread; returns it and its stop function."""
    httpd = _Server((host, 0), _Handler)
    web = WebServer(host=host, port=httpd.server_address[1])
    httpd.web = web
    web.add_standard_routes()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return web, stop


@pytest.fixture
def web_server() -> Iterator[WebServer]:
    """An article server on 127.0.0.1."""
    web, stop = start_web_server()
    try:
        yield web
    finally:
        stop()


@pytest.fixture
def other_web_server() -> Iterator[WebServer]:
    """A second server on the loopback alias 127.0.0.2, for redirect-to-private tests."""
    web, stop = start_web_server("127.0.0.2")
    try:
        yield web
    finally:
        stop()
