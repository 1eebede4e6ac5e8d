"""Write-back to Linkding: readerd's tags next to the user's, by Linkding's own rules.

Linkding's `PATCH /api/bookmarks/{id}/` with `tag_names` replaces the whole set, so the
write is: GET the bookmark, check that its `date_modified` is still the one synced (a
change of the user's since then is synced first, and written the next cycle), then
PATCH the union of what is there and readerd's additions, minus readerd's removals.
Linkding stores a tag with spaces turned into hyphens and matches tags ignoring case,
keeping the first spelling it saw; the reply's `tag_names` are taken as the truth.
"""

from __future__ import annotations

from typing import Any

from readerd.errors import SourceError
from readerd.sources.linkding import bookmark_to_link
from readerd.sources.service_http import ClientOptions, parse_time
from readerd.sources.writeback_http import RemoteItem, WriterBase

SERVICE = "linkding"


def normalise(tag: str) -> str:
    """Linkding's spelling of a tag: whitespace runs become one hyphen."""
    return "-".join(tag.split())


class LinkdingWriter(WriterBase):
    """Tags (and, when asked, archiving) written to one Linkding server."""

    name = SERVICE
    checks_modified = True

    def __init__(
        self, base_url: str, token: str, *, rate: float, options: ClientOptions | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/api")
        self.where = self.base_url
        self._open(
            rate=rate, options=options, headers={"Authorization": f"Token {token}"}, secrets=[token]
        )

    normalise = staticmethod(normalise)

    async def get(self, remote_id: str) -> RemoteItem:
        data = await self._client.request("GET", self._url(remote_id), action="bookmark")
        return _item(data)

    async def write_tags(
        self, remote_id: str, current: RemoteItem, add: list[str], remove: list[str]
    ) -> RemoteItem:
        gone = {tag.casefold() for tag in remove}
        names = [tag for tag in current.tags if tag.casefold() not in gone]
        have = {tag.casefold() for tag in names}
        names += [tag for tag in map(normalise, add) if tag.casefold() not in have]
        data = await self._client.request(
            "PATCH", self._url(remote_id), action="tags", json={"tag_names": names}
        )
        return _item(data)

    async def archive(self, remote_id: str) -> None:
        await self._client.request("POST", self._url(remote_id) + "archive/", action="archive")

    def _url(self, remote_id: str) -> str:
        return f"{self.base_url}/api/bookmarks/{remote_id}/"


def _item(data: Any) -> RemoteItem:
    if not isinstance(data, dict) or not isinstance(data.get("tag_names"), list):
        raise SourceError("linkding: bookmark reply without tag_names")
    tags = [str(name) for name in data["tag_names"]]
    return RemoteItem(tags, parse_time(data.get("date_modified")), bookmark_to_link(data))
