"""Readeck API client: `/api/bookmarks/sync?since=` for changes, `/api/bookmarks` for details."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from readerd.errors import SourceError
from readerd.results import LinkState, SavedLink, SyncBatch
from readerd.sources.service_http import (
    ClientOptions,
    ServiceClient,
    format_time,
    next_cursor,
    one_line,
    parse_time,
)

log = logging.getLogger(__name__)

SERVICE = "readeck"


def bookmark_to_link(item: Mapping[str, Any]) -> SavedLink | None:
    """One bookmark summary as a SavedLink (None without an id or URL)."""
    url = str(item.get("url") or "").strip()
    if not item.get("id") or not url:
        return None
    if item.get("is_deleted") is True:  # scheduled for deletion: as good as gone
        state = LinkState.DELETED
    else:
        state = LinkState.ARCHIVED if item.get("is_archived") is True else LinkState.UNREAD
    labels = item.get("labels")
    labels = labels if isinstance(labels, list) else []
    return SavedLink(
        source=SERVICE,
        source_id=str(item["id"]),
        url=url,
        title=one_line(item.get("title") or "", 1000) or None,
        tags=tuple(dict.fromkeys(str(n).strip() for n in labels if str(n).strip())),
        state=state,
        added_at=parse_time(item.get("created")),
        updated_at=parse_time(item.get("updated")),
    )


def parse_sync_list(data: object) -> tuple[list[str], list[SavedLink], datetime | None]:
    """Read `/bookmarks/sync`: updated IDs, deletions as links, and the newest change time."""
    if not isinstance(data, list):
        raise SourceError(f"readeck: sync failed: body is {type(data).__name__}, not a list")
    updated: list[str] = []
    deleted: list[SavedLink] = []
    times: list[datetime] = []
    for entry in data:
        if not isinstance(entry, Mapping) or not entry.get("id"):
            continue
        if when := parse_time(entry.get("time")):
            times.append(when)
        if entry.get("type") == "delete":
            deleted.append(SavedLink(SERVICE, str(entry["id"]), "", state=LinkState.DELETED))
        else:
            updated.append(str(entry["id"]))
    return list(dict.fromkeys(updated)), deleted, max(times, default=None)


class ReadeckSource:
    """Incremental sync from Readeck, deletions included.

    `/bookmarks/sync?since=` lists every bookmark updated or deleted since then (not
    paged); the updated ones are then read `page_size` at a time from `/bookmarks?id=`.
    Cursor: RFC 3339 in whole seconds (Readeck on SQLite refuses fractions): the newest
    change `time` (the server's clock), held back to its `Date` minus a minute (see
    `next_cursor`). `since` is inclusive, so what changed at exactly that second is
    reported once more next time; the store finds it unchanged. Readeck serves article
    HTML only one bookmark at a time, so readerd fetches pages itself.
    """

    name = SERVICE

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 50,
        options: ClientOptions | None = None,
    ) -> None:
        self.api = base_url.rstrip("/").removesuffix("/api") + "/api"
        self._token = token
        self._headers = {"Authorization": f"Bearer {token}"}
        self.page_size = max(1, page_size)
        self.options = options or ClientOptions()

    def __repr__(self) -> str:
        return f"ReadeckSource({self.api!r})"  # never the token

    async def changes(self, since: str | None) -> SyncBatch:
        """Bookmarks updated or deleted since the cursor (all existing ones when None)."""
        after = parse_time(since) if since else None
        client = self.options.client(SERVICE, secrets=[self._token])
        async with client:
            params = {"since": format_time(after, seconds=True)} if after else {}
            data = await client.json(
                "GET",
                f"{self.api}/bookmarks/sync",
                action="sync",
                params=params,
                headers=self._headers,
            )
            updated, deleted, newest = parse_sync_list(data)
            links = await self._details(client, updated)
        moment = next_cursor(newest, client.first_date, after)
        cursor = format_time(moment, seconds=True) if moment is not None else since
        return SyncBatch(links + deleted, cursor)

    async def check(self) -> str:
        """One authenticated request, as a sync makes it; SourceError naming what is wrong."""
        async with self.options.once().client(SERVICE, secrets=[self._token]) as client:
            data = await client.json(
                "GET",
                f"{self.api}/bookmarks",
                action="bookmarks",
                params={"limit": 1},
                headers=self._headers,
            )
            if not isinstance(data, list):
                raise SourceError("readeck: bookmarks failed: the reply is not a bookmark list")
        return f"readeck {self.api}, token accepted"

    async def _details(self, client: ServiceClient, ids: list[str]) -> list[SavedLink]:
        found: dict[str, SavedLink] = {}
        for start in range(0, len(ids), self.page_size):
            batch = ids[start : start + self.page_size]
            params = [("id", i) for i in batch] + [("limit", str(len(batch)))]
            data = await client.json(
                "GET",
                f"{self.api}/bookmarks",
                action="bookmarks",
                params=params,
                headers=self._headers,
            )
            items = data if isinstance(data, list) else []
            links = (bookmark_to_link(i) for i in items if isinstance(i, Mapping))
            wanted = set(batch)
            found.update((lk.source_id, lk) for lk in links if lk and lk.source_id in wanted)
            log.debug("readeck: details %d/%d", len(found), len(ids))
        for missing in [i for i in ids if i not in found]:  # a server without the id filter
            link = await self._one(client, missing)
            if link is not None:
                found[missing] = link
        return [found[i] for i in ids if i in found]

    async def _one(self, client: ServiceClient, bookmark_id: str) -> SavedLink | None:
        response = await client.send(
            "GET",
            f"{self.api}/bookmarks/{bookmark_id}",
            action="bookmark",
            headers=self._headers,
        )
        if response.status_code == 404:
            return None  # deleted since the sync list: the next sync reports it
        data = client.decode(response, "bookmark")
        return bookmark_to_link(data) if isinstance(data, Mapping) else None
