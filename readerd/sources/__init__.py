"""Sources: everything that produces SavedLink objects (read-later services, folders, exports)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from readerd.config import Settings
from readerd.errors import ConfigError
from readerd.results import SavedLink, SyncBatch
from readerd.sources.folder import FolderSource
from readerd.sources.pocket import PocketSource
from readerd.sources.pocket_export import ImportResult
from readerd.sources.pocket_export import read_import_file as _read_export

__all__ = [
    "FolderSource",
    "ImportResult",
    "PocketSource",
    "SavedLink",
    "Source",
    "make_source",
    "read_import_file",
]


class Source(Protocol):
    """A read-later service or a folder: reports links changed since a cursor."""

    name: str

    async def changes(self, since: str | None) -> SyncBatch:
        """The links changed since `since` (all when None) and the cursor to store after them."""
        ...


def make_source(settings: Settings) -> Source:
    """Build the source that READERD_SOURCE names; ConfigError when its settings are missing."""
    if settings.source == "pocket":
        return _make_pocket(settings)
    if settings.source == "folder":
        folder = Path(settings.folder).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"folder: READERD_FOLDER={folder} is not a directory")
        return FolderSource(folder, max_bytes=settings.fetch_max_bytes)
    raise ConfigError(f"sources: unknown READERD_SOURCE={settings.source!r}")


def _make_pocket(settings: Settings) -> PocketSource:
    key, token = settings.pocket_consumer_key, settings.pocket_access_token
    missing = [
        name
        for name, secret in (
            ("READERD_POCKET_CONSUMER_KEY", key),
            ("READERD_POCKET_ACCESS_TOKEN", token),
        )
        if secret is None or not secret.get_secret_value().strip()
    ]
    if missing:
        raise ConfigError(f"pocket: {' and '.join(missing)} must be set for READERD_SOURCE=pocket")
    if not settings.pocket_url.startswith(("http://", "https://")):
        raise ConfigError(f"pocket: READERD_POCKET_URL must be http(s): {settings.pocket_url!r}")
    assert key is not None and token is not None
    return PocketSource(
        settings.pocket_url,
        key.get_secret_value().strip(),
        token.get_secret_value().strip(),
        page_size=settings.pocket_page_size,
        timeout=settings.fetch_timeout,
        user_agent=settings.user_agent,
    )


def read_import_file(path: Path) -> ImportResult:
    """Read a Pocket CSV/ZIP/HTML export or a URL list; an ImportResult is a list[SavedLink]."""
    return _read_export(Path(path))
