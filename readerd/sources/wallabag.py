"""Wallabag API v2 client: an OAuth2 password-grant token, then `/api/entries.json?since=`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from readerd.errors import SourceAuthError, SourceError
from readerd.results import LinkState, SavedLink, SyncBatch
from readerd.sources.service_http import (
    ClientOptions,
    ServiceClient,
    next_cursor,
    one_line,
    parse_time,
    server_message,
)

log = logging.getLogger(__name__)

SERVICE = "wallabag"
# What Wallabag stores as `content` when it could not fetch a page (its default text).
_FETCH_FAILED = "wallabag can't retrieve contents for this article"
_BAD_CREDENTIALS = {"invalid_grant", "invalid_client", "unauthorized_client"}


def _html(entry: Mapping[str, Any]) -> bytes | None:
    """The article HTML Wallabag extracted, unless it is its own fetch-failure notice."""
    content = entry.get("content")
    if not isinstance(content, str) or not content.strip() or entry.get("is_not_parsed"):
        return None
    return None if _FETCH_FAILED in content else content.encode("utf-8")


def entry_to_link(entry: Mapping[str, Any]) -> SavedLink | None:
    """One item of `_embedded.items` as a SavedLink (None without an id or URL)."""
    url = str(entry.get("url") or entry.get("given_url") or "").strip()
    if entry.get("id") in (None, "") or not url:
        return None
    tags = entry.get("tags")
    tags = tags if isinstance(tags, list) else []
    names = (str(t.get("label", "")).strip() for t in tags if isinstance(t, Mapping))
    content = _html(entry)
    archived = str(entry.get("is_archived", "0")).lower() in ("1", "true")
    return SavedLink(
        source=SERVICE,
        source_id=str(entry["id"]),
        url=url,
        title=one_line(entry.get("title") or "", 1000) or None,
        tags=tuple(dict.fromkeys(n for n in names if n)),
        state=LinkState.ARCHIVED if archived else LinkState.UNREAD,
        added_at=parse_time(entry.get("created_at")),
        updated_at=parse_time(entry.get("updated_at")),
        content=content,
        content_type="text/html" if content is not None else None,
    )


def parse_entries_page(data: object) -> tuple[list[SavedLink], int]:
    """Read one `/api/entries` page: its links and the number of pages."""
    if not isinstance(data, Mapping):
        raise SourceError(f"wallabag: entries failed: body is {type(data).__name__}")
    embedded = data.get("_embedded")
    items = embedded.get("items") if isinstance(embedded, Mapping) else None
    if not isinstance(items, list):
        raise SourceError("wallabag: entries failed: no _embedded.items list")
    links = [entry_to_link(item) for item in items if isinstance(item, Mapping)]
    try:
        pages = int(data.get("pages") or 1)
    except (TypeError, ValueError):
        pages = 1
    return [link for link in links if link is not None], pages


def password_grant(
    client_id: str, client_secret: str, username: str, password: str
) -> dict[str, str]:
    """The OAuth2 password-grant form Wallabag's /oauth/v2/token takes (sync and writer)."""
    return {
        "grant_type": "password",
        "client_id": client_id,
        "client_secret": client_secret,
        "username": username,
        "password": password,
    }


class WallabagSource:
    """Incremental sync from Wallabag; the HTML it already extracted comes along.

    Cursor: Unix seconds, as `since` wants them: the newest `updated_at` seen (the server's
    clock), held back to the server's `Date` minus a minute (see `next_cursor`). Wallabag
    filters `updated_at > since`, so nothing repeats unless it changed during a sync.
    Wallabag deletes entries outright: it cannot report deletions.
    """

    name = SERVICE

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        *,
        page_size: int = 30,
        options: ClientOptions | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._grant = password_grant(client_id, client_secret, username, password)
        self.page_size = max(1, page_size)
        self.options = options or ClientOptions()
        self._token: str | None = None
        self._token_until = 0.0  # time.monotonic() after which the token is renewed

    def __repr__(self) -> str:
        return f"WallabagSource({self.base_url!r})"  # never the credentials

    async def changes(self, since: str | None) -> SyncBatch:
        """Entries updated since the cursor (all when None), oldest change first."""
        seen: dict[str, SavedLink] = {}
        secrets = [self._grant["client_secret"], self._grant["password"], self._token or ""]
        client = self.options.client(SERVICE, secrets=secrets)
        async with client:
            page, pages = 1, 1
            while page <= pages:
                links, pages = parse_entries_page(await self._page(client, since, page))
                seen.update((link.source_id, link) for link in links)
                log.debug("wallabag: page %d/%d items=%d", page, pages, len(links))
                page += 1
        return SyncBatch(list(seen.values()), _cursor(seen.values(), client.first_date, since))

    async def check(self) -> str:
        """A token for these credentials, then one page of one entry; SourceError if refused."""
        secrets = [self._grant["client_secret"], self._grant["password"]]
        async with self.options.once().client(SERVICE, secrets=secrets) as client:
            parse_entries_page(await self._page(client, None, 1, per_page=1))
        return f"wallabag {self.base_url}, logged in as {self._grant['username']}"

    async def _page(
        self, client: ServiceClient, since: str | None, page: int, per_page: int | None = None
    ) -> Any:
        params = {
            "sort": "updated",
            "order": "asc",
            "detail": "full",
            "page": page,
            "perPage": per_page or self.page_size,
            "since": since if since and since.isdigit() else 0,
        }
        url = f"{self.base_url}/api/entries.json"
        response = await client.send(
            "GET", url, action="entries", params=params, headers=await self._auth(client)
        )
        if response.status_code == 401:  # expired or revoked: one new token, then give up
            log.info("wallabag: access token refused, asking for a new one")
            headers = await self._auth(client, fresh=True)
            response = await client.send(
                "GET", url, action="entries", params=params, headers=headers
            )
        return client.decode(response, "entries")

    async def _auth(self, client: ServiceClient, *, fresh: bool = False) -> dict[str, str]:
        """The bearer header, asking for a token first when there is none (or it expired)."""
        if fresh or self._token is None or time.monotonic() >= self._token_until:
            await self._request_token(client)
        return {"Authorization": f"Bearer {self._token}"}

    async def _request_token(self, client: ServiceClient) -> None:
        url = f"{self.base_url}/oauth/v2/token"
        response = await client.send("POST", url, action="token", data=self._grant)
        if response.status_code == 400 and _oauth_error(response) in _BAD_CREDENTIALS:
            detail = server_message(response, client.secrets)
            raise SourceAuthError(f"wallabag: token failed: status=400 message={detail!r}")
        data = client.decode(response, "token")
        token = data.get("access_token") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise SourceError("wallabag: token failed: no access_token in the reply")
        self._token = token
        client.secrets.append(token)
        try:
            lifetime = int(data.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600
        self._token_until = time.monotonic() + max(0, lifetime - 60)


def _oauth_error(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("error", "")) if isinstance(data, Mapping) else ""


def _cursor(links: Iterable[SavedLink], clock: datetime | None, since: str | None) -> str | None:
    newest = max((link.updated_at for link in links if link.updated_at), default=None)
    moment = next_cursor(newest, clock, parse_time(since) if since else None)
    if moment is None:
        return since
    return str(int(moment.replace(tzinfo=UTC).timestamp()))
