"""One chat-completions request at a time, through the openai client, with readerd's retries.

The openai client's own retries are off (max_retries=0), so this module's policy is
the only one: 429 waits inline when Retry-After is short, 5xx retries with backoff,
everything else is classified for the tool-call loop. Every HTTP attempt becomes an
LLMCall; keys never appear.

Deadlines are sized from the request: the server's speed is learnt from earlier
replies (seconds per "work unit" = prompt tokens / 4 + completion tokens, since
prompt evaluation runs several times faster than generation on CPU servers), and a
request gets a few times what it should take, between a floor and settings.llm_timeout.
A home server usually has one slot and keeps generating after the client gives up,
so after a timeout the next request waits until the abandoned one has had time to
finish (its max_tokens at the learnt speed), then the request is tried once more.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.stop import stop_base

from readerd.analyze.openai.prompts import PROMPT_VERSION
from readerd.analyze.openai.server_errors import Problem, classify_error
from readerd.config import Settings
from readerd.errors import AnalysisError, LLMOutageError, LLMUnavailableError
from readerd.results import LLMCall
from readerd.text.urls import host_of

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_INLINE_WAIT = 10.0  # seconds: a longer Retry-After defers the item instead
MODELS_TIMEOUT = 15.0  # seconds for GET /models
ATTEMPTS = 3
DEADLINE_FLOOR = 30.0  # seconds: never less, whatever the learnt speed
# A request may take this many times its expected time: a home server's speed swings
# with whatever else the machine runs, and a timeout wastes the work already done.
DEADLINE_SLACK = 4.0
MAX_DRAIN = 90.0  # seconds at most to let a single-slot server finish an abandoned request


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


def work_units(payload: dict[str, Any]) -> float:
    """The expected cost of a request: prompt tokens / 4 + its completion-token bound."""
    prompt = json.dumps([payload.get("messages"), payload.get("tools")], ensure_ascii=False)
    bound = payload.get("max_tokens") or payload.get("max_completion_tokens") or 512
    return len(prompt) / 4 / 4 + float(bound)


def cached_tokens(body: Any) -> int:
    """Prompt tokens the server says it reused from its cache (OpenAI/vLLM or llama.cpp)."""
    if not isinstance(body, dict):
        return 0
    usage = usage if isinstance(usage := body.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        return int(details["cached_tokens"])
    timings = body.get("timings")
    if isinstance(timings, dict) and isinstance(timings.get("cache_n"), int):
        return int(timings["cache_n"])
    return 0


class Pace:
    """The server's learnt speed, requests in flight, and when an abandoned one should be done."""

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling
        self.seconds_per_unit: float | None = None
        self.in_flight = 0
        self.busy_until = 0.0

    def deadline(self, units: float) -> float:
        """Seconds one request may take: a few times its expected time, floor to ceiling."""
        if self.seconds_per_unit is None:
            return self.ceiling
        queued = max(1, self.in_flight)  # a single-slot server answers them one by one
        expected = units * self.seconds_per_unit * queued
        return min(self.ceiling, max(DEADLINE_FLOOR, expected * DEADLINE_SLACK))

    def learn(self, units_done: float, seconds: float, queued: int) -> None:
        """Fold in one answered request; slow answers count at once, fast ones slowly."""
        if units_done <= 0:
            return
        observed = seconds / units_done / max(1, queued)
        old = self.seconds_per_unit
        self.seconds_per_unit = (
            observed if old is None else max(observed, 0.8 * old + 0.2 * observed)
        )

    def abandoned(self, units: float) -> None:
        """A request timed out: the server may still be working on it."""
        per_unit = self.seconds_per_unit or 0.05
        drain = min(MAX_DRAIN, self.ceiling, units * per_unit)
        self.busy_until = max(self.busy_until, time.monotonic() + drain)

    def wait(self) -> float:
        """Seconds to wait before sending, while an abandoned request may still run."""
        return max(0.0, self.busy_until - time.monotonic())


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
        self.pace = Pace(settings.llm_timeout)
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        self._key = key
        self.concurrency = settings.llm_concurrency
        self._openai: openai.AsyncOpenAI | None = None
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def redact(self, text: str) -> str:
        """Text with the API key masked, cut to a log-friendly length."""
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text[:400]

    def _client(self) -> openai.AsyncOpenAI:
        """The openai client of the running event loop (its connection pool is loop-bound)."""
        self._bind_loop()
        assert self._openai is not None
        return self._openai

    def _request_slots(self) -> asyncio.Semaphore:
        """The running event loop's limit on requests in flight (a semaphore is loop-bound)."""
        self._bind_loop()
        assert self._slots is not None
        return self._slots

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._openai is None or self._loop is not loop:
            self._openai = openai.AsyncOpenAI(
                api_key=self._key or "unused",  # local servers need none; the client insists
                base_url=self.base_url,
                max_retries=0,
                timeout=self.timeout,
            )
            self._slots = asyncio.Semaphore(self.concurrency)
            self._loop = loop

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._openai is not None:
            await self._openai.close()
            self._openai = None

    async def list_models(self) -> list[str] | None:
        """Model ids the endpoint lists (GET /models); None when it cannot say."""
        entries = await self.model_entries()
        return [str(m["id"]) for m in entries] if entries else None

    async def model_entries(self) -> list[dict[str, Any]] | None:
        """The /models entries with an id; None when the endpoint cannot say."""
        client = self._client().with_options(timeout=min(self.timeout, MODELS_TIMEOUT))
        try:
            raw = await client.models.with_raw_response.list()
            data = json.loads(raw.text).get("data")
        except (openai.APIError, ValueError, AttributeError):
            return None
        if not isinstance(data, list):
            return None
        entries = [m for m in data if isinstance(m, dict) and m.get("id")]
        return entries or None

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
            tokens_cached=extra.get("tokens_cached", 0),
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
            stop=stop_after_attempt(ATTEMPTS) | _second_timeout,
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
        if isinstance(exc, LLMProblemError) and exc.problem.kind == "timeout":
            return self.pace.wait()
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
        if problem.kind == "timeout":
            raise LLMOutageError(f"llm: {problem.message}: {self._facts()}") from None

    async def _attempt(self, payload: dict[str, Any], mode: str, log: list[LLMCall]) -> Exchange:
        """One HTTP request, in a request slot; failures are logged and raised classified."""
        units = work_units(payload)
        async with self._request_slots():
            if (pause := self.pace.wait()) > 0:
                await asyncio.sleep(pause)
            deadline = self.pace.deadline(units)
            self.pace.in_flight += 1
            queued = self.pace.in_flight
            try:
                return await self._exchange(payload, mode, log, units, deadline, queued)
            finally:
                self.pace.in_flight -= 1

    async def _exchange(
        self,
        payload: dict[str, Any],
        mode: str,
        log: list[LLMCall],
        units: float,
        deadline: float,
        queued: int,
    ) -> Exchange:
        """The request itself, within its deadline."""
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        client = self._client().with_options(timeout=deadline)
        try:
            # The SDK's documented call for a request as built: chat.completions.create
            # would walk the whole payload (the article) through its typed transform.
            text = await client.post("/chat/completions", cast_to=str, body=payload)
            body = json.loads(text)
        except openai.APIStatusError as exc:
            headers = {k.lower(): v for k, v in exc.response.headers.items()}
            problem = classify_error(exc.status_code, headers, exc.response.text)
            error = f"status={exc.status_code} {problem.kind}: {problem.message}"
            log.append(self.record(mode, elapsed(), "error", error=error))
            raise LLMProblemError(problem) from None
        except openai.APITimeoutError:
            log.append(
                self.record(mode, elapsed(), "error", error=f"timeout after {deadline:.0f} s")
            )
            self.pace.abandoned(units)
            raise LLMProblemError(
                Problem("timeout", 0, f"timed out after {deadline:.0f} s")
            ) from None
        except openai.APIConnectionError as exc:
            log.append(self.record(mode, elapsed(), "error", error="connection failed"))
            if _is_refused(exc):
                raise LLMUnavailableError(f"llm: cannot connect: {self._facts()}") from None
            raise LLMOutageError(f"llm: connection failed: {self._facts()}") from None
        except ValueError:
            log.append(self.record(mode, elapsed(), "error", error="response is not JSON"))
            raise LLMProblemError(Problem("server", 200, "response is not JSON")) from None
        self.pace.learn(_units_done(body), time.monotonic() - started, queued)
        return Exchange(body=body, latency_ms=elapsed())


def _units_done(body: Any) -> float:
    """Work units a reply took, from its usage (0 when the server does not say)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0.0
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return 0.0
    return prompt / 4 + completion


class _SecondTimeout(stop_base):
    """Stop after a timeout on the retry: the server is not just busy."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        timed_out = isinstance(exc, LLMProblemError) and exc.problem.kind == "timeout"
        return timed_out and retry_state.attempt_number >= 2


_second_timeout = _SecondTimeout()


def _worth_retrying(exc: BaseException) -> bool:
    """5xx, and 429 whose Retry-After is short (or absent), are retried inline."""
    if not isinstance(exc, LLMProblemError):
        return False
    problem = exc.problem
    if problem.kind == "server":
        return True
    if problem.kind == "timeout":
        return True  # once more, after the server has had time to finish the first
    if problem.kind == "rate":
        return problem.retry_after is None or problem.retry_after <= MAX_INLINE_WAIT
    return False
