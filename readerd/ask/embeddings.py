"""Vectors from any OpenAI-compatible /v1/embeddings endpoint (Ollama, llama.cpp, OpenAI).

One small JSON POST per batch, on the standard library's urllib: the openai SDK would
cost `readerd search --semantic` about half a second to import, and httpx (which loads
its own command line, rich and pygments) a further 75 ms — a sixth of the command.
Redirects are not followed, and a proxy is taken from the environment, as with httpx.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readerd.errors import AnalysisError, ConfigError
from readerd.text.urls import host_of

if TYPE_CHECKING:
    from readerd.config import Settings

BATCH = 32  # inputs per request
ATTEMPTS = 3  # a 429, a 5xx or a dropped connection is tried again, after 1 s then 2 s


@dataclass(frozen=True)
class EmbeddingConfig:
    """What embedding and searching by meaning need: the READERD_EMBED_* settings.

    Built from the validated Settings (`of`), or for `search --semantic`, which should
    start at once, straight from the environment (`from_environment`, no pydantic);
    tests/test_semantic.py checks that the two agree.
    """

    base_url: str
    model: str
    api_key: str  # "" for none
    dimensions: int | None
    query_prefix: str
    timeout: float
    vectors_dir: Path  # where vectors.sqlite lives: the data directory

    @classmethod
    def of(cls, settings: Settings) -> EmbeddingConfig:
        key = settings.embed_api_key or settings.llm_api_key
        return cls(
            base_url=settings.embed_base_url or "",
            model=settings.embed_model or "",
            api_key=key.get_secret_value() if key else "",
            dimensions=settings.embed_dimensions,
            query_prefix=settings.embed_query_prefix,
            timeout=settings.llm_timeout,
            vectors_dir=settings.data_dir,
        )

    @classmethod
    def from_environment(cls, given: Mapping[str, str], data_dir: Path) -> EmbeddingConfig:
        """From READERD_* values (environment over .env) as Settings would read them.

        `given` maps upper-case names (OPENAI_API_KEY too) to values; a value Settings
        would refuse is a ConfigError naming the variable.
        """
        key = next(
            (given[n] for n in _KEY_NAMES if given.get(n)),
            "",
        )
        return cls(
            base_url=given.get("READERD_EMBED_BASE_URL", ""),
            model=given.get("READERD_EMBED_MODEL", ""),
            api_key=key,
            dimensions=_number("READERD_EMBED_DIMENSIONS", given, int, None),
            query_prefix=given.get("READERD_EMBED_QUERY_PREFIX", ""),
            timeout=_number("READERD_LLM_TIMEOUT", given, float, 120.0) or 120.0,
            vectors_dir=data_dir,
        )

    @property
    def usable(self) -> bool:
        return bool(self.base_url and self.model)


_KEY_NAMES = ("READERD_EMBED_API_KEY", "READERD_LLM_API_KEY", "OPENAI_API_KEY")


def _number(
    name: str, given: Mapping[str, str], kind: type[int] | type[float], default: float | None
) -> Any:
    """A positive number setting, as Settings validates it."""
    raw = given.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value <= 0:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"invalid settings: {name}: must be {what} above 0 (got {raw!r})")
    return value


class EmbeddingClient:
    """Embeds texts with the configured model; failures are one-line AnalysisErrors."""

    def __init__(self, config: EmbeddingConfig) -> None:
        if not config.usable:
            raise ValueError("embed: READERD_EMBED_BASE_URL and READERD_EMBED_MODEL are needed")
        self.model = config.model
        self.dimensions = config.dimensions
        self.query_prefix = config.query_prefix
        self.host = host_of(config.base_url)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"
        self._url = config.base_url.rstrip("/") + "/embeddings"
        self._secret = config.api_key
        self._timeout = config.timeout
        self._opener = urllib.request.build_opener(_NoRedirects())

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += self._request(texts[start : start + BATCH])
        return vectors

    def embed_query(self, query: str) -> list[float]:
        """The vector of a search query (with the model's query prefix)."""
        return self.embed([self.query_prefix + query])[0]

    def _request(self, batch: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        payload = json.dumps(body).encode()
        for attempt in range(ATTEMPTS):
            try:
                reply = self._post(payload)
            except (OSError, http.client.HTTPException):  # refused, reset, timed out, DNS
                if attempt + 1 < ATTEMPTS:
                    time.sleep(2**attempt)
                    continue
                raise AnalysisError(
                    f"embed: cannot connect: host={self.host} model={self.model}", retryable=True
                ) from None
            worth_retrying = reply.status == 429 or reply.status >= 500
            if worth_retrying and attempt + 1 < ATTEMPTS:
                time.sleep(2**attempt)
                continue
            if reply.status != 200:
                raise self._refused(reply)
            return self._vectors(reply, len(batch))
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, payload: bytes) -> _Reply:
        request = urllib.request.Request(self._url, payload, self._headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _Reply(response.status, response.reason, response.read())
        except urllib.error.HTTPError as exc:  # any status but 2xx: read what it says
            with exc:
                return _Reply(exc.code, str(exc.reason), exc.read())

    def _refused(self, reply: _Reply) -> AnalysisError:
        text = reply.body.decode("utf-8", "replace")
        try:
            error = json.loads(text).get("error")
            message = error.get("message") if isinstance(error, dict) else error
        except (ValueError, AttributeError):
            message = text
        message = " ".join(str(message or reply.reason).split())[:200]
        if self._secret:
            message = message.replace(self._secret, "***")
        return AnalysisError(
            f"embed: status={reply.status} host={self.host} model={self.model}: {message}",
            retryable=reply.status >= 500 or reply.status == 429,
        )

    def _vectors(self, reply: _Reply, expected: int) -> list[list[float]]:
        try:
            data = sorted(json.loads(reply.body)["data"], key=lambda item: item["index"])
            vectors = [[float(v) for v in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError):
            raise AnalysisError(
                f"embed: the reply is not an embeddings list: host={self.host}"
            ) from None
        if len(vectors) != expected:
            raise AnalysisError(
                f"embed: {len(vectors)} vectors for {expected} inputs: host={self.host}"
            )
        return vectors

    def close(self) -> None:
        """Nothing is kept open between requests; here for the callers' `finally`."""


@dataclass(frozen=True)
class _Reply:
    status: int
    reason: str
    body: bytes


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the status it is (an error line), never followed."""

    def redirect_request(self, *_: Any) -> None:
        return None
