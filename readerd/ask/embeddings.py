"""Vectors from any OpenAI-compatible /v1/embeddings endpoint (Ollama, llama.cpp, OpenAI).

A plain httpx POST rather than the openai SDK: the request is one small JSON body,
and importing the SDK costs `readerd search --semantic` about half a second.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from readerd.config import Settings
from readerd.errors import AnalysisError
from readerd.text.urls import host_of

BATCH = 32  # inputs per request
ATTEMPTS = 3  # a 429, a 5xx or a dropped connection is tried again, after 1 s then 2 s


class EmbeddingClient:
    """Embeds texts with the configured model; failures are one-line AnalysisErrors."""

    def __init__(self, settings: Settings) -> None:
        if not (settings.embed_base_url and settings.embed_model):
            raise ValueError("embed: READERD_EMBED_BASE_URL and READERD_EMBED_MODEL are needed")
        key = settings.embed_api_key or settings.llm_api_key
        self.model = settings.embed_model
        self.dimensions = settings.embed_dimensions
        self.query_prefix = settings.embed_query_prefix
        self.host = host_of(settings.embed_base_url)
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        self._url = settings.embed_base_url.rstrip("/") + "/embeddings"
        self._secret = key.get_secret_value() if key else ""
        self._client = httpx.Client(timeout=settings.llm_timeout, headers=headers)

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
        for attempt in range(ATTEMPTS):
            try:
                response = self._client.post(self._url, json=body)
            except httpx.HTTPError:
                if attempt + 1 < ATTEMPTS:
                    time.sleep(2**attempt)
                    continue
                raise AnalysisError(
                    f"embed: cannot connect: host={self.host} model={self.model}", retryable=True
                ) from None
            worth_retrying = response.status_code == 429 or response.status_code >= 500
            if worth_retrying and attempt + 1 < ATTEMPTS:
                time.sleep(2**attempt)
                continue
            if response.status_code != 200:
                raise self._refused(response)
            return self._vectors(response, len(batch))
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, response: httpx.Response) -> AnalysisError:
        try:
            error = response.json().get("error")
            message = error.get("message") if isinstance(error, dict) else error
        except (ValueError, AttributeError):
            message = response.text
        message = " ".join(str(message or response.reason_phrase).split())[:200]
        if self._secret:
            message = message.replace(self._secret, "***")
        status = response.status_code
        return AnalysisError(
            f"embed: status={status} host={self.host} model={self.model}: {message}",
            retryable=status >= 500 or status == 429,
        )

    def _vectors(self, response: httpx.Response, expected: int) -> list[list[float]]:
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
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
        self._client.close()
