"""systemd's sd_notify protocol: newline-separated KEY=value datagrams to $NOTIFY_SOCKET.

Without $NOTIFY_SOCKET (not started by systemd with Type=notify) every call is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


def _address(path: str) -> str | bytes:
    # "@name" names a socket in Linux's abstract namespace: a leading NUL byte.
    return b"\0" + path[1:].encode() if path.startswith("@") else path


class Notifier:
    """Sends READY=1, STATUS=…, WATCHDOG=1, STOPPING=1 to the service manager."""

    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
        self.address = _address(path) if path else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()  # STATUS updates come from worker threads too

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send one datagram made of `fields`; False when nobody listens or it failed."""
        if self.address is None:
            return False
        message = "\n".join(fields).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(message, self.address)
                return True
            except OSError as exc:
                log.debug("sd_notify: %s failed: %s", fields[0] if fields else "", exc)
                return False

    def status(self, text: str) -> bool:
        """Set the one-line status that `systemctl status readerd` shows."""
        return self.notify(f"STATUS={' '.join(text.split())}")

    def close(self) -> None:
        """Close the socket (the next notify reopens it)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when not asked."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process
    return int(usec) / 1_000_000 / 2


async def run_watchdog(notifier: Notifier, interval: float, healthy: Callable[[], bool]) -> None:
    """Send WATCHDOG=1 every `interval` s while this event loop runs and healthy() is true.

    healthy() runs in a thread of its own: a check that hangs withholds the pings
    (so systemd restarts us) instead of blocking the loop, and is never stacked on.
    """
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readerd-health")
    check: asyncio.Future[bool] | None = None
    try:
        while True:
            if check is None or check.done():
                check = loop.run_in_executor(pool, healthy)
            try:
                ok = await asyncio.wait_for(asyncio.shield(check), timeout=interval)
            except TimeoutError:
                log.warning("watchdog: health check did not answer within %.1fs", interval)
                ok = False
            if ok:
                notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
