"""Sources: everything that produces SavedLink objects (read-later services, folders, exports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from readerd.config import Settings
from readerd.errors import ConfigError
from readerd.results import SavedLink, SyncBatch
from readerd.sources.folder import FolderSource
from readerd.sources.karakeep import KarakeepSource
from readerd.sources.linkding import LinkdingSource
from readerd.sources.pocket import PocketSource
from readerd.sources.pocket_export import ImportResult
from readerd.sources.pocket_export import read_import_file as _read_export
from readerd.sources.readeck import ReadeckSource
from readerd.sources.service_http import ClientOptions
from readerd.sources.wallabag import WallabagSource

__all__ = [
    "SERVICES",
    "FolderSource",
    "ImportResult",
    "KarakeepSource",
    "LinkdingSource",
    "NoSource",
    "PocketSource",
    "ReadeckSource",
    "SavedLink",
    "Service",
    "Source",
    "WallabagSource",
    "make_source",
    "read_import_file",
    "required_settings",
]


class Source(Protocol):
    """A read-later service or a folder: reports links changed since a cursor."""

    name: str

    async def changes(self, since: str | None) -> SyncBatch:
        """The links changed since `since` (all when None) and the cursor to store after them."""
        ...

    async def check(self) -> str:
        """Reach the source and prove the credentials, as a sync would; SourceError if not."""
        ...


class NoSource:
    """READERD_SOURCE=none: links come only from `readerd import`."""

    name = "none"

    async def changes(self, since: str | None) -> SyncBatch:
        """Nothing ever changes."""
        return SyncBatch([], since)

    async def check(self) -> str:
        """Always fine: there is nothing to reach."""
        return "none: imports only (`readerd import FILE`), nothing is synced"


def make_source(settings: Settings) -> Source:
    """Build the source that READERD_SOURCE names; ConfigError when its settings are missing."""
    if settings.source == "pocket":
        return _make_pocket(settings)
    if settings.source == "none":
        return NoSource()
    if settings.source == "folder":
        if not settings.quick_start and "folder" not in settings.model_fields_set:
            raise ConfigError(
                "folder: READERD_SOURCE=folder needs READERD_FOLDER (the bundled samples are "
                "read only in the quick start, with no source configured)"
            )
        folder = Path(settings.folder).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"folder: READERD_FOLDER={folder} is not a directory")
        return FolderSource(folder, max_bytes=settings.fetch_max_bytes)
    if service := SERVICES.get(settings.source):
        return _make_service(settings, service)
    raise ConfigError(f"sources: unknown READERD_SOURCE={settings.source!r}")


@dataclass(frozen=True)
class Service:
    """A read-later service on the shared ServiceClient: its settings and its constructor.

    `fields` are the READERD_<SERVICE>_<FIELD> settings it needs, url first; `build`
    gets their values in that order, then the client options.
    """

    fields: tuple[str, ...]
    build: Callable[..., Source]


#: READERD_SOURCE -> the service; adding one is an entry here (and its settings).
SERVICES: dict[str, Service] = {
    "wallabag": Service(
        ("url", "client_id", "client_secret", "username", "password"), WallabagSource
    ),
    "linkding": Service(("url", "token"), LinkdingSource),
    "karakeep": Service(("url", "api_key"), KarakeepSource),
    "readeck": Service(("url", "token"), ReadeckSource),
}


def _make_service(settings: Settings, service: Service) -> Source:
    """A service source from its READERD_<SERVICE>_* settings."""
    options = ClientOptions(timeout=settings.fetch_timeout, user_agent=settings.user_agent)
    values = required_settings(settings, *service.fields)
    return service.build(*(values[field] for field in service.fields), options=options)


def required_settings(settings: Settings, *fields: str) -> dict[str, str]:
    """READERD_<SOURCE>_<FIELD> values; ConfigError naming every one that is unset."""
    values: dict[str, str] = {}
    for field in fields:
        value = getattr(settings, f"{settings.source}_{field}")
        text = value.get_secret_value() if isinstance(value, SecretStr) else value or ""
        values[field] = text if field == "password" else text.strip()  # a password is as typed
    name = settings.source
    missing = [f"READERD_{name}_{f}".upper() for f in fields if not values[f].strip()]
    if missing:
        raise ConfigError(f"{name}: {', '.join(missing)} must be set for READERD_SOURCE={name}")
    if not values["url"].startswith(("http://", "https://")):
        raise ConfigError(f"{name}: READERD_{name.upper()}_URL must be http(s): {values['url']!r}")
    return values


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
