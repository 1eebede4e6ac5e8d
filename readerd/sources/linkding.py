"""Linkding REST API client: `/api/bookmarks/` and `.../archived/` with `modified_since`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
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

SERVICE = "linkding"
_LISTS = ("/api/bookmarks/", "/api/bookmarks/archived/")  # Linkding lists them apart


def bookmark_to_link(item: Mapping[str, Any]) -> SavedLink | None:
    """One bookmark of `results` as a SavedLink (None without an id or URL)."""
    url = str(item.get("url") or "").strip()
    if item.get("id") in (None, "") or not url:
        return None
    # `title` is the user's; older servers put the page's own in `website_title`.
    title = one_line(item.get("title") or item.get("website_title") or "", 1000)
    names = item.get("tag_names")
    names = names if isinstance(names, list) else []
    return SavedLink(
        source=SERVICE,
        source_id=str(item["id"]),
        url=url,
        title=title or None,
        tags=tuple(dict.fromkeys(str(n).strip() for n in names if str(n).strip())),
        state=LinkState.ARCHIVED if item.get("is_archived") is True else LinkState.UNREAD,
        added_at=parse_time(item.get("date_added")),
        updated_at=parse_time(item.get("date_modified")),
    )


def parse_bookmarks_page(data: object) -> tuple[list[SavedLink], int, bool]:
    """Read one list page: its links, how many items it held, and whether `next` is set."""
    if not isinstance(data, Mapping) or not isinstance(data.get("results"), list):
        raise SourceError("linkding: bookmarks failed: no results list in the reply")
    items = [item for item in data["results"] if isinstance(item, Mapping)]
    links = [bookmark_to_link(item) for item in items]
    return [link for link in links if link], len(items), bool(data.get("next"))


class LinkdingSource:
    """Incremental sync from Linkding, archived bookmarks included.

    Cursor: the newest `date_modified` seen (the server's clock, microseconds kept),
    held back to the server's `Date` minus a minute (see `next_cursor`); Linkding
    filters `date_modified > modified_since`. Linkding deletes bookmarks outright and
    lists only existing ones: it cannot report deletions. It keeps no article text.
    """

    name = SERVICE

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 100,
        options: ClientOptions | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.base_url = base.removesuffix("/api")  # accept the API root as well
        self._token = token
        self.page_size = max(1, page_size)
        self.options = options or ClientOptions()

    def __repr__(self) -> str:
        return f"LinkdingSource({self.base_url!r})"  # never the token

    async def changes(self, since: str | None) -> SyncBatch:
        """Bookmarks modified since the cursor (all when None), unarchived then archived."""
        seen: dict[str, SavedLink] = {}
        client = self.options.client(SERVICE, secrets=[self._token])
        async with client:
            for path in _LISTS:
                for link in await self._list(client, path, since):
                    _keep_newest(seen, link)
        return SyncBatch(list(seen.values()), _cursor(seen.values(), client.first_date, since))

    async def check(self) -> str:
        """One authenticated request, as a sync makes it; SourceError naming what is wrong."""
        async with self.options.once().client(SERVICE, secrets=[self._token]) as client:
            data = await client.json(
                "GET",
                self.base_url + _LISTS[0],
                action="bookmarks",
                params={"limit": 1},
                headers={"Authorization": f"Token {self._token}"},
            )
            parse_bookmarks_page(data)
        return f"linkding {self.base_url}, token accepted"

    async def _list(self, client: ServiceClient, path: str, since: str | None) -> list[SavedLink]:
        found: list[SavedLink] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": self.page_size, "offset": offset}
            if since:
                params["modified_since"] = since
            data = await client.json(
                "GET",
                self.base_url + path,
                action="bookmarks",
                params=params,
                headers={"Authorization": f"Token {self._token}"},
            )
            links, count, more = parse_bookmarks_page(data)
            found.extend(links)
            log.debug("linkding: %s offset=%d items=%d", path, offset, count)
            if not more or count == 0:
                return found
            offset += count


def _keep_newest(seen: dict[str, SavedLink], link: SavedLink) -> None:
    """A bookmark archived between the two listings shows up twice: keep the later one."""
    old = seen.get(link.source_id)
    if old is None or (link.updated_at or datetime.min) >= (old.updated_at or datetime.min):
        seen[link.source_id] = link


def _cursor(links: Iterable[SavedLink], clock: datetime | None, since: str | None) -> str | None:
    newest = max((link.updated_at for link in links if link.updated_at), default=None)
    moment = next_cursor(newest, clock, parse_time(since) if since else None)
    return format_time(moment) if moment is not None else since
