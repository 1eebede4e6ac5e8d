"""Write-back to Wallabag: tags added with `POST .../tags.json`, removed one by one.

Wallabag's `PATCH /api/entries/{id}.json` with `tags` replaces the user's tags, so it is
never used: `POST /api/entries/{id}/tags.json` (form field `tags`, comma-separated)
adds, `DELETE /api/entries/{id}/tags/{tag id}.json` removes one tag (EntryRestController).
Wallabag stores labels in lower case (Tag::setLabel) and cannot hold a comma in one.
"""

from __future__ import annotations

from typing import Any

from readerd.errors import SourceError
from readerd.sources.service_http import ClientOptions, parse_time
from readerd.sources.wallabag import entry_to_link, password_grant
from readerd.sources.writeback_http import RemoteItem, WriteError, WriterBase, WriteRefused

SERVICE = "wallabag"


def normalise(tag: str) -> str:
    """Wallabag's spelling: lower case, no commas (its list separator), spaces collapsed."""
    return " ".join(tag.replace(",", " ").split()).lower()


class WallabagWriter(WriterBase):
    """Tags written to one Wallabag account (OAuth2 password grant, as the sync)."""

    name = SERVICE
    checks_modified = False

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        *,
        rate: float,
        options: ClientOptions | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._grant = password_grant(client_id, client_secret, username, password)
        self.where = self.base_url
        self._open(rate=rate, options=options, headers={}, secrets=[client_secret, password])
        self._token: str | None = None
        self._tag_ids: dict[str, int] = {}  # label -> Wallabag's tag id, from replies

    normalise = staticmethod(normalise)

    async def get(self, remote_id: str) -> RemoteItem:
        return self._item(await self._call("GET", f"/api/entries/{remote_id}.json", "entry"))

    async def write_tags(
        self, remote_id: str, current: RemoteItem, add: list[str], remove: list[str]
    ) -> RemoteItem:
        after = current
        have = {tag.casefold() for tag in current.tags}
        new = [tag for tag in map(normalise, add) if tag and tag.casefold() not in have]
        if new:
            data = await self._call(
                "POST", f"/api/entries/{remote_id}/tags.json", "tags", data={"tags": ",".join(new)}
            )
            after = self._item(data)
        for tag in remove:
            tag_id = self._tag_ids.get(normalise(tag))
            if tag_id is None or tag.casefold() not in {t.casefold() for t in after.tags}:
                continue  # not on the entry any more: nothing to remove
            path = f"/api/entries/{remote_id}/tags/{tag_id}.json"
            after = self._item(await self._call("DELETE", path, "untag"))
        return after

    async def archive(self, remote_id: str) -> None:
        # only `archive` in this PATCH: a `tags` field would replace the user's tags
        await self._call("PATCH", f"/api/entries/{remote_id}.json", "archive", data={"archive": 1})

    async def _call(self, method: str, path: str, action: str, **kwargs: Any) -> Any:
        if self._token is None:
            await self._login()
        headers = {"Authorization": f"Bearer {self._token}"}
        return await self._client.request(
            method, self.base_url + path, action=action, headers=headers, **kwargs
        )

    async def _login(self) -> None:
        url = f"{self.base_url}/oauth/v2/token"
        try:
            data = await self._client.request("POST", url, action="token", data=self._grant)
        except WriteError as exc:
            if "status=400" in str(exc):  # invalid_grant / invalid_client: the credentials
                raise WriteRefused(str(exc)) from None
            raise
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError("wallabag: token failed: no access_token in the reply")
        self._token = token
        self._client.secrets.append(token)

    def _item(self, data: Any) -> RemoteItem:
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            raise SourceError("wallabag: entry reply without tags")
        tags = []
        for tag in data["tags"]:
            if isinstance(tag, dict) and tag.get("label"):
                tags.append(str(tag["label"]))
                if isinstance(tag.get("id"), int):
                    self._tag_ids[str(tag["label"])] = tag["id"]
        return RemoteItem(tags, parse_time(data.get("updated_at")), entry_to_link(data))
