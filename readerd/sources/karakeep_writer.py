"""Write-back to Karakeep: tags attached with `attachedBy: "ai"`, detached only if still so.

`POST /api/v1/bookmarks/{id}/tags` attaches (`tagName`, `attachedBy`), `DELETE` on the
same path detaches (`tagId`) — routers/bookmarks.ts. readerd attaches its tags as "ai",
so the user sees them apart from theirs, and before detaching one it checks on the
bookmark that the tag is still attached by "ai" (one the user re-attached is theirs).
Karakeep's own tagger may replace every "ai" tag when it retags: readerd then sees
its tag gone and treats it as removed (a tombstone), never re-adding it.
"""

from __future__ import annotations

from readerd.errors import SourceError
from readerd.sources.karakeep import bookmark_to_link
from readerd.sources.service_http import ClientOptions, parse_time
from readerd.sources.writeback_http import RemoteItem, WriterBase

SERVICE = "karakeep"


def normalise(tag: str) -> str:
    """Karakeep keeps a tag name as typed; readerd only collapses its spaces."""
    return " ".join(tag.split())


class KarakeepWriter(WriterBase):
    """Tags written to one Karakeep account (an API key, as the sync)."""

    name = SERVICE
    checks_modified = False

    def __init__(
        self, base_url: str, api_key: str, *, rate: float, options: ClientOptions | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/api/v1")
        self.where = self.base_url
        self._open(
            rate=rate,
            options=options,
            headers={"Authorization": f"Bearer {api_key}"},
            secrets=[api_key],
        )
        self._attached: dict[str, dict[str, tuple[str, str]]] = {}  # id -> name -> (tag id, by)

    normalise = staticmethod(normalise)

    async def get(self, remote_id: str) -> RemoteItem:
        data = await self._client.request(
            "GET", self._url(remote_id), action="bookmark", params={"includeContent": "false"}
        )
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            raise SourceError("karakeep: bookmark reply without tags")
        attached = {
            str(t["name"]): (str(t.get("id", "")), str(t.get("attachedBy", "human")))
            for t in data["tags"]
            if isinstance(t, dict) and t.get("name")
        }
        self._attached[remote_id] = attached
        human = tuple(name for name, (_, by) in attached.items() if by != "ai")
        modified = parse_time(data.get("modifiedAt"))
        return RemoteItem(list(attached), modified, bookmark_to_link(data), human)

    async def write_tags(
        self, remote_id: str, current: RemoteItem, add: list[str], remove: list[str]
    ) -> RemoteItem:
        attached = self._attached.get(remote_id, {})
        have = {name.casefold() for name in attached}
        new = [t for t in map(normalise, add) if t and t.casefold() not in have]
        if new:
            tags = [{"tagName": name, "attachedBy": "ai"} for name in new]
            await self._client.request(
                "POST", self._url(remote_id) + "/tags", action="tags", json={"tags": tags}
            )
        wanted = {t.casefold() for t in remove}
        detach = [
            tag_id
            for name, (tag_id, by) in attached.items()
            if name.casefold() in wanted and by == "ai" and tag_id
        ]
        if detach:
            body = {"tags": [{"tagId": tag_id} for tag_id in detach]}
            await self._client.request(
                "DELETE", self._url(remote_id) + "/tags", action="untag", json=body
            )
        kept = [
            name
            for name in attached
            if not (name.casefold() in wanted and attached[name][1] == "ai")
        ]
        return RemoteItem(kept + new, None)

    async def archive(self, remote_id: str) -> None:
        await self._client.request(
            "PATCH", self._url(remote_id), action="archive", json={"archived": True}
        )

    def _url(self, remote_id: str) -> str:
        return f"{self.base_url}/api/v1/bookmarks/{remote_id}"
