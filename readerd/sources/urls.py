"""URL helpers shared by the sources: validation, normalisation and URL-list parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str | None:
    """Return a canonical form of an http(s) URL, or None when it is not one.

    Lower-cases scheme and host, drops default ports and plain fragments (but keeps
    `#!…`/`#/…` hash routes, which name different pages), and gives an empty path "/".
    """
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None:
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, fragment))


@dataclass
class UrlList:
    """URLs read from a text list, and the lines that were not http(s) URLs."""

    urls: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_url_list(text: str) -> UrlList:
    """Read one URL per line; blank lines, `#` comments and INI sections are ignored.

    Also reads Windows `.url` files (`[InternetShortcut]` then `URL=…`): in such a
    file only `URL=` lines count. A line "URL  title" keeps the first word.
    """
    result = UrlList()
    ini = text.lstrip("\ufeff \t\r\n")[:18].lower() == "[internetshortcut]"
    for raw in text.splitlines():
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith(("#", ";")) or (line[0] == "[" and line[-1] == "]"):
            continue
        if line[:4].lower() == "url=":
            line = line[4:].strip()
        elif ini:
            continue  # other InternetShortcut keys: IconFile=, Modified=, …
        candidate = line.split()[0] if line else ""
        if normalize_url(candidate):
            result.urls.append(candidate)
        else:
            result.skipped.append(raw.strip())
    return result
