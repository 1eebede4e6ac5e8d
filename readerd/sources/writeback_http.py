"""HTTP for writing back to a service: one attempt per request, paced, failures sorted.

Write-back retries across cycles (its ledger rows carry attempts and a backoff), not
within one: so each request here is sent once, no faster than the service's rate, and
its failure comes back as what the write-back stage must do about it — pause the
source (401/403), wait (429, with the server's Retry-After), give the item up (404),
or try again later (5xx, network). Secrets never appear in a message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from readerd.errors import SourceError
from readerd.results import SavedLink
from readerd.sources.service_http import ClientOptions, network_problem, server_message
from readerd.text.times import retry_after_seconds

DEFAULT_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class RemoteItem:
    """An item as the service has it now."""

    tags: list[str]  # every tag on it, as the service spells them
    modified: datetime | None  # its modification time (naive UTC), where the service has one
    saved: SavedLink | None = None  # the item as a sync would see it (to re-sync it)
    human: tuple[str, ...] = ()  # tags the service itself marks as the user's (Karakeep)


class Writer(Protocol):
    """Writes readerd's tags to one service, by that service's own semantics."""

    name: str
    checks_modified: bool  # write only items unchanged since the sync (Linkding)

    def normalise(self, tag: str) -> str:
        """A tag as the service would store it."""
        ...

    @property
    def requests(self) -> int:
        """Requests made so far."""
        ...

    async def __aenter__(self) -> Writer: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def get(self, remote_id: str) -> RemoteItem:
        """The item as it is now."""
        ...

    async def write_tags(
        self, remote_id: str, current: RemoteItem, add: list[str], remove: list[str]
    ) -> RemoteItem:
        """Add and remove these tags, leaving every other tag as it is; the item after."""
        ...

    async def archive(self, remote_id: str) -> None:
        """Archive the item (only ever on the user's explicit request)."""
        ...


class WriteError(SourceError):
    """A write the service did not take; `retryable` says whether a later cycle may."""


class WriteRefused(WriteError):
    """401/403: the credentials do not allow writing. Write-back pauses for this source."""

    retryable = False


class WriteRateLimited(WriteError):
    """429: the server asked to wait `retry_after` seconds."""


class RemoteGone(WriteError):
    """404: the item no longer exists at the service."""

    retryable = False


def retry_after(response: httpx.Response) -> float:
    """Seconds the server asks to wait (Retry-After: seconds or an HTTP date)."""
    seconds = retry_after_seconds(response.headers.get("Retry-After", ""))
    return DEFAULT_RETRY_AFTER_S if seconds is None else seconds


class WriterBase:
    """What every service's writer shares: one paced WriteClient, the count of its
    requests, a repr that never shows a credential, and the context that closes it."""

    name = ""
    checks_modified = False  # write only items unchanged since the sync (Linkding)
    where = ""  # the server, for repr

    def _open(
        self,
        *,
        rate: float,
        options: ClientOptions | None,
        headers: dict[str, str],
        secrets: Iterable[str],
    ) -> None:
        options = options or ClientOptions()
        self._client = WriteClient(
            self.name,
            rate=rate,
            timeout=options.timeout,
            user_agent=options.user_agent,
            headers=headers,
            secrets=secrets,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r})"  # never the credentials

    @property
    def requests(self) -> int:
        return self._client.requests

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(None, None, None)


class WriteClient:
    """One paced HTTP session against one service; counts the requests it makes."""

    def __init__(
        self,
        service: str,
        *,
        rate: float,
        timeout: float,
        user_agent: str,
        headers: dict[str, str],
        secrets: Iterable[str] = (),
    ) -> None:
        self.service = service
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.secrets = [s for s in secrets if s]
        self.requests = 0
        self._last = 0.0
        self._client = httpx.AsyncClient(
            timeout=timeout,
            trust_env=False,  # a service on the LAN must not go through a proxy
            headers={"User-Agent": user_agent, "Accept": "application/json", **headers},
        )

    async def __aenter__(self) -> WriteClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def request(self, method: str, url: str, *, action: str, **kwargs: Any) -> Any:
        """Send once, at the service's pace; the JSON reply (None when empty), or a WriteError."""
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            problem = network_problem(exc, url)
            raise WriteError(f"{self.service}: {problem}", retryable=True) from None
        status = response.status_code
        if status < 300:
            try:
                return response.json() if response.content else None
            except ValueError:
                message = f"{self.service}: {action} failed: invalid JSON"
                raise WriteError(message, retryable=True) from None
        detail = f"{action} failed: status={status} message={self._message(response)!r}"
        if status in (401, 403):
            raise WriteRefused(f"{self.service}: {detail}")
        if status == 404:
            raise RemoteGone(f"{self.service}: {detail}")
        if status == 429:
            wait = retry_after(response)
            raise WriteRateLimited(f"{self.service}: {detail}", retry_after=wait)
        raise WriteError(f"{self.service}: {detail}", retryable=status >= 500 or status == 408)

    def _message(self, response: httpx.Response) -> str:
        return server_message(response, self.secrets)
