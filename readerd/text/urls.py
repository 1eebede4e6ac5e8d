"""URL text helpers any layer may use: userinfo redaction and scheme detection."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"
_USERINFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(\S+)$")
WEB_SCHEMES = ("http", "https")


def redact_userinfo(url: str) -> str:
    """`url` with the secret of its userinfo masked: `http://user:***@host/`, `http://***@host/`.

    A lone user name is masked whole: for many services it is the token itself.
    """

    def mask(match: re.Match[str]) -> str:
        user, colon, _secret = match[2].partition(":")
        return f"{match[1]}{user}:{MASK}@" if colon else f"{match[1]}{MASK}@"

    return _USERINFO.sub(mask, url, count=1)


def other_scheme(text: str) -> str | None:
    """The scheme of a URL-looking word that is not http(s) (`file`, `javascript`…), else None."""
    match = _SCHEME.match(text.strip())
    if match is None or match[1].lower() in WEB_SCHEMES:
        return None
    return match[1].lower()


def host_of(base_url: str) -> str:
    """Host (and port) of a base URL, without credentials or path."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host
