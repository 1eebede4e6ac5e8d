"""Single-instance lock: an flock on `readerd.lock` in the data directory, holding the pid.

The kernel drops an flock when its process dies, even on `kill -9`, so a stale
file never blocks a restart; the pid inside is only informative.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from readerd.errors import ReaderdError

LOCK_NAME = "readerd.lock"


class LockHeldError(ReaderdError):
    """Another readerd daemon holds the lock of this data directory."""


@dataclass(frozen=True)
class LockState:
    path: Path
    held: bool
    pid: int | None


def lock_path(data_dir: Path) -> Path:
    """Where the lock of this data directory lives."""
    return Path(data_dir) / LOCK_NAME


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class InstanceLock:
    """Held by the running daemon for its whole life; released on exit or crash."""

    def __init__(self, data_dir: Path) -> None:
        self.path = lock_path(data_dir)
        self._fd: int | None = None

    def acquire(self, attempts: int = 3) -> None:
        """Take the lock or raise LockHeldError naming the pid that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        for attempt in range(attempts):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == attempts - 1:  # a `status` probe holds it for microseconds only
                    pid = _read_pid(fd)
                    os.close(fd)
                    raise LockHeldError(
                        f"daemon: another readerd is already running (pid {pid or 'unknown'}) "
                        f"on this data directory; lock {self.path}"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: unlinking it would race with a new daemon)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def probe_lock(data_dir: Path) -> LockState:
    """Whether a daemon holds the lock of `data_dir`, and its pid; never creates the file."""
    path = lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):  # no data dir yet (or a file in its way)
        return LockState(path, False, None)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return LockState(path, True, _read_pid(fd))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockState(path, False, None)
    finally:
        os.close(fd)
