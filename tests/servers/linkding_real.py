"""The real Linkding (1.42.0) on 127.0.0.1, from ../shared/services/linkding/serve.py.

`start_linkding(data_dir)` runs it and returns a `RealLinkding`: its URL and token, a
small client for Linkding's own REST API (what a user's browser or app does), and stop().
serve.py prints one JSON line when the API answers (about 5 s with its venv cached, a
minute or more when it must install Linkding's requirements first).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.servers import serve_in_thread

SERVE = Path(__file__).resolve().parents[3] / "shared" / "services" / "linkding" / "serve.py"
START_TIMEOUT_S = 600  # a cold start installs Linkding's requirements from pip's cache


def require_serve_py() -> Path:
    """serve.py, or skip (fail under CI=true: the conformance step must not pass by skipping)."""
    if SERVE.is_file():
        return SERVE
    why = f"the real Linkding is not available: {SERVE} not found"
    if os.environ.get("CI") == "true":
        pytest.fail(why + " (CI=true: this step must run)")
    pytest.skip(why)


@dataclass
class RealLinkding:
    url: str
    token: str
    process: subprocess.Popen[str]
    requests: int = 0  # made through this helper (the test's "user"), not by readerd

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """One request to Linkding's REST API as its user; the decoded JSON (None if empty)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Token {token or self.token}",
                "Content-Type": "application/json",
            },
        )
        self.requests += 1
        with urllib.request.urlopen(request, timeout=30) as reply:
            raw = reply.read()
        return json.loads(raw) if raw else None

    def add(self, url: str, title: str = "", tags: tuple[str, ...] = ()) -> int:
        """A new bookmark, as the browser extension saves it (Linkding fetches nothing)."""
        body = {"url": url, "title": title, "tag_names": list(tags)}
        return int(self.api("POST", "/api/bookmarks/?disable_scraping", body)["id"])

    def get(self, bookmark_id: int) -> dict[str, Any]:
        return dict(self.api("GET", f"/api/bookmarks/{bookmark_id}/"))

    def patch(self, bookmark_id: int, **fields: Any) -> dict[str, Any]:
        return dict(self.api("PATCH", f"/api/bookmarks/{bookmark_id}/", fields))

    def archive(self, bookmark_id: int) -> None:
        self.api("POST", f"/api/bookmarks/{bookmark_id}/archive/")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_linkding(data_dir: Path) -> RealLinkding:
    """Start serve.py with a fresh database under data_dir; wait for its JSON line."""
    serve = require_serve_py()
    data_dir.mkdir(parents=True, exist_ok=True)
    errors = data_dir / "serve.stderr"  # a file, not a pipe: a full pipe would stall the server
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(serve), "--data", str(data_dir / "linkding")],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if line.strip():
                info = json.loads(line)
                return RealLinkding(info["url"], info["token"], process)
        if process.poll() is not None:
            break
    process.kill()
    process.wait(timeout=10)
    error = errors.read_text().strip().splitlines()[-1:]
    pytest.fail(f"the real Linkding did not start: {error or 'no JSON line in time'}")


#: Set by the proxy itself (send_response sends Date and Server), or per connection.
HOP_HEADERS = ("transfer-encoding", "connection", "content-length", "date", "server")


class CountingProxy:
    """A pass-through to the real server that counts what readerd sends it.

    `with CountingProxy(url) as proxy:` readerd talks to proxy.url; proxy.count is the
    number of requests it forwarded (the real Linkding keeps no request log of its own).
    """

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target)
        self.count = 0
        self.url = ""
        self._lock = threading.Lock()
        self._stack = ExitStack()

    def __enter__(self) -> CountingProxy:
        self.url = self._stack.enter_context(serve_in_thread(self._handler()))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                with proxy._lock:
                    proxy.count += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                target = proxy.target
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    connection.request(self.command, self.path, body or None, headers)
                    reply = connection.getresponse()
                    data = reply.read()
                    self.send_response(reply.status)
                    for name, value in reply.getheaders():
                        if name.lower() not in (
                            "transfer-encoding",
                            "connection",
                            "content-length",
                        ):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    connection.close()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
