"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers from a script.

    server.script(reply, reply, ...)      queue: each request takes the next one
    server.respond_with(responder)        answers every request once the queue is empty
    server.requests                       parsed JSON bodies of chat-completions requests

A reply is a `Reply` (status, body, headers, delay), a plain body dict (200), or a
callable given the parsed request that returns either. `AnalysisResponder()`
answers any request with valid calls to both tools, derived from the article.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODEL = "test-model"


@dataclass
class Reply:
    """One scripted HTTP answer; `delay` seconds before it (math.inf: never answer)."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[dict[str, Any]], "Reply | dict[str, Any]"]
Scripted = Reply | dict[str, Any] | Responder


def call(name: str, arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    """A tool call as OpenAI sends it (dict arguments are JSON-encoded, strings kept as-is)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call_id if call_id is not None else "call_" + uuid.uuid4().hex[:12],
        "type": "function",
        "function": {"name": name, "arguments": args},
    }


def completion(message: dict[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    """A chat.completion body around one assistant message."""
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:12],
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def tool_reply(*calls: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    """A completion carrying tool calls."""
    message = {"role": "assistant", "content": content, "tool_calls": list(calls)}
    return completion(message, "tool_calls")


def text_reply(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    """A completion with only text content."""
    return completion({"role": "assistant", "content": content}, finish_reason)


def error_reply(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """An OpenAI-style error answer."""
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return Reply(body=body, status=status, headers=headers or {})


def summary_args(summary: str = "A short summary.", language: str = "en") -> dict[str, Any]:
    """Valid summarize_article arguments."""
    return {
        "summary": summary,
        "key_points": ["First point.", "Second point."],
        "language": language,
    }


def tag_args(*tags: str) -> dict[str, Any]:
    """Valid tag_article arguments."""
    return {"tags": list(tags or ("testing", "tools"))}


# --- reading requests ---------------------------------------------------------------

_ARTICLE = re.compile(r"<article>\n(.*)\n</article>", re.DOTALL)
_LANGUAGE = re.compile(r'set language to "([a-z]{2})"')


def user_text(request: dict[str, Any]) -> str:
    """The content of the first user message."""
    for message in request.get("messages", []):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def article_text(request: dict[str, Any]) -> str:
    """The article text between the delimiters of the user message (title/URL lines dropped)."""
    match = _ARTICLE.search(user_text(request))
    if not match:
        return ""
    return match.group(1).split("\n\n", 1)[-1]


def requested_tools(request: dict[str, Any]) -> list[str]:
    """Tools a request allows: the named tool_choice, else every tool sent."""
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        return [choice["function"]["name"]]
    return [t["function"]["name"] for t in request.get("tools", [])]


class AnalysisResponder:
    """Answers any request with valid analysis results derived from the article text.

    `tools` limits which tools it ever calls (e.g. never tag_article); in JSON or
    text mode (no tools sent) it answers one JSON object in the content.
    """

    def __init__(self, tools: tuple[str, ...] = ("summarize_article", "tag_article")) -> None:
        self.tools = tools

    def arguments(self, request: dict[str, Any], name: str) -> dict[str, Any]:
        """Valid arguments for one tool, from the request's article."""
        text = " ".join(article_text(request).split())
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s] or ["Empty article."]
        if name == "tag_article":
            words = Counter(w.lower() for w in re.findall(r"[^\W\d_]{6,}", text))
            return {"tags": [w for w, _ in words.most_common(3)] or ["misc"]}
        language = _LANGUAGE.search(user_text(request))
        points = (sentences[2:4] if len(sentences) >= 4 else sentences[:2] * 2)[:2]
        return {
            "summary": " ".join(sentences[:2])[:1200],
            "key_points": [p[:300] for p in points],
            "language": language.group(1) if language else "en",
        }

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        """A tool-call completion (or JSON content when no tools were sent)."""
        if not request.get("tools"):
            merged: dict[str, Any] = {}
            for name in self.tools:
                merged |= self.arguments(request, name)
            return text_reply(json.dumps(merged, ensure_ascii=False))
        names = [n for n in requested_tools(request) if n in self.tools]
        if not names:
            return text_reply("I have nothing to call.")
        return tool_reply(*(call(n, self.arguments(request, n)) for n in names))


# --- the server -----------------------------------------------------------------------


class OpenAICompatServer:
    """POST /v1/chat/completions from a script, GET /v1/models; every request recorded."""

    def __init__(self, models: tuple[str, ...] = (MODEL,)) -> None:
        self.models = models
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._queue: deque[Scripted] = deque()
        self._default: Scripted | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Base URL to give the client, e.g. http://127.0.0.1:54321/v1."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *replies: Scripted) -> OpenAICompatServer:
        """Queue replies; each request takes the next one."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def respond_with(self, responder: Scripted) -> OpenAICompatServer:
        """Answer every request with this once the queue is empty."""
        self._default = responder
        return self

    def start(self) -> OpenAICompatServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting on a delay are released unanswered."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> OpenAICompatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self, request: dict[str, Any]) -> Reply:
        """The reply to one request: next in the queue, else the default responder."""
        with self._lock:
            self.requests.append(request)
            item = self._queue.popleft() if self._queue else self._default
        if item is None:
            return error_reply(500, "test server: script exhausted")
        if callable(item):
            item = item(request)
        return item if isinstance(item, Reply) else Reply(body=item)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (math.inf: until stopped); True when the server is stopping."""
        return self._stopping.wait(None if math.isinf(seconds) else seconds)


def _handler_for(server: OpenAICompatServer) -> type[BaseHTTPRequestHandler]:
    """A request-handler class bound to one server."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                if key.lower() not in ("content-length", "transfer-encoding", "content-type"):
                    self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                data = [{"id": m, "object": "model", "owned_by": "test"} for m in server.models]
                self._send(200, {"object": "list", "data": data})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            server.request_headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = server.next_reply(json.loads(raw or b"{}"))
            if reply.delay and server.wait(reply.delay):
                return  # stopping: leave the client without an answer
            self._send(reply.status, reply.body, reply.headers)

    return Handler


@pytest.fixture
def llm_server() -> Iterator[OpenAICompatServer]:
    """A running OpenAI-compatible server; script it, point settings at .base_url."""
    with OpenAICompatServer() as server:
        yield server
