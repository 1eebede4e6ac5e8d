"""Small fake Wallabag, Linkding, Karakeep and Readeck APIs on 127.0.0.1.

Each serves the shape of the real replies in ../shared/fixtures/sources/, honours its
service's incremental parameter, paging and auth, and records every request. They share
one test-facing API: add(), update(), delete(), fail_next(), requests.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.servers import serve_in_thread

Reply = tuple[int, Any, dict[str, str]]  # status, JSON payload (None: empty), headers


@dataclass
class Request:
    """One request a fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


def _iso(moment: datetime, spec: str = "seconds") -> str:
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


class FakeService:
    """An in-memory store with a clock that moves one minute per change."""

    name = ""
    secret = ""  # the credential the source must present
    auth_message = ""  # what the server says when the credential is wrong

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
        self.url = ""
        self._failures: list[list[int]] = []  # [status, remaining, Retry-After]
        self._lock = threading.Lock()
        self._next_id = 1
        self.after_write: Any = None  # called with each PATCH/POST/DELETE once applied

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def fail_next(self, status: int, n: int = 1, retry_after: int = 1) -> None:
        """Answer the next n requests with `status` (a short JSON error, Retry-After)."""
        self._failures.append([status, n, retry_after])

    def handle(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._failures:
                failure = self._failures[0]
                failure[1] -= 1
                if failure[1] <= 0:
                    self._failures.pop(0)
                headers = {"Retry-After": str(failure[2])}
                return failure[0], {"message": "temporarily unavailable"}, headers
            reply = self.route(request)
        if self.after_write and request.method in ("PATCH", "POST", "DELETE"):
            self.after_write(request)  # applied, not yet answered
        return reply

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    # the test-facing API; each service stores items in its own JSON shape
    def add(self, url: str, title: str = "", **kw: Any) -> str:
        raise NotImplementedError

    def update(self, item_id: str, *, archived: bool | None = None) -> None:
        raise NotImplementedError

    def edit(self, item_id: str, *, title: str | None = None, tags: Any = None) -> None:
        """What a user does in the service's UI: a new title and/or a new set of tags."""
        raise NotImplementedError

    def tag_names(self, item_id: str) -> list[str]:
        """The item's tags as the service shows them."""
        raise NotImplementedError

    def set_tag_names(self, item_id: str, names: list[str]) -> None:
        """The user sets the item's tags in the service's UI (a tag kept keeps its origin)."""
        self.edit(item_id, tags=names)

    def delete(self, item_id: str) -> None:
        self.tick()
        del self.items[item_id]

    def paths(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


class WallabagFake(FakeService):
    name, secret = "wallabag", "wb-password"
    auth_message = "Invalid username and password combination"
    client = ("wb-client", "wb-client-secret", "reader")

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.tag_ids: dict[str, int] = {}  # label -> id: Wallabag's tags are the user's, shared

    def tag(self, label: str) -> dict[str, Any]:
        """Wallabag's Tag: the label in lower case (Tag::setLabel), one id per label."""
        label = label.strip().lower()
        tag_id = self.tag_ids.setdefault(label, len(self.tag_ids) + 1)
        return {"id": tag_id, "label": label, "slug": label.replace(" ", "-")}

    def tag_names(self, item_id: str) -> list[str]:
        return [t["label"] for t in self.items[item_id]["tags"]]

    def expire_tokens(self) -> None:
        """Forget every token issued: the next API call gets a 401."""
        self.tokens.clear()

    def add(self, url: str, title: str = "", **kw: Any) -> str:
        moment, item_id = self.tick(), self.new_id()
        tags = [self.tag(t) for t in kw.get("tags", ())]
        self.items[str(item_id)] = {
            "id": item_id, "url": url, "given_url": url, "title": title, "tags": tags,
            "is_archived": int(kw.get("archived", False)), "is_starred": 0,
            "content": kw.get("html", "<p>Saved by wallabag.</p>"), "language": "en",
            "created_at": _local(moment), "updated_at": _local(moment),
            "mimetype": "text/html; charset=utf-8",
            "_links": {"self": {"href": f"/api/entries/{item_id}"}},
        }  # fmt: skip
        return str(item_id)

    def update(self, item_id: str, *, archived: bool | None = None) -> None:
        item = self.items[item_id]
        item["is_archived"] = int(bool(archived))
        item["updated_at"] = _local(self.tick())

    def edit(self, item_id: str, *, title: str | None = None, tags: Any = None) -> None:
        item = self.items[item_id]
        if title is not None:
            item["title"] = title
        if tags is not None:
            item["tags"] = [self.tag(t) for t in tags]
        item["updated_at"] = _local(self.tick())

    def route(self, request: Request) -> Reply:
        if request.path == "/oauth/v2/token" and request.method == "POST":
            return self._token(request.body or {})
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            error = "The access token provided is invalid."
            return 401, {"error": "invalid_grant", "error_description": error}, {}
        if request.path.startswith("/api/entries/"):
            return self._entry(request, request.path.removeprefix("/api/entries/"))
        if request.path != "/api/entries.json":
            return 404, {"error": {"code": 404, "message": "Not Found"}}, {}
        return self._entries({k: v[0] for k, v in request.query.items()})

    def _entry(self, request: Request, rest: str) -> Reply:
        """EntryRestController: GET/PATCH {id}.json, POST {id}/tags.json, DELETE {id}/tags/{tag}."""
        entry_id, _, tail = rest.partition("/")
        item = self.items.get(entry_id.removesuffix(".json"))
        not_found = 404, {"error": {"code": 404, "message": "Not Found"}}, {}
        if item is None:
            return not_found
        body = request.body if isinstance(request.body, dict) else {}
        if not tail and request.method == "PATCH":
            if "tags" in body:  # the real PATCH replaces every tag: write-back never sends it
                item["tags"] = [self.tag(t) for t in str(body["tags"]).split(",") if t.strip()]
            if "archive" in body:
                item["is_archived"] = int(str(body["archive"]) in ("1", "true"))
            item["updated_at"] = _local(self.tick())
        elif tail == "tags.json" and request.method == "POST":
            labels = {t["label"] for t in item["tags"]}
            for label in str(body.get("tags", "")).split(","):
                if label.strip() and label.strip().lower() not in labels:
                    item["tags"].append(self.tag(label))
                    labels.add(label.strip().lower())
            item["updated_at"] = _local(self.tick())
        elif tail.startswith("tags/") and request.method == "DELETE":
            tag_id = int(tail.removeprefix("tags/").removesuffix(".json"))
            if tag_id not in self.tag_ids.values():
                return not_found
            item["tags"] = [t for t in item["tags"] if t["id"] != tag_id]
            item["updated_at"] = _local(self.tick())
        elif tail or request.method != "GET":
            return not_found
        return 200, item, {}

    def _token(self, body: dict[str, Any]) -> Reply:
        if (body.get("client_id"), body.get("client_secret")) != self.client[:2]:
            detail = "The client credentials are invalid"
            return 400, {"error": "invalid_client", "error_description": detail}, {}
        if (body.get("username"), body.get("password")) != (self.client[2], self.secret):
            return 400, {"error": "invalid_grant", "error_description": self.auth_message}, {}
        token = f"wb-token-{self.new_id()}"
        self.tokens.add(token)
        reply = {"access_token": token, "expires_in": 3600, "token_type": "bearer"}
        return 200, {**reply, "refresh_token": "wb-refresh", "scope": None}, {}

    def _entries(self, q: dict[str, str]) -> Reply:
        since = int(q.get("since") or 0)
        items = [i for i in self.items.values() if _epoch(i["updated_at"]) > since]
        key = "updated_at" if q.get("sort") == "updated" else "created_at"
        items.sort(key=lambda i: (_epoch(i[key]), i["id"]), reverse=q.get("order") != "asc")
        per_page, page = int(q.get("perPage", 30)), int(q.get("page", 1))
        pages = max(1, -(-len(items) // per_page))
        if page > pages:  # Wallabag answers an out-of-range page with 404
            return 404, {"error": {"code": 404, "message": "Not Found"}}, {}
        chunk = items[(page - 1) * per_page : page * per_page]
        body = {"page": page, "limit": per_page, "pages": pages, "total": len(items)}
        return 200, {**body, "_links": {}, "_embedded": {"items": chunk}}, {}


class LinkdingFake(FakeService):
    name, secret = "linkding", "ld-token"
    auth_message = "Invalid token."

    def add(self, url: str, title: str = "", **kw: Any) -> str:
        moment, item_id = self.tick(), self.new_id()
        self.items[str(item_id)] = {
            "id": item_id, "url": url, "title": title, "description": "", "notes": "",
            "web_archive_snapshot_url": "", "favicon_url": None, "preview_image_url": None,
            "is_archived": bool(kw.get("archived")), "unread": True, "shared": False,
            "tag_names": self.spell(kw.get("tags", ())),
            "date_added": _iso(moment, "microseconds"),
            "date_modified": _iso(moment, "microseconds"),
        }  # fmt: skip
        return str(item_id)

    def update(self, item_id: str, *, archived: bool | None = None) -> None:
        item = self.items[item_id]
        item["is_archived"] = bool(archived)
        item["date_modified"] = _iso(self.tick(), "microseconds")

    def edit(self, item_id: str, *, title: str | None = None, tags: Any = None) -> None:
        item = self.items[item_id]
        if title is not None:
            item["title"] = title
        if tags is not None:
            item["tag_names"] = list(tags)
        item["date_modified"] = _iso(self.tick(), "microseconds")

    def tag_names(self, item_id: str) -> list[str]:
        return list(self.items[item_id]["tag_names"])

    def set_tag_names(self, item_id: str, names: list[str]) -> None:
        self.edit(item_id, tags=self.spell(names))

    def spell(self, names: Any) -> list[str]:
        """Linkding's tag rules: spaces to hyphens, matched ignoring case, first spelling kept."""
        known = {t.casefold(): t for i in self.items.values() for t in i["tag_names"]}
        spelt: dict[str, str] = {}
        for name in names:
            tag = "-".join(str(name).split())
            if tag:
                spelt.setdefault(tag.casefold(), known.setdefault(tag.casefold(), tag))
        return list(spelt.values())

    def route(self, request: Request) -> Reply:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return 401, {"detail": "Authentication credentials were not provided."}, {}
        if auth != f"Token {self.secret}":
            return 401, {"detail": self.auth_message}, {}
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["api", "bookmarks"] and len(parts) >= 3 and parts[2].isdigit():
            return self._one(request, parts[2], parts[3:])
        archived = {"/api/bookmarks/": False, "/api/bookmarks/archived/": True}.get(request.path)
        if archived is None:
            return 404, {"detail": "Not found."}, {}
        q = {k: v[0] for k, v in request.query.items()}
        since = datetime.fromisoformat(q["modified_since"]) if "modified_since" in q else None
        items = [
            i
            for i in self.items.values()
            if i["is_archived"] is archived
            and (since is None or datetime.fromisoformat(i["date_modified"]) > since)
        ]
        items.sort(key=lambda i: i["date_added"], reverse=True)
        limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
        more = offset + limit < len(items)
        follow = f"{self.url}{request.path}?{urlencode({**q, 'offset': offset + limit})}"
        body = {"count": len(items), "next": follow if more else None, "previous": None}
        return 200, {**body, "results": items[offset : offset + limit]}, {}

    def _one(self, request: Request, item_id: str, rest: list[str]) -> Reply:
        """`/api/bookmarks/{id}/`: GET, PATCH (tag_names replaces the set), .../archive/."""
        item = self.items.get(item_id)
        if item is None:
            return 404, {"detail": "No Bookmark matches the given query."}, {}
        if rest == ["archive"] and request.method == "POST":
            self.update(item_id, archived=True)
            return 204, None, {}
        if rest:
            return 404, {"detail": "Not found."}, {}
        if request.method == "PATCH":
            body = request.body if isinstance(request.body, dict) else {}
            if "tag_names" in body:
                item["tag_names"] = self.spell(body["tag_names"])
            for name in ("title", "description", "notes"):
                item[name] = body.get(name, item[name])
            item["date_modified"] = _iso(self.tick(), "microseconds")
        elif request.method != "GET":
            return 405, {"detail": f'Method "{request.method}" not allowed.'}, {}
        return 200, item, {}


class KarakeepFake(FakeService):
    name, secret = "karakeep", "kk-key"
    auth_message = "Invalid API key"

    def add(self, url: str, title: str = "", **kw: Any) -> str:
        moment, item_id = self.tick(), f"kk{self.new_id():06d}"
        tags = [{"id": f"t-{t}", "name": t, "attachedBy": "human"} for t in kw.get("tags", ())]
        tags += [{"id": f"t-{t}", "name": t, "attachedBy": "ai"} for t in kw.get("ai_tags", ())]
        content: dict[str, Any] = {"type": "link", "url": url, "title": title or None}
        if kw.get("note"):
            content = {"type": "text", "text": kw["note"], "sourceUrl": None}
        content["htmlContent"] = kw.get("html", "<article><p>Crawled by karakeep.</p></article>")
        self.items[item_id] = {
            "id": item_id, "createdAt": _iso(moment, "milliseconds"),
            "modifiedAt": _iso(moment, "milliseconds"), "title": None,
            "archived": bool(kw.get("archived")), "favourited": False, "taggingStatus": "success",
            "summarizationStatus": "pending", "note": None, "summary": None, "tags": tags,
            "content": content, "assets": [],
        }  # fmt: skip
        return item_id

    def update(self, item_id: str, *, archived: bool | None = None) -> None:
        self.items[item_id]["archived"] = bool(archived)
        self.items[item_id]["modifiedAt"] = _iso(self.tick(), "milliseconds")

    def edit(self, item_id: str, *, title: str | None = None, tags: Any = None) -> None:
        item = self.items[item_id]
        if title is not None:
            item["title"] = title  # the user's title; content.title stays the crawled one
        if tags is not None:
            ai = [t for t in item["tags"] if t["attachedBy"] == "ai"]
            item["tags"] = [{"id": f"t-{t}", "name": t, "attachedBy": "human"} for t in tags] + ai
        item["modifiedAt"] = _iso(self.tick(), "milliseconds")

    def tag_names(self, item_id: str) -> list[str]:
        return [t["name"] for t in self.items[item_id]["tags"]]

    def attached_by(self, item_id: str) -> dict[str, str]:
        return {t["name"]: t["attachedBy"] for t in self.items[item_id]["tags"]}

    def set_tag_names(self, item_id: str, names: list[str]) -> None:
        item = self.items[item_id]
        kept = {t["name"]: t for t in item["tags"]}
        item["tags"] = [
            kept.get(n) or {"id": f"t-{n}", "name": n, "attachedBy": "human"} for n in names
        ]
        item["modifiedAt"] = _iso(self.tick(), "milliseconds")

    def _tags(self, request: Request, item: dict[str, Any]) -> Reply:
        """routers/bookmarks.ts: POST attaches (tagName, attachedBy), DELETE detaches (tagId)."""
        body = request.body if isinstance(request.body, dict) else {}
        wanted = body.get("tags")
        if not isinstance(wanted, list):
            return 400, {"code": "BAD_REQUEST", "message": "tags: Required"}, {}
        names = {t["name"] for t in item["tags"]}
        done = []
        for tag in wanted:
            if request.method == "POST" and tag.get("tagName") not in names:
                name = tag["tagName"]
                by = tag.get("attachedBy", "human")  # Karakeep's default
                item["tags"].append({"id": f"t-{name}", "name": name, "attachedBy": by})
                names.add(name)
                done.append(f"t-{name}")
            elif request.method == "DELETE":
                before = len(item["tags"])
                item["tags"] = [t for t in item["tags"] if t["id"] != tag.get("tagId")]
                done += [tag.get("tagId")] if len(item["tags"]) < before else []
        item["modifiedAt"] = _iso(self.tick(), "milliseconds")
        key = "attached" if request.method == "POST" else "detached"
        return 200, {key: done}, {}

    def route(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.secret}":
            return 401, {"code": "UNAUTHORIZED", "message": self.auth_message}, {}
        if request.path.endswith("/tags") and request.method in ("POST", "DELETE"):
            item = self.items.get(request.path.split("/")[-2])
            if item is None:
                return 404, {"code": "NOT_FOUND", "message": "Bookmark not found"}, {}
            return self._tags(request, item)
        if request.path.startswith("/api/v1/bookmarks/") and request.method == "PATCH":
            item = self.items.get(request.path.rsplit("/", 1)[1])
            if item is None:
                return 404, {"code": "NOT_FOUND", "message": "Bookmark not found"}, {}
            if isinstance(request.body, dict) and "archived" in request.body:
                item["archived"] = bool(request.body["archived"])
            item["modifiedAt"] = _iso(self.tick(), "milliseconds")
            return 200, _content(item, False), {}
        q = {k: v[0] for k, v in request.query.items()}
        include = q.get("includeContent", "false")
        if include not in ("true", "false"):
            return 400, {"code": "BAD_REQUEST", "message": "Must be true or false"}, {}
        if request.path.startswith("/api/v1/bookmarks/"):
            item = self.items.get(request.path.rsplit("/", 1)[1])
            if item is None:
                return 404, {"code": "NOT_FOUND", "message": "Bookmark not found"}, {}
            return 200, _content(item, include == "true"), {}
        if request.path != "/api/v1/bookmarks":
            return 404, {"code": "NOT_FOUND", "message": "Not found"}, {}
        limit = int(q.get("limit", 20))
        if limit > 100:
            return 400, {"code": "BAD_REQUEST", "message": "limit must be <= 100"}, {}
        start = int(base64.b64decode(q["cursor"])) if "cursor" in q else 0
        items = sorted(self.items.values(), key=lambda i: i["createdAt"], reverse=True)
        page = [_content(i, include == "true") for i in items[start : start + limit]]
        more = start + limit < len(items)
        cursor = base64.b64encode(str(start + limit).encode()).decode() if more else None
        return 200, {"bookmarks": page, "nextCursor": cursor}, {}


class ReadeckFake(FakeService):
    name, secret = "readeck", "rd-token"
    auth_message = "Invalid authentication token"

    def __init__(self) -> None:
        super().__init__()
        self.deleted: dict[str, datetime] = {}
        self.id_filter = True  # False: behave like a server that ignores `id=`

    def add(self, url: str, title: str = "", **kw: Any) -> str:
        moment, item_id = self.tick(), f"Rd{self.new_id():020d}"
        self.items[item_id] = {
            "id": item_id, "href": f"{self.url}/api/bookmarks/{item_id}",
            "created": _iso(moment), "updated": _iso(moment), "state": 0, "loaded": True,
            "url": url, "title": title, "site_name": "example", "type": "article",
            "is_deleted": False, "is_marked": False, "is_archived": bool(kw.get("archived")),
            "labels": list(kw.get("tags", ())), "read_progress": 0, "word_count": 120,
        }  # fmt: skip
        return item_id

    def update(self, item_id: str, *, archived: bool | None = None) -> None:
        self.items[item_id]["is_archived"] = bool(archived)
        self.items[item_id]["updated"] = _iso(self.tick())

    def edit(self, item_id: str, *, title: str | None = None, tags: Any = None) -> None:
        item = self.items[item_id]
        if title is not None:
            item["title"] = title
        if tags is not None:
            item["labels"] = list(tags)
        item["updated"] = _iso(self.tick())

    def delete(self, item_id: str) -> None:
        super().delete(item_id)
        self.deleted[item_id] = self.now

    def tag_names(self, item_id: str) -> list[str]:
        return list(self.items[item_id]["labels"])

    def _patch(self, item: dict[str, Any], body: Any) -> Reply:
        """PATCH /api/bookmarks/{id}: add_labels and remove_labels change only those labels."""
        body = body if isinstance(body, dict) else {}
        labels = [n for n in item["labels"] if n not in body.get("remove_labels", [])]
        labels += [n for n in body.get("add_labels", []) if n not in labels]
        if "is_archived" in body:
            item["is_archived"] = bool(body["is_archived"])
        item["labels"], item["updated"] = labels, _iso(self.tick())
        return (
            200,
            {"id": item["id"], "href": item["href"], "updated": item["updated"], "labels": labels},
            {},
        )

    def route(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.secret}":
            return 401, {"status": 401, "message": self.auth_message}, {}
        if request.path == "/api/bookmarks/sync":
            return self._sync(request.query.get("since", [""])[0])
        if request.path.startswith("/api/bookmarks/"):
            item = self.items.get(request.path.rsplit("/", 1)[1])
            if item and request.method == "PATCH":
                return self._patch(item, request.body)
            return (200, item, {}) if item else (404, {"status": 404, "message": "Not found"}, {})
        if request.path != "/api/bookmarks":
            return 404, {"status": 404, "message": "Not found"}, {}
        wanted = set(request.query.get("id", [])) if self.id_filter else set()
        items = [i for i in self.items.values() if not wanted or i["id"] in wanted]
        items.sort(key=lambda i: i["created"], reverse=True)
        limit = int(request.query.get("limit", ["30"])[0])
        offset = int(request.query.get("offset", ["0"])[0])
        headers = {"Total-Count": str(len(items)), "Current-Page": str(offset // limit + 1)}
        return 200, items[offset : offset + limit], headers

    def _sync(self, since: str) -> Reply:
        after = datetime.fromisoformat(since) if since else None
        changes = [
            {"id": i["id"], "time": i["updated"], "type": "update"}
            for i in self.items.values()
            if after is None or datetime.fromisoformat(i["updated"]) >= after  # inclusive
        ]
        if after is not None:  # without `since`, only the updated ones
            changes += [
                {"id": k, "time": _iso(t), "type": "delete"}
                for k, t in self.deleted.items()
                if t >= after
            ]
        return 200, sorted(changes, key=lambda c: c["time"], reverse=True), {}


FAKES: dict[str, type[FakeService]] = {
    f.name: f for f in (WallabagFake, LinkdingFake, KarakeepFake, ReadeckFake)
}


def _local(moment: datetime) -> str:
    """Wallabag's format: local time with a ±hhmm offset (this fake lives at UTC+1)."""
    return moment.astimezone(timezone(timedelta(hours=1))).strftime("%Y-%m-%dT%H:%M:%S%z")


def _epoch(value: str) -> int:
    return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def _content(item: dict[str, Any], include: bool) -> dict[str, Any]:
    """A Karakeep bookmark as sent: htmlContent only when includeContent=true."""
    content = dict(item["content"])
    if not include:
        content.pop("htmlContent", None)
    return {**item, "content": content}


def _handler(fake: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve(None)

        def do_PATCH(self) -> None:
            self.do_POST()

        def do_DELETE(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            kind = self.headers.get("Content-Type", "")
            body: Any = raw
            if "json" in kind:
                body = json.loads(raw or "null")
            elif "x-www-form-urlencoded" in kind:
                body = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            self._serve(body)

        def _serve(self, body: Any) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            request = Request(self.command, parts.path, query, dict(self.headers.items()), body)
            status, payload, headers = fake.handle(request)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)  # also sends Date: the sources read the server clock
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def serve(name: str) -> Iterator[FakeService]:
    """Run the fake for `name` on 127.0.0.1 (ephemeral port) until the block ends."""
    fake = FAKES[name]()
    with serve_in_thread(_handler(fake)) as url:
        fake.url = url
        yield fake
