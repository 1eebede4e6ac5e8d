"""HTTP plumbing the read-later service clients share: retries, errors, times, cursors.

Pocket, Wallabag, Linkding, Karakeep and Readeck all speak JSON over HTTP with a token.
This module gives each the same behaviour: 429/5xx/network failures are retried with backoff
and end as a retryable SourceError; 401/403 become SourceAuthError quoting the server's
own message; secrets never appear in a message or a log line.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.wait import wait_base

from readerd.errors import SourceAuthError, SourceError, TransientError

log = logging.getLogger(__name__)

#: A cursor never stands later than the server's clock minus this: a change committed
#: while a sync was paging can carry an older timestamp than the newest one it saw.
OVERLAP = timedelta(seconds=60)
_MESSAGE_KEYS = ("error", "error_description", "message", "detail")  # in that order


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (Z, ±hh:mm, ±hhmm, or naive = UTC) or Unix seconds to naive UTC; else None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        if text.isdigit():
            moment = datetime.fromtimestamp(int(text), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_time(moment: datetime, *, seconds: bool = False) -> str:
    """A naive UTC datetime as RFC 3339 with `Z` (whole seconds when `seconds`)."""
    if seconds or not moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def server_time(response: httpx.Response) -> datetime | None:
    """The server's clock from its `Date` header, as naive UTC."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def next_cursor(
    newest: datetime | None, clock: datetime | None, since: datetime | None
) -> datetime | None:
    """The newest change seen, held back to the server clock minus OVERLAP, never backwards.

    Holding back means changes made in the last minute before a sync are reported again
    by the next one (the store ignores repeats) rather than lost to a paging race.
    """
    if newest is None:
        return since
    if clock is not None:
        newest = min(newest, clock - OVERLAP)
    return max(newest, since) if since is not None else newest


def where(url: str) -> str:
    """`host:port` of a URL (the port only when the URL names one)."""
    parts = urlsplit(url)
    host = parts.hostname or url
    host = f"[{host}]" if ":" in host else host
    try:
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return host


_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


def network_problem(exc: BaseException, url: str, timeout: float | None = None) -> str:
    """`cannot connect to linkding.lan:9090: connection refused`, and the like, in plain words."""
    if isinstance(exc, httpx.TimeoutException):
        limit = f" within {timeout:g} s" if timeout else ""
        return f"no answer from {where(url)}{limit} (timeout)"
    seen: BaseException | None = exc
    reason = ""
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return f"cannot connect to {where(url)}: host name not found"
        if isinstance(seen, OSError) and seen.errno in _ERRNO_WORDS:
            reason = _ERRNO_WORDS[seen.errno]
            break
        if isinstance(seen, OSError) and not reason:
            reason = seen.strerror or str(seen)
        seen = seen.__cause__ or seen.__context__
    verb = "cannot connect to" if isinstance(exc, httpx.ConnectError) else "connection to"
    if not isinstance(exc, httpx.ConnectError) and not reason:
        reason = "failed: " + (one_line(exc, 120) or type(exc).__name__)
    return f"{verb} {where(url)}: {reason or 'connection failed'}"


def one_line(text: object, limit: int = 200) -> str:
    """Whitespace collapsed, at most `limit` characters."""
    return " ".join(str(text).split())[:limit]


def server_message(response: httpx.Response, secrets: Iterable[str] = ()) -> str:
    """The server's own words about a failure (JSON error fields, else the body text)."""
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        found = [str(data[k]) for k in _MESSAGE_KEYS if isinstance(data.get(k), str | int)]
        if isinstance(data.get("error"), Mapping):  # {"error": {"code": 404, "message": ...}}
            found.append(str(data["error"].get("message", "")))
        text = ": ".join(dict.fromkeys(found)) if found else str(data)
    else:
        text = response.text
    for secret in secrets:
        text = text.replace(secret, "***") if secret else text
    return one_line(text) or response.reason_phrase


def error_for(
    service: str, action: str, response: httpx.Response, secrets: Iterable[str] = ()
) -> SourceError:
    """Map a non-2xx response to SourceAuthError, a retryable error, or a final SourceError."""
    status = response.status_code
    detail = f"status={status} message={server_message(response, secrets)!r}"
    if status in (401, 403):
        return SourceAuthError(f"{service}: {action} failed: {detail}")
    if status == 429:
        wait = response.headers.get("Retry-After", "?")
        return TransientError(f"{service}: rate limited: {detail} retry after {wait}s")
    if status >= 500:
        return TransientError(f"{service}: {action} failed: {detail}")
    # a 4xx request error fails the same way next time
    return SourceError(f"{service}: {action} failed: {detail}", retryable=False)


#: How a service turns a failed response into its SourceError: (response, action, secrets).
#: Return a TransientError for what is worth retrying at once.
ErrorMapper = Callable[[httpx.Response, str, Sequence[str]], SourceError]


@dataclass(frozen=True)
class ClientOptions:
    """How a service client talks HTTP: request timeout, user agent and retry policy."""

    timeout: float = 30.0
    user_agent: str = "readerd"
    attempts: int = 4
    wait: wait_base | None = None  # tenacity wait between attempts; None: exponential

    def once(self) -> ClientOptions:
        """The same options with a single attempt: for `readerd doctor`, which must be quick."""
        return replace(self, attempts=1)

    def client(self, service: str, secrets: Iterable[str] = ()) -> ServiceClient:
        """A new session for one sync against `service`; `secrets` never reach a log."""
        return ServiceClient(
            service,
            timeout=self.timeout,
            user_agent=self.user_agent,
            attempts=self.attempts,
            wait=self.wait,
            secrets=secrets,
        )


class ServiceClient:
    """One HTTP session against one service: retried sends and JSON with readerd's errors."""

    def __init__(
        self,
        service: str,
        *,
        timeout: float,
        user_agent: str,
        attempts: int,
        wait: wait_base | None,
        secrets: Iterable[str] = (),
        errors: ErrorMapper | None = None,
    ) -> None:
        self.service = service
        self._errors: ErrorMapper = errors or (
            lambda response, action, secrets: error_for(service, action, response, secrets)
        )
        self.attempts = attempts
        self.wait = wait if wait is not None else wait_exponential(multiplier=0.5, max=8)
        self.secrets = [s for s in secrets if s]
        self.first_date: datetime | None = None  # the server clock at the first reply
        self._client = httpx.AsyncClient(
            timeout=timeout,
            trust_env=False,  # a service on the LAN must not go through a proxy
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def send(self, method: str, url: str, *, action: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying 429/5xx/network failures; other statuses come back as they are."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception_type(TransientError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(method, url, action, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def json(self, method: str, url: str, *, action: str, **kwargs: Any) -> Any:
        """Send and decode a JSON reply; a non-2xx status raises its SourceError."""
        return self.decode(await self.send(method, url, action=action, **kwargs), action)

    def decode(self, response: httpx.Response, action: str) -> Any:
        """The JSON body of a 2xx response, else the matching SourceError."""
        if response.status_code >= 300:
            raise self._errors(response, action, self.secrets)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "?")
            raise SourceError(
                f"{self.service}: {action} failed: invalid JSON (Content-Type {kind})"
            ) from None

    async def _send_once(self, method: str, url: str, action: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            timeout = self._client.timeout.read
            problem = network_problem(exc, url, timeout)
            raise TransientError(f"{self.service}: {problem}"[:300]) from None
        if self.first_date is None:
            self.first_date = server_time(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise self._errors(response, action, self.secrets)
        return response

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: attempt %d failed, retrying: %s", self.service, state.attempt_number, error
        )
