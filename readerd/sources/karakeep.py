"""Karakeep (formerly Hoarder) API client: `/api/v1/bookmarks` with cursor paging."""

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

SERVICE = "karakeep"


def _url(content: Mapping[str, Any]) -> str:
    """A link's URL; a note or an upload counts only when it names where it came from."""
    if content.get("type") == "link":
        return str(content.get("url") or "").strip()
    return str(content.get("sourceUrl") or "").strip()


def _human_tags(tags: object) -> tuple[str, ...]:
    """Names of the tags a person attached; Karakeep's own AI tags are not source tags."""
    if not isinstance(tags, list):
        return ()
    names = (
        str(tag.get("name", "")).strip()
        for tag in tags
        if isinstance(tag, Mapping) and tag.get("attachedBy", "human") == "human"
    )
    return tuple(dict.fromkeys(name for name in names if name))


def bookmark_to_link(item: Mapping[str, Any]) -> SavedLink | None:
    """One bookmark as a SavedLink (None for a note or upload without a URL)."""
    content = item.get("content")
    content = content if isinstance(content, Mapping) else {}
    url = _url(content)
    if item.get("id") in (None, "") or not url:
        return None
    html = content.get("htmlContent")
    body = html.encode("utf-8") if isinstance(html, str) and html.strip() else None
    title = one_line(item.get("title") or content.get("title") or "", 1000)
    created = parse_time(item.get("createdAt"))
    return SavedLink(
        source=SERVICE,
        source_id=str(item["id"]),
        url=url,
        title=title or None,
        tags=_human_tags(item.get("tags")),
        state=LinkState.ARCHIVED if item.get("archived") is True else LinkState.UNREAD,
        added_at=created,
        updated_at=parse_time(item.get("modifiedAt")) or created,
        content=body,
        content_type="text/html" if body is not None else None,
    )


def parse_bookmarks_page(data: object) -> tuple[list[SavedLink], str | None]:
    """Read one `/bookmarks` page: its links and `nextCursor` (None on the last page)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("bookmarks"), list):
        raise SourceError("karakeep: bookmarks failed: no bookmarks list in the reply")
    links = [bookmark_to_link(b) for b in data["bookmarks"] if isinstance(b, Mapping)]
    cursor = data.get("nextCursor")
    return [link for link in links if link], (str(cursor) if cursor else None)


class KarakeepSource:
    """Sync from Karakeep, keeping the HTML it crawled and the tags people attached.

    Karakeep's API has no "changed since" filter (its `cursor` only pages), so every sync
    lists every bookmark's metadata and keeps those whose `modifiedAt` is after the stored
    cursor. The first sync asks for content in that listing; later ones fetch only the
    changed bookmarks' content, one by one. Cursor: the newest `modifiedAt` seen (the
    server's clock), held back to its `Date` minus a minute (see `next_cursor`). A deleted
    bookmark simply vanishes from the list: Karakeep cannot report deletions.
    """

    name = SERVICE

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        page_size: int = 100,
        options: ClientOptions | None = None,
    ) -> None:
        base = base_url.rstrip("/").removesuffix("/api/v1").removesuffix("/api")
        self.api = base + "/api/v1"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._api_key = api_key
        self.page_size = max(1, min(page_size, 100))  # Karakeep's maximum
        self.options = options or ClientOptions()

    def __repr__(self) -> str:
        return f"KarakeepSource({self.api!r})"  # never the key

    async def changes(self, since: str | None) -> SyncBatch:
        """Bookmarks modified after the cursor (all when None), with their HTML when crawled."""
        after = parse_time(since) if since else None
        client = self.options.client(SERVICE, secrets=[self._api_key])
        async with client:
            every = await self._list(client, with_content=after is None)
            changed = [link for link in every if _changed(link, after)]
            if after is not None:
                changed = [await self._with_content(client, link) for link in changed]
        newest = max((link.updated_at for link in every if link.updated_at), default=None)
        moment = next_cursor(newest, client.first_date, after)
        return SyncBatch(changed, format_time(moment) if moment is not None else since)

    async def check(self) -> str:
        """One authenticated request, as a sync makes it; SourceError naming what is wrong."""
        async with self.options.once().client(SERVICE, secrets=[self._api_key]) as client:
            data = await client.json(
                "GET",
                f"{self.api}/bookmarks",
                action="bookmarks",
                params={"limit": 1, "includeContent": "false"},
                headers=self._headers,
            )
            parse_bookmarks_page(data)
        return f"karakeep {self.api}, API key accepted"

    async def _list(self, client: ServiceClient, *, with_content: bool) -> list[SavedLink]:
        found: dict[str, SavedLink] = {}
        cursor: str | None = None
        while True:
            params = {"limit": self.page_size, "includeContent": str(with_content).lower()}
            if cursor:
                params["cursor"] = cursor
            data = await client.json(
                "GET",
                f"{self.api}/bookmarks",
                action="bookmarks",
                params=params,
                headers=self._headers,
            )
            links, next_page = parse_bookmarks_page(data)
            found.update((link.source_id, link) for link in links)
            log.debug("karakeep: page items=%d next=%s", len(links), bool(next_page))
            if not next_page or next_page == cursor:
                return list(found.values())
            cursor = next_page

    async def _with_content(self, client: ServiceClient, link: SavedLink) -> SavedLink:
        """The same bookmark read on its own, content included (it may have gone since)."""
        response = await client.send(
            "GET",
            f"{self.api}/bookmarks/{link.source_id}",
            action="bookmark",
            params={"includeContent": "true"},
            headers=self._headers,
        )
        if response.status_code == 404:
            return link  # deleted since the listing: its metadata is all there is
        data = client.decode(response, "bookmark")
        full = bookmark_to_link(data) if isinstance(data, Mapping) else None
        return full or link


def _changed(link: SavedLink, after: datetime | None) -> bool:
    return after is None or link.updated_at is None or link.updated_at > after
