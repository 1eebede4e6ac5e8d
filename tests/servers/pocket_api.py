"""A real Pocket-compatible HTTP server on 127.0.0.1, with an in-memory item store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.servers import serve_in_thread

CONSUMER_KEY = "test-consumer-key"
ACCESS_TOKEN = "test-access-token"
_STATES = {"unread": {"0"}, "archive": {"1"}, "all": {"0", "1"}}


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # decoded JSON, or the raw text when it was not JSON


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    remaining: int


@dataclass
class PocketServer:
    """Pocket v3 `/v3/get` over an in-memory store, with a deterministic clock."""

    consumer_key: str = CONSUMER_KEY
    access_token: str = ACCESS_TOKEN
    now: int = 1_700_000_000
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    url: str = ""
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _tick(self) -> int:
        self.now += 1
        return self.now

    def add_item(
        self, url: str, title: str = "", *, status: str = "0", tags: tuple[str, ...] = ()
    ) -> str:
        """Save a link; returns its item_id (a string, as Pocket sends it)."""
        with self._lock:
            item_id = str(1000 + len(self.items))
            t = str(self._tick())
            self.items[item_id] = {
                "item_id": item_id,
                "resolved_id": item_id,
                "given_url": url,
                "given_title": title,
                "resolved_url": url,
                "resolved_title": title,
                "status": status,
                "favorite": "0",
                "time_added": t,
                "time_updated": t,
                "word_count": "123",
            }
            if tags:  # Pocket omits "tags" when there are none
                self.items[item_id]["tags"] = {n: {"item_id": item_id, "tag": n} for n in tags}
            return item_id

    def update_item(self, item_id: str, **changes: str) -> None:
        """Change fields of an item (e.g. status="1" to archive) and bump its time_updated."""
        with self._lock:
            self.items[item_id].update(changes, time_updated=str(self._tick()))

    def delete_item(self, item_id: str) -> None:
        """Delete an item: incremental gets report it as {item_id, status: "2"}."""
        self.update_item(item_id, status="2")

    def fail_next(self, status: int, n: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next n requests with `status` (403 defaults to a rate-limit reply)."""
        if headers is None:
            headers = {"X-Error": "Pocket server unavailable", "X-Error-Code": "199"}
            if status == 403:
                headers = {
                    "X-Error": "User was rate limited",
                    "X-Error-Code": "198",
                    "X-Limit-User-Limit": "320",
                    "X-Limit-User-Remaining": "0",
                    "X-Limit-User-Reset": "1800",
                }
        with self._lock:
            self._failures.append(_Failure(status, headers, n))

    def answer(self, body: Any) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """Compute the reply to one `/v3/get` body: (status, headers, JSON or None)."""
        with self._lock:
            if self._failures:
                failure = self._failures[0]
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
                return failure.status, failure.headers, None
            if not isinstance(body, dict):
                return 400, {"X-Error": "Invalid request", "X-Error-Code": "130"}, None
            if body.get("consumer_key") != self.consumer_key:
                return 401, {"X-Error": "Invalid consumer key.", "X-Error-Code": "152"}, None
            if body.get("access_token") != self.access_token:
                return 401, {"X-Error": "Invalid access token.", "X-Error-Code": "107"}, None
            return 200, {}, self._list(body)

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        since = int(body["since"]) if body.get("since") not in (None, "") else None
        wanted = set(_STATES.get(str(body.get("state", "unread")), {"0"}))
        if since is not None:
            wanted.add("2")  # deletions are reported only to incremental gets
        items = [
            i
            for i in self.items.values()
            if i["status"] in wanted and (since is None or int(i["time_updated"]) > since)
        ]
        items.sort(key=lambda i: (int(i["time_added"]), int(i["item_id"])))
        if body.get("sort") == "newest":
            items.reverse()
        count = min(int(body.get("count", 30)), 30)
        offset = int(body.get("offset", 0))
        page = items[offset : offset + count]
        as_sent = {
            i["item_id"]: ({"item_id": i["item_id"], "status": "2"} if i["status"] == "2" else i)
            for i in page
        }
        return {
            "status": 1 if page else 2,
            "complete": 1,
            "list": as_sent or [],  # Pocket sends an empty *array* when nothing matched
            "error": None,
            "search_meta": {"search_type": "normal"},
            "since": self.now,
        }


def _handler(server: PocketServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            headers = dict(self.headers.items())
            server.requests.append(RecordedRequest("POST", self.path, headers, body))
            if self.path != "/v3/get":
                return self._reply(404, {"X-Error": "Not found"}, None)
            self._reply(*server.answer(body))

        def _reply(self, status: int, headers: dict[str, str], payload: Any) -> None:
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json" if data else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def running_pocket() -> Iterator[PocketServer]:
    """A PocketServer listening on 127.0.0.1 (ephemeral port) until the block ends."""
    state = PocketServer()
    with serve_in_thread(_handler(state)) as url:
        state.url = url
        yield state


@pytest.fixture
def pocket_server() -> Iterator[PocketServer]:
    """A PocketServer for one test."""
    with running_pocket() as state:
        yield state
