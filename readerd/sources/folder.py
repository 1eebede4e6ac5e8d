"""A directory as a source: .html/.pdf files are articles, .url/.txt files list links."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from readerd.errors import SourceError
from readerd.results import LinkState, SavedLink, SyncBatch
from readerd.sources.urls import normalize_url, parse_url_list, unsupported_link

log = logging.getLogger(__name__)

ARTICLE_TYPES = {".html": "text/html", ".htm": "text/html", ".pdf": "application/pdf"}
LIST_SUFFIXES = {".url", ".txt"}


@dataclass(frozen=True)
class _Entry:
    path: Path
    changed: float  # max(mtime, ctime): a file moved in with an old mtime still counts


def _parse_cursor(since: str | None) -> float | None:
    if since is None:
        return None
    try:
        return float(since)
    except ValueError:
        log.warning("folder: cursor %r is not a file time; reading every file", since)
        return None


def _to_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


class FolderSource:
    """Every supported file under `root` (recursive, hidden names skipped), newest changes only."""

    name = "folder"

    def __init__(self, root: Path, *, max_bytes: int = 10 * 1024 * 1024) -> None:
        self.root = Path(root).expanduser().resolve()
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"FolderSource({str(self.root)!r})"

    async def changes(self, since: str | None) -> SyncBatch:
        """Links from files changed after `since` (a file time); the cursor is the newest seen."""
        return await asyncio.to_thread(self.scan, since)

    async def check(self) -> str:
        """The folder can be listed by this user; SourceError naming what is wrong."""
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise SourceError(f"folder: {self.root} is not readable by uid {os.getuid()}")
        try:
            with os.scandir(self.root) as entries:
                count = sum(1 for _ in entries)
        except OSError as exc:
            raise SourceError(f"folder: cannot list {self.root}: {exc.strerror}") from None
        return f"folder {self.root}, {count} entries"

    def scan(self, since: str | None) -> SyncBatch:
        """The blocking body of `changes`."""
        after = _parse_cursor(since)
        entries = self._entries()
        links: list[SavedLink] = []
        for entry in entries:
            if after is None or entry.changed > after:
                links.extend(self._read(entry))
        newest = max((e.changed for e in entries), default=None)
        if newest is None or (after is not None and newest <= after):
            return SyncBatch(links=links, cursor=since)
        return SyncBatch(links=links, cursor=repr(newest))

    def _entries(self) -> list[_Entry]:
        found = []
        wanted = ARTICLE_TYPES.keys() | LIST_SUFFIXES

        def warn(exc: OSError) -> None:
            log.warning("folder: cannot list %s: %s", exc.filename, exc.strerror)

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=warn):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                if filename.startswith(".") or path.suffix.lower() not in wanted:
                    continue
                try:
                    st = path.stat()
                except OSError as exc:
                    log.warning("folder: skipped %s: %s", path, exc.strerror)
                    continue
                found.append(_Entry(path, max(st.st_mtime, st.st_ctime)))
        return found

    def _read(self, entry: _Entry) -> list[SavedLink]:
        path = entry.path
        try:
            if path.stat().st_size > self.max_bytes:
                log.warning("folder: skipped %s: larger than %d bytes", path, self.max_bytes)
                return []
            data = path.read_bytes()
        except OSError as exc:
            log.warning("folder: skipped %s: %s", path, exc.strerror)
            return []
        changed = _to_datetime(entry.changed)
        suffix = path.suffix.lower()
        if suffix in ARTICLE_TYPES:
            return [
                SavedLink(
                    source="folder",
                    source_id=path.relative_to(self.root).as_posix(),
                    url=path.as_uri(),
                    content=data,
                    content_type=ARTICLE_TYPES[suffix],
                    added_at=changed,
                    updated_at=changed,
                )
            ]
        return self._read_list(path, data, changed)

    def _read_list(self, path: Path, data: bytes, changed: datetime) -> list[SavedLink]:
        text = data.decode("utf-8-sig", errors="replace")
        found = parse_url_list(text)
        if found.skipped:
            log.warning("folder: %s: %d lines are not http(s) URLs", path, len(found.skipped))
        links: dict[str, SavedLink] = {}
        for url in found.urls:
            key = normalize_url(url) or url
            links.setdefault(
                key,
                SavedLink(
                    source="folder",
                    source_id=key,
                    url=url,
                    state=LinkState.UNREAD,
                    added_at=changed,
                    updated_at=changed,
                ),
            )
        for url in found.refused:  # file:, ftp:, javascript:…: kept as failed items
            refused = unsupported_link("folder", url, added_at=changed, updated_at=changed)
            if refused is not None:
                links.setdefault(refused.source_id, refused)
        return list(links.values())
