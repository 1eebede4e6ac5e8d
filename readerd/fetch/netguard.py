"""SSRF guard: an httpx transport whose connections go only to checked, public addresses.

The check runs inside the httpcore network backend, on the addresses the host name
resolves to at connect time, and the socket is opened to the checked address itself:
there is no window between the check and the connect for DNS rebinding. TLS still
uses the URL's host name for SNI and certificate checks (httpcore passes it to
start_tls), so https works unchanged.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import cast

import anyio
import httpcore
import httpx

from readerd.errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # CGNAT


def _translated_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped or NAT64 IPv6 address stands for."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _tunnelled_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or Teredo address carries."""
    if ip.sixtofour:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo else None


def is_public_address(ip: IPAddress) -> bool:
    """True when the address is globally routable unicast (not private, loopback, ...)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        if (translated := _translated_v4(ip)) is not None:
            return is_public_address(translated)  # the IPv4 host is what gets reached
        tunnelled = _tunnelled_v4(ip)
        if tunnelled is not None and not is_public_address(tunnelled):
            return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means, including legacy IPv4 forms."""
    host = host.strip("[]")
    host = host[:-1] if host.endswith(".") else host  # "127.0.0.1." is still an address
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:  # inet_aton's legacy forms: 2130706433, 0x7f.1, 0177.0.0.1, 127.1
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def normalize_host(host: str) -> str:
    """Host as compared against the allow list: lower case, without IPv6 brackets."""
    return host.strip().strip("[]").lower()


def blocked(host: str, ip: IPAddress) -> BlockedAddressError:
    """The error for a host that points at a non-public address."""
    return BlockedAddressError(f"fetch: blocked address: host={host} ip={ip}")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked address."""

    def __init__(self, allow: Iterable[str], inner: httpcore.AsyncNetworkBackend | None = None):
        self._allow = frozenset(normalize_host(h) for h in allow)
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP stream to host:port after the SSRF check."""
        addresses = [host] if normalize_host(host) in self._allow else await self._resolve(host)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def _resolve(self, host: str) -> list[str]:
        """Every address of host, all checked; raises BlockedAddressError on any bad one."""
        if (literal := parse_ip_literal(host)) is not None:
            found = [literal]
        else:
            try:
                infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for ip in found:
            if not is_public_address(ip):
                raise blocked(host, ip)
        return list(dict.fromkeys(str(ip) for ip in found))

    async def connect_unix_socket(
        self, *args: object, **kwargs: object
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never a fetch target."""
        raise BlockedAddressError("fetch: blocked address: unix socket")

    async def sleep(self, seconds: float) -> None:
        """Delegate to the wrapped backend."""
        await self._inner.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    """An httpcore body stream whose errors come out as httpx errors."""

    def __init__(self, stream: Iterable[bytes] | AsyncIterable[bytes]) -> None:
        self._stream = cast(AsyncIterable[bytes], stream)  # the async pool streams asynchronously

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            raise _map_error(exc) from exc

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


def _map_error(exc: Exception) -> Exception:
    """httpcore's exceptions as the httpx ones callers expect; others unchanged."""
    if isinstance(exc, httpcore.TimeoutException):
        return httpx.TimeoutException(str(exc))
    errors = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)
    if isinstance(exc, errors):
        return httpx.TransportError(str(exc))
    return exc


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over a connection pool that uses GuardedBackend."""

    def __init__(self, allow: Iterable[str], max_connections: int = 100) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request through the guarded pool."""
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            raise _map_error(exc) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()
