"""Write-back to Readeck: one `PATCH /api/bookmarks/{id}` with `add_labels`/`remove_labels`.

Readeck applies the two lists to the bookmark's labels, leaving every other label as it
is, so no read-modify-write race can drop a label the user added meanwhile.
"""

from __future__ import annotations

from typing import Any

from readerd.errors import SourceError
from readerd.sources.readeck import bookmark_to_link
from readerd.sources.service_http import ClientOptions, parse_time
from readerd.sources.writeback_http import RemoteItem, WriterBase

SERVICE = "readeck"


def normalise(tag: str) -> str:
    """Readeck keeps a label as typed; readerd only collapses its spaces."""
    return " ".join(tag.split())


class ReadeckWriter(WriterBase):
    """Labels written to one Readeck account (an API token, as the sync)."""

    name = SERVICE
    checks_modified = False

    def __init__(
        self, base_url: str, token: str, *, rate: float, options: ClientOptions | None = None
    ) -> None:
        base = base_url.rstrip("/")
        self.api = base if base.endswith("/api") else base + "/api"
        self.where = self.api
        self._open(
            rate=rate,
            options=options,
            headers={"Authorization": f"Bearer {token}"},
            secrets=[token],
        )

    normalise = staticmethod(normalise)

    async def get(self, remote_id: str) -> RemoteItem:
        data = await self._client.request("GET", self._url(remote_id), action="bookmark")
        return _item(data)

    async def write_tags(
        self, remote_id: str, current: RemoteItem, add: list[str], remove: list[str]
    ) -> RemoteItem:
        body = {"add_labels": [normalise(t) for t in add], "remove_labels": remove}
        data = await self._client.request("PATCH", self._url(remote_id), action="labels", json=body)
        if isinstance(data, dict) and isinstance(data.get("labels"), list):
            return RemoteItem([str(n) for n in data["labels"]], parse_time(data.get("updated")))
        gone = {t.casefold() for t in remove}
        kept = [t for t in current.tags if t.casefold() not in gone]
        have = {t.casefold() for t in kept}
        return RemoteItem(
            kept + [normalise(t) for t in add if normalise(t).casefold() not in have], None
        )

    async def archive(self, remote_id: str) -> None:
        await self._client.request(
            "PATCH", self._url(remote_id), action="archive", json={"is_archived": True}
        )

    def _url(self, remote_id: str) -> str:
        return f"{self.api}/bookmarks/{remote_id}"


def _item(data: Any) -> RemoteItem:
    if not isinstance(data, dict):
        raise SourceError("readeck: bookmark reply is not an object")
    labels = data.get("labels")
    labels = labels if isinstance(labels, list) else []
    return RemoteItem(
        [str(n) for n in labels], parse_time(data.get("updated")), bookmark_to_link(data)
    )
