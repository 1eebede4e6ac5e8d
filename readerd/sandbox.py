"""Extraction in worker processes, each task under a time limit and each worker under a memory cap.

A pathological page can make an HTML parser spin or balloon; in a worker process
that costs one item, never the daemon. pebble kills and replaces a worker whose
task overruns, which concurrent.futures cannot do. Workers also let extraction use
every core instead of queueing behind the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from readerd.errors import ExtractError
from readerd.results import Extracted, FetchedPage

STARTUP_GRACE = 2.0  # seconds a replacement worker may need to start, on a busy machine

_WARM_UP = FetchedPage(
    "about:blank",
    200,
    "text/html",
    b"<html><body><article><p>A short page that warms the extractor up. It has two "
    b"sentences, so every part of the extractor runs once.</p></article></body></html>",
)


def _limit_memory(max_bytes: int) -> None:
    """Worker start: cap its memory, then warm the extractor up.

    pebble starts a task's clock after the initializer, so the imports and first-call
    set-up (about a second, more on a busy machine) never count against a page's limit.
    """
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    with contextlib.suppress(Exception):  # if it fails, the first page pays for the imports
        _extract(_WARM_UP)


def _extract(page: FetchedPage) -> Extracted:
    from readerd.extract import extract_article

    return extract_article(page)


class ExtractionPool:
    """Runs extract_article in worker processes; timeouts and crashes become ExtractError."""

    def __init__(
        self, *, workers: int | None = None, timeout: float = 30.0, memory_mb: int = 1024
    ) -> None:
        self.timeout, self.memory_mb = timeout, memory_mb
        self._workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool: ProcessPool | None = None
        self._replaced_at = -STARTUP_GRACE  # when pebble last started a replacement worker

    def _started(self) -> ProcessPool:
        if self._pool is None:
            # forkserver: never fork a process that already runs threads (scheduler, writer).
            self._pool = ProcessPool(
                max_workers=self._workers,
                max_tasks=200,
                initializer=_limit_memory,
                initargs=(self.memory_mb * 1024 * 1024,),
                context=multiprocessing.get_context("forkserver"),
            )
        return self._pool

    async def extract(self, page: FetchedPage) -> Extracted:
        """Extract one page in a worker; the worker is replaced if it overruns or dies."""
        future = self._started().schedule(_extract, args=(page,), timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            self._replaced_at = time.monotonic()
            raise ExtractError(
                f"extract: gave up after {self.timeout:g} s: url={page.url}"
            ) from None
        except MemoryError:
            raise ExtractError(
                f"extract: ran out of memory (limit {self.memory_mb} MiB): url={page.url}"
            ) from None
        except ProcessExpired as exc:
            self._replaced_at = time.monotonic()
            raise ExtractError(
                f"extract: worker died (exit code {exc.exitcode}): url={page.url}"
            ) from None

    def close(self) -> None:
        """Stop the workers (waiting for none: in-flight results are no longer wanted)."""
        if self._pool is not None:
            # A worker started to replace a killed one must finish starting first: stopped
            # while it unpickles, it finds the pool's semaphores gone and prints a traceback.
            time.sleep(max(0.0, self._replaced_at + STARTUP_GRACE - time.monotonic()))
            self._pool.stop()
            self._pool.join(timeout=5)
            self._pool = None
