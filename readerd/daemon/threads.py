"""Daemon jobs on event loops of their own, in worker threads, stoppable from the main loop.

The daemon's main loop must stay responsive (its liveness is what the systemd
watchdog vouches for), so pipeline work never runs on it: each job gets a fresh
event loop in a thread, with a `stop` event the main loop can set thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class _Worker:
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    task: asyncio.Task[Any]


class WorkerThreads:
    """Runs coroutines on per-job loops in threads; stop() and cancel() reach every one."""

    def __init__(self) -> None:
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self.stopping = False

    async def run(self, factory: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
        """Await factory(stop) run on a fresh event loop in a thread."""

        async def body() -> T:
            task = asyncio.current_task()
            assert task is not None
            worker = _Worker(asyncio.get_running_loop(), asyncio.Event(), task)
            with self._lock:
                self._workers.add(worker)
                if self.stopping:  # asked to stop before this job began
                    worker.stop.set()
            try:
                return await factory(worker.stop)
            finally:
                with self._lock:
                    self._workers.discard(worker)

        return await asyncio.to_thread(asyncio.run, body())

    def stop(self) -> None:
        """Set every job's stop event: start no new item, finish the ones in flight."""
        self.stopping = True
        self._each(lambda worker: worker.stop.set())

    def cancel(self) -> None:
        """Cancel every job's coroutine: uncommitted work is rolled back, rows stay queued."""
        self._each(lambda worker: worker.task.cancel())

    def _each(self, action: Callable[[_Worker], object]) -> None:
        with self._lock:
            for worker in self._workers:
                with contextlib.suppress(RuntimeError):  # its loop has just closed
                    worker.loop.call_soon_threadsafe(action, worker)
