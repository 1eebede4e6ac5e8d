"""Pocket v3 API client (`/v3/get`), for getpocket.com and compatible servers."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity.wait import wait_base

from readerd.errors import SourceAuthError, SourceError, TransientError
from readerd.results import LinkState, SavedLink, SyncBatch
from readerd.sources.service_http import ServiceClient

log = logging.getLogger(__name__)

_STATES = {"0": LinkState.UNREAD, "1": LinkState.ARCHIVED, "2": LinkState.DELETED}
_RATE = re.compile(r"\brate\b", re.IGNORECASE)  # "rate limit", not "regenerate"
_HEADERS = {"Content-Type": "application/json; charset=UTF-8", "X-Accept": "application/json"}


def unix_to_datetime(value: object) -> datetime | None:
    """Unix seconds (int or numeric string) to a naive UTC datetime; 0/empty/invalid -> None."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def _tag_names(tags: object) -> tuple[str, ...]:
    """Pocket sends tags as {name: {...}}; tolerate a list of names or of {tag: name}."""
    if isinstance(tags, Mapping):
        names = [str(name) for name in tags]
    elif isinstance(tags, list):
        names = [str(t.get("tag", "")) if isinstance(t, Mapping) else str(t) for t in tags]
    else:
        return ()
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def item_to_link(key: str, item: Mapping[str, Any]) -> SavedLink:
    """Turn one entry of a `/v3/get` list into a SavedLink."""
    item_id = str(item.get("item_id") or key)
    state = _STATES.get(str(item.get("status", "0")).strip(), LinkState.UNREAD)
    updated = unix_to_datetime(item.get("time_updated"))
    if state is LinkState.DELETED:
        # Pocket sends only {item_id, status}: the store keeps the URL it already has.
        return SavedLink("pocket", item_id, url="", state=state, updated_at=updated)
    url = str(item.get("resolved_url") or item.get("given_url") or "").strip()
    title = str(item.get("resolved_title") or item.get("given_title") or "").strip()
    return SavedLink(
        source="pocket",
        source_id=item_id,
        url=url,
        title=" ".join(title.split()) or None,
        tags=_tag_names(item.get("tags")),
        state=state,
        added_at=unix_to_datetime(item.get("time_added")),
        updated_at=updated,
    )


def parse_get_response(data: object) -> tuple[list[SavedLink], str | None]:
    """Read a `/v3/get` JSON body: its links (in list order) and its `since`, as a string."""
    if not isinstance(data, Mapping):
        raise SourceError(f"pocket: get failed: body is {type(data).__name__}, not an object")
    if data.get("error"):
        raise SourceError(f"pocket: get failed: error={str(data['error'])[:200]!r}")
    raw = data.get("list") or {}
    if isinstance(raw, Mapping):
        entries = list(raw.items())
    elif isinstance(raw, list):  # some compatible servers send a list of items
        entries = [(str(item.get("item_id", "")), item) for item in raw]
    else:
        raise SourceError(f"pocket: get failed: list is {type(raw).__name__}")
    links = [item_to_link(str(k), v) for k, v in entries if isinstance(v, Mapping)]
    links = [link for link in links if link.source_id]
    since = data.get("since")
    return links, (str(since) if since not in (None, "", 0, "0") else None)


def _error_for(response: httpx.Response, _action: str, secrets: Iterable[str] = ()) -> SourceError:
    """Map a non-2xx response to the right SourceError, quoting Pocket's X-Error headers.

    A rate limit is not retried at once (Pocket says when it resets); 5xx is.
    """
    h = response.headers
    status = response.status_code
    x_error, code = h.get("X-Error", ""), h.get("X-Error-Code", "")
    for secret in secrets:  # a server may quote the credentials back: never repeat them
        x_error = x_error.replace(secret, "***") if secret else x_error
    detail = f"status={status} X-Error={x_error!r} X-Error-Code={code}"
    reset = _exhausted_limit_reset(h)
    if status == 429 or (status == 403 and (reset is not None or _RATE.search(x_error))):
        return SourceError(f"pocket: rate limited: {detail} resets in {reset or '?'}s")
    if status in (401, 403):
        return SourceAuthError(f"pocket: get failed: {detail}")
    if status >= 500:
        return TransientError(f"pocket: get failed: {detail}")
    # a 4xx request error will fail the same way next time
    return SourceError(f"pocket: get failed: {detail}", retryable=False)


def _exhausted_limit_reset(headers: httpx.Headers) -> str | None:
    """Seconds until the exhausted limit (per user, then per consumer key) resets, if any."""
    for scope in ("User", "Key"):
        if headers.get(f"X-Limit-{scope}-Remaining", "").strip() == "0":
            return headers.get(f"X-Limit-{scope}-Reset", "?").strip()
    return None


class PocketSource:
    """Incremental sync from a Pocket-compatible `/v3/get` endpoint, on the shared ServiceClient."""

    name = "pocket"

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        access_token: str,
        *,
        page_size: int = 30,
        timeout: float = 30.0,
        user_agent: str = "readerd",
        attempts: int = 4,
        wait: wait_base | None = None,
    ) -> None:
        self.endpoint = base_url.rstrip("/") + "/v3/get"
        self._credentials = {"consumer_key": consumer_key, "access_token": access_token}
        self.page_size = max(1, min(page_size, 30))
        self.timeout = timeout
        self.user_agent = user_agent
        self.attempts = attempts
        self.wait = wait

    def __repr__(self) -> str:
        return f"PocketSource({self.endpoint!r})"  # never the credentials

    def _client(self, attempts: int) -> ServiceClient:
        return ServiceClient(
            self.name,
            timeout=self.timeout,
            user_agent=self.user_agent,
            attempts=attempts,
            wait=self.wait,
            secrets=self._credentials.values(),
            errors=_error_for,
        )

    async def changes(self, since: str | None) -> SyncBatch:
        """Every item changed since the cursor (all items when None), paged oldest first."""
        seen: dict[str, SavedLink] = {}
        cursor: str | None = None
        offset = 0
        async with self._client(self.attempts) as client:
            while True:
                data = await self._get_page(client, since, offset)
                links, page_since = parse_get_response(data)
                if offset == 0:
                    cursor = page_since
                new = [link for link in links if link.source_id not in seen]
                seen.update((link.source_id, link) for link in links)
                log.debug("pocket: page offset=%d items=%d new=%d", offset, len(links), len(new))
                if len(links) < self.page_size or not new:
                    break  # a short page ends it; a full page of repeats means offset is ignored
                offset += self.page_size
        return SyncBatch(links=list(seen.values()), cursor=cursor or since)

    async def check(self) -> str:
        """One /v3/get of one item with these credentials; SourceError naming what is wrong."""
        body = {**self._credentials, "state": "all", "detailType": "simple", "count": 1}
        async with self._client(1) as client:
            parse_get_response(await self._post(client, body))
        return f"pocket {self.endpoint}, authorised"

    async def _get_page(self, client: ServiceClient, since: str | None, offset: int) -> Any:
        body: dict[str, Any] = {
            **self._credentials,
            "state": "all",
            "detailType": "complete",
            "sort": "oldest",
            "count": self.page_size,
            "offset": offset,
        }
        if since:
            body["since"] = int(since) if since.isdigit() else since
        return await self._post(client, body)

    async def _post(self, client: ServiceClient, body: dict[str, Any]) -> Any:
        content = json.dumps(body).encode()
        return await client.json(
            "POST", self.endpoint, action="get", content=content, headers=_HEADERS
        )
