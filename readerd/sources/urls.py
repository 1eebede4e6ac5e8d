"""URL helpers shared by the sources: validation, normalisation and URL-list parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from readerd.results import LinkState, SavedLink
from readerd.text.urls import other_scheme, redact_userinfo

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
    if parts.username is not None:  # kept (it is refused at fetch), its secret masked
        userinfo = redact_userinfo(f"x://{parts.netloc.rpartition('@')[0]}@")[4:-1]
        netloc = f"{userinfo}@{netloc}"
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, fragment))


@dataclass
class UrlList:
    """URLs read from a text list, and the lines that were not http(s) URLs.

    `refused` holds the skipped lines that are URLs of another scheme (file:, ftp:,
    javascript:, mailto:…), userinfo masked: they are kept as failed items.
    """

    urls: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


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
            result.skipped.append(redact_userinfo(raw.strip()))
            if other_scheme(candidate):
                result.refused.append(redact_userinfo(candidate))
    return result


def unsupported_link(
    source: str, url: str, *, state: LinkState = LinkState.UNREAD, **times: datetime | None
) -> SavedLink | None:
    """A SavedLink for a URL of another scheme than http(s), kept as a failed item; else None."""
    scheme = other_scheme(url)
    if scheme is None:
        return None
    safe = redact_userinfo(url.strip())
    return SavedLink(
        source=source,
        source_id=safe,
        url=safe,
        state=state,
        problem=f"unsupported scheme: {scheme} (readerd reads http and https links only)",
        **times,  # type: ignore[arg-type]
    )
