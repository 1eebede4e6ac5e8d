"""A real llama.cpp server (llama-cpp-python) with a real small model, and a proxy that records.

    with LlamaServer() as server:            # python -m llama_cpp.server on 127.0.0.1
        server.base_url, server.log()        # ".../v1"; everything the server printed
    with RecordingProxy(server.base_url) as proxy:
        proxy.base_url, proxy.exchanges      # (request JSON, status, response JSON) per call

`.ci/real-model-setup` installs the server and caches the model; `unavailable()` says
what is missing and how to get it. Under CI=true a missing piece is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import serve_in_thread

REPO = Path(__file__).resolve().parents[2]
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_CACHE = REPO / ".pytest_cache" / "d" / "smollm2"
ALIAS = "local"
N_CTX = 4096
HOW_TO = (
    "run `bash .ci/real-model-setup`, then "
    "`.venv/bin/pytest -n 0 -m real_model tests/real_model`"
)


def model_path() -> Path:
    """The GGUF file: READERD_TEST_GGUF if set, else the cache .ci/real-model-setup fills."""
    override = os.environ.get("READERD_TEST_GGUF")
    return Path(override) if override else MODEL_CACHE / MODEL_FILE


def unavailable() -> str | None:
    """Why the real model cannot run here, or None when it can."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return f"llama-cpp-python[server] is not installed; {HOW_TO}"
    if not model_path().is_file():
        return f"the model {model_path()} is missing; {HOW_TO}"
    return None


def require_real_model() -> None:
    """Skip with a reason outside CI; fail under CI=true, where the model must be there."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer(AbstractContextManager["LlamaServer"]):
    """`python -m llama_cpp.server` on a free loopback port, stopped on exit."""

    def __init__(self, n_ctx: int = N_CTX, startup_timeout: float = 60) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        # Open for the server's whole life, closed in __exit__.
        self._log = tempfile.NamedTemporaryFile(prefix="llama-", suffix=".log", delete=False)  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model_path()), "--model_alias", ALIAS,
            "--n_ctx", str(self.n_ctx), "--n_threads", "2", "--logits_all", "false",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited at start:\n{self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"llama.cpp server not ready in {self.startup_timeout} s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()

    def alive(self) -> bool:
        """Whether the server process is still running (a refused grammar can crash it)."""
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """Everything the server printed so far."""
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")


@dataclass
class Exchange:
    """One request through the proxy and what came back."""

    path: str
    request: Any
    status: int
    response: Any


class RecordingProxy(AbstractContextManager["RecordingProxy"]):
    """A loopback HTTP proxy in front of an OpenAI-compatible server, keeping every exchange."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._serving: Any = None
        self.base_url = ""

    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of chat-completions requests, in order."""
        return [e.request for e in self.exchanges if e.path.endswith("/chat/completions")]

    def tool_arguments(self, name: str) -> list[dict[str, Any]]:
        """Arguments of every call to tool `name` the server answered with.

        A call cut off at max_tokens is left out: it is not JSON, readerd refuses it too
        and asks again with a smaller request, whose call is here.
        """
        found = []
        for exchange in self.exchanges:
            choices = (exchange.response or {}).get("choices") or [{}]
            for call in (choices[0].get("message") or {}).get("tool_calls") or []:
                if call["function"]["name"] != name:
                    continue
                raw = call["function"]["arguments"]
                try:
                    found.append(json.loads(raw, strict=False))
                except ValueError:
                    continue
        return found

    def __enter__(self) -> RecordingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream = proxy.upstream + self.path.removeprefix("/v1")
                headers = {"content-type": self.headers.get("content-type", "application/json")}
                try:
                    reply = httpx.request(
                        method, upstream, content=body, headers=headers, timeout=600
                    )
                except httpx.HTTPError:
                    self.send_error(502)
                    return
                with proxy._lock:
                    proxy.exchanges.append(
                        Exchange(self.path, _json(body), reply.status_code, _json(reply.content))
                    )
                self.send_response(reply.status_code)
                self.send_header("content-type", reply.headers.get("content-type", "text/plain"))
                self.send_header("content-length", str(len(reply.content)))
                self.end_headers()
                # The client may have given up (a readerd deadline): recorded all the same.
                with contextlib.suppress(BrokenPipeError):
                    self.wfile.write(reply.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self._serving = serve_in_thread(Handler)
        self.base_url = self._serving.__enter__() + "/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.__exit__(None, None, None)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw, strict=False) if raw else None
    except ValueError:
        return None
