"""One chat-completions request at a time, through the openai client, with readerd's retries.

The openai client's own retries are off (max_retries=0) and its timeout is
settings.llm_timeout, so this module's policy is the only one: 429 waits inline
when Retry-After is short, 5xx retries with backoff, everything else is classified
for the tool-call loop. Every HTTP attempt becomes an LLMCall; keys never appear.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from readerd.analyze.llm_parse import Problem, classify_error
from readerd.analyze.prompts import PROMPT_VERSION
from readerd.config import Settings
from readerd.errors import AnalysisError, LLMOutageError, LLMUnavailableError
from readerd.results import LLMCall

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_INLINE_WAIT = 10.0  # seconds: a longer Retry-After defers the item instead
MODELS_TIMEOUT = 15.0  # seconds for GET /models
ATTEMPTS = 3


class LLMProblemError(Exception):
    """A classified failure the tool-call loop reacts to (fall back, shrink, repair)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"llm: {problem.kind}: status={problem.status}: {problem.message}")
        self.problem = problem


@dataclass
class Exchange:
    """A successful response: its JSON body and how long it took."""

    body: Any
    latency_ms: int


def host_of(base_url: str) -> str:
    """Host (and port) of a base URL, without credentials or path."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def model_listed(model: str, ids: list[str]) -> bool:
    """Whether a model list names the model, allowing Ollama's ':latest' and llama.cpp's paths."""
    names = {i.lower() for i in ids}
    names |= {n.rsplit("/", 1)[-1].removesuffix(".gguf") for n in names}
    names |= {n.removesuffix(":latest") for n in names}
    return model.lower().removesuffix(":latest") in names


def _is_refused(exc: BaseException) -> bool:
    """Whether a connection error is a refusal/DNS failure rather than a broken exchange."""
    seen: BaseException | None = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or type(seen).__name__ == "ConnectError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ChatClient:
    """Sends chat-completions requests to one (base URL, model) and logs every attempt."""

    def __init__(self, settings: Settings, *, backoff: float = 0.5) -> None:
        if not settings.llm_model:
            raise ValueError("llm: no model configured")
        self.base_url = (settings.llm_base_url or DEFAULT_BASE_URL).rstrip("/")
        self.host = host_of(self.base_url)
        self.model = settings.llm_model
        self.timeout = settings.llm_timeout
        self.backoff = backoff
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        self._key = key
        self._openai: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def redact(self, text: str) -> str:
        """Text with the API key masked, cut to a log-friendly length."""
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text[:400]

    def _client(self) -> openai.AsyncOpenAI:
        """The openai client of the running event loop (its connection pool is loop-bound)."""
        loop = asyncio.get_running_loop()
        if self._openai is None or self._loop is not loop:
            self._openai = openai.AsyncOpenAI(
                api_key=self._key or "unused",  # local servers need none; the client insists
                base_url=self.base_url,
                max_retries=0,
                timeout=self.timeout,
            )
            self._loop = loop
        return self._openai

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._openai is not None:
            await self._openai.close()
            self._openai = None

    async def list_models(self) -> list[str] | None:
        """Model ids the endpoint lists (GET /models); None when it cannot say."""
        client = self._client().with_options(timeout=min(self.timeout, MODELS_TIMEOUT))
        try:
            raw = await client.models.with_raw_response.list()
            data = json.loads(raw.text).get("data")
        except (openai.APIError, ValueError, AttributeError):
            return None
        if not isinstance(data, list):
            return None
        ids = [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
        return ids or None

    def record(self, mode: str, latency_ms: int, outcome: str, **extra: Any) -> LLMCall:
        """An LLMCall for the call log."""
        error = extra.get("error")
        return LLMCall(
            model=self.model,
            base_url_host=self.host,
            prompt_version=PROMPT_VERSION,
            mode=mode,
            tokens_in=extra.get("tokens_in", 0),
            tokens_out=extra.get("tokens_out", 0),
            latency_ms=latency_ms,
            outcome=outcome,
            error=self.redact(error) if error else None,
        )

    def _facts(self) -> str:
        """host=… model=… for error messages."""
        return f"host={self.host} model={self.model}"

    async def send(self, payload: dict[str, Any], mode: str, log: list[LLMCall]) -> Exchange:
        """One logical request; 429 (short Retry-After) and 5xx are retried, each attempt logged."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(ATTEMPTS),
            wait=self._wait,
            retry=retry_if_exception(_worth_retrying),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(payload, mode, log)
        except LLMProblemError as exc:
            self._raise_public(exc.problem)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After, else exponential backoff."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, LLMProblemError) and exc.problem.retry_after is not None:
            return exc.problem.retry_after
        return self.backoff * 2 ** (state.attempt_number - 1)

    def _raise_public(self, problem: Problem) -> None:
        """Turn final auth/model/rate/server problems into readerd's errors."""
        said = self.redact(problem.message)
        if problem.kind == "auth":
            raise LLMUnavailableError(
                f"llm: unauthorized: status={problem.status} {self._facts()}: {said}"
            ) from None
        if problem.kind == "model":
            raise LLMUnavailableError(
                f"llm: model not found: status={problem.status} {self._facts()}: {said}"
            ) from None
        if problem.kind == "rate":
            wait = problem.retry_after
            when = f"retry after {math.ceil(wait)} s" if wait is not None else "retry later"
            raise AnalysisError(f"llm: rate limited, {when}: {self._facts()}: {said}") from None
        if problem.kind == "server":
            raise LLMOutageError(
                f"llm: server error: status={problem.status} {self._facts()}: {said}"
            ) from None

    async def _attempt(self, payload: dict[str, Any], mode: str, log: list[LLMCall]) -> Exchange:
        """One HTTP request; failures are logged and raised classified."""
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            raw = await self._client().chat.completions.with_raw_response.create(**payload)
            body = json.loads(raw.text)
        except openai.APIStatusError as exc:
            headers = {k.lower(): v for k, v in exc.response.headers.items()}
            problem = classify_error(exc.status_code, headers, exc.response.text)
            error = f"status={exc.status_code} {problem.kind}: {problem.message}"
            log.append(self.record(mode, elapsed(), "error", error=error))
            raise LLMProblemError(problem) from None
        except openai.APITimeoutError:
            log.append(self.record(mode, elapsed(), "error", error="timeout"))
            raise LLMOutageError(
                f"llm: timed out after {self.timeout:g} s: {self._facts()}"
            ) from None
        except openai.APIConnectionError as exc:
            log.append(self.record(mode, elapsed(), "error", error="connection failed"))
            if _is_refused(exc):
                raise LLMUnavailableError(f"llm: cannot connect: {self._facts()}") from None
            raise LLMOutageError(f"llm: connection failed: {self._facts()}") from None
        except ValueError:
            log.append(self.record(mode, elapsed(), "error", error="response is not JSON"))
            raise LLMProblemError(Problem("server", 200, "response is not JSON")) from None
        return Exchange(body=body, latency_ms=elapsed())


def _worth_retrying(exc: BaseException) -> bool:
    """5xx, and 429 whose Retry-After is short (or absent), are retried inline."""
    if not isinstance(exc, LLMProblemError):
        return False
    problem = exc.problem
    if problem.kind == "server":
        return True
    if problem.kind == "rate":
        return problem.retry_after is None or problem.retry_after <= MAX_INLINE_WAIT
    return False
