"""Safe HTTP: one deadline, a byte cap (after decompression too), checked redirects, SSRF guard."""

from __future__ import annotations

import asyncio
import zlib
from urllib.parse import urlsplit, urlunsplit

import httpx

from readerd.config import Settings
from readerd.errors import BlockedAddressError, FetchError
from readerd.fetch.netguard import GuardedTransport, blocked, is_public_address, normalize_host
from readerd.fetch.netguard import parse_ip_literal as _ip_literal
from readerd.results import FetchedPage
from readerd.text.times import retry_after_seconds

ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.5"
_RETRYABLE_STATUS = frozenset({408, 425, 429})
_CHUNK = 64 * 1024
_MAX_RETRY_AFTER = 24 * 3600.0
_MAX_ENCODINGS = 3  # "gzip, gzip" is legal; a longer stack only serves to hide a bomb


def make_fetch_client(settings: Settings) -> httpx.AsyncClient:
    """One client per run, shared by concurrent fetches; proxies from the environment ignored."""
    return httpx.AsyncClient(
        transport=GuardedTransport(
            settings.fetch_allow, max_connections=max(10, 2 * settings.fetch_concurrency)
        ),
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(settings.fetch_timeout),
        headers={
            "User-Agent": settings.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        },
    )


async def fetch_page(client: httpx.AsyncClient, url: str, settings: Settings) -> FetchedPage:
    """GET url within the settings' limits, following checked redirects; raises FetchError."""
    try:
        async with asyncio.timeout(settings.fetch_timeout):
            return await _follow(client, url, settings)
    except TimeoutError as exc:
        raise FetchError(
            f"fetch: timed out: url={_redact(url)} after={settings.fetch_timeout:g}s"
        ) from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"fetch: timed out: url={_redact(url)}") from exc
    except httpx.InvalidURL as exc:
        raise _permanent(f"fetch: invalid url: url={_redact(url)} error={exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"fetch: network error: url={_redact(url)} error={exc}") from exc


async def _follow(client: httpx.AsyncClient, url: str, settings: Settings) -> FetchedPage:
    """Request url and each redirect target in turn, re-checking every hop."""
    seen: set[str] = set()
    current = url.strip()
    for _ in range(settings.fetch_max_redirects + 1):
        check_url(current, settings.fetch_allow)
        seen.add(current)
        target = await _request(client, current, settings)
        if isinstance(target, FetchedPage):
            return target
        if target in seen:
            raise _permanent(f"fetch: redirect loop: url={_redact(url)} at={_redact(target)}")
        current = target
    raise _permanent(
        f"fetch: too many redirects: url={_redact(url)} limit={settings.fetch_max_redirects}"
    )


async def _request(client: httpx.AsyncClient, url: str, settings: Settings) -> FetchedPage | str:
    """One GET: the page, or the absolute URL a redirect points to."""
    try:
        async with client.stream("GET", url) as response:
            if response.has_redirect_location:
                return str(response.url.join(response.headers["location"]))
            if response.status_code >= 400:
                raise _status_error(response.status_code, url, response.headers)
            body = await _read_body(response, settings.fetch_max_bytes, url)
    except BlockedAddressError as exc:
        raise BlockedAddressError(f"{exc} url={_redact(url)}") from exc
    media_type, charset = parse_content_type(response.headers.get("content-type", ""))
    return FetchedPage(
        url=str(response.url),
        status=response.status_code,
        content_type=media_type,
        body=body,
        charset=charset,
    )


def check_url(url: str, allow: list[str]) -> None:
    """Reject what no fetch may do: other schemes, credentials, non-public IP literals."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as exc:
        raise _permanent(f"fetch: invalid url: url={_redact(url)} error={exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedAddressError(
            f"fetch: unsupported scheme: url={_redact(url)} scheme={parts.scheme or '(none)'}"
        )
    if "@" in parts.netloc:
        raise BlockedAddressError(f"fetch: credentials in url: url={_redact(url)}")
    if not host:
        raise _permanent(f"fetch: invalid url: url={_redact(url)} error=no host")
    ip = _ip_literal(host)
    allowed = {normalize_host(h) for h in allow}
    if ip is not None and normalize_host(host) not in allowed and not is_public_address(ip):
        raise BlockedAddressError(f"{blocked(host, ip)} url={_redact(url)}")


async def _read_body(response: httpx.Response, limit: int, url: str) -> bytes:
    """The decoded body, refusing more than limit bytes before or after decompression."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(url, limit)
    decoder = _StackedDecoder(response.headers.get("content-encoding", ""), limit, url)
    received = 0
    parts: list[bytes] = []
    async for chunk in response.aiter_raw(_CHUNK):
        received += len(chunk)
        if received > limit:
            raise _too_large(url, limit)
        parts.append(decoder.feed(chunk))
    parts.append(decoder.flush())
    return b"".join(parts)


class _StackedDecoder:
    """Every layer of a Content-Encoding list ("gzip, gzip"), undone in reverse, each bounded."""

    def __init__(self, header: str, limit: int, url: str) -> None:
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        if len(codings) > _MAX_ENCODINGS:
            raise _permanent(
                f"fetch: too many content encodings: url={_redact(url)} encoding={header}"
            )
        self._layers = [_BoundedDecoder(c, limit, url) for c in reversed(codings)]

    def feed(self, data: bytes) -> bytes:
        """Decode one raw chunk through every layer."""
        for layer in self._layers:
            data = layer.feed(data)
        return data

    def flush(self) -> bytes:
        """Whatever each layer still holds, passed on through the layers after it."""
        data = b""
        for layer in self._layers:
            data = layer.feed(data) + layer.flush()
        return data


class _BoundedDecoder:
    """Content-Encoding decoder that never inflates past the byte limit (gzip bombs)."""

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self._encoding = encoding.strip().lower()
        self._limit, self._url, self._total = limit, url, 0
        self._z: zlib._Decompress | None = None
        if self._encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif self._encoding not in ("", "identity"):
            raise _permanent(
                f"fetch: unsupported content encoding: url={_redact(url)} encoding={encoding}"
            )
        self._started = False

    def feed(self, data: bytes) -> bytes:
        """Decode one raw chunk."""
        if self._z is None:
            return self._count(data)
        try:
            return self._inflate(data)
        except zlib.error as exc:
            if self._encoding == "deflate" and not self._started:  # raw deflate, no zlib header
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self.feed(data)
            raise FetchError(f"fetch: bad {self._encoding} body: url={_redact(self._url)}") from exc

    def _inflate(self, data: bytes) -> bytes:
        """Inflate in pieces of at most (room left + 1) bytes."""
        assert self._z is not None
        out: list[bytes] = []
        while data and not self._z.eof:
            out.append(self._count(self._z.decompress(data, self._limit - self._total + 1)))
            data = self._z.unconsumed_tail
            self._started = True
        return b"".join(out)

    def flush(self) -> bytes:
        """Whatever the decompressor still holds."""
        if self._z is None or self._z.eof:
            return b""
        try:
            return self._count(self._z.flush())
        except zlib.error:
            return b""  # truncated stream: keep what was decoded, as browsers do

    def _count(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total > self._limit:
            raise _too_large(self._url, self._limit)
        return data


def parse_content_type(header: str) -> tuple[str, str | None]:
    """('text/html', 'utf-8') from 'Text/HTML; charset="UTF-8"'."""
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip("\"'"):
            charset = value.strip().strip("\"'").lower()
    return media_type.strip().lower(), charset


def _status_error(status: int, url: str, headers: httpx.Headers) -> FetchError:
    """FetchError for an HTTP error status; retryable only when waiting can help."""
    retryable = status in _RETRYABLE_STATUS or status >= 500
    delay = _retry_after(headers.get("retry-after", "")) if retryable else None
    return FetchError(
        f"fetch: http error: url={_redact(url)} status={status}",
        retryable=retryable,
        retry_after=delay,  # the pipeline defers the link this long, spending no attempt
    )


def _retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header, capped at a day; None for none or zero."""
    seconds = retry_after_seconds(value)
    return min(seconds, _MAX_RETRY_AFTER) if seconds else None


def _too_large(url: str, limit: int) -> FetchError:
    return _permanent(f"fetch: too large: url={_redact(url)} limit={_size(limit)}")


def _permanent(message: str) -> FetchError:
    """A FetchError that retrying will not fix."""
    return FetchError(message, retryable=False)


def _size(n: int) -> str:
    """10485760 -> '10 MiB'."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def _redact(url: str) -> str:
    """The URL without any user:password part, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@")[-1]
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
