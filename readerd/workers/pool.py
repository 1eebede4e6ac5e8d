"""The CPU-bound work on untrusted input, in worker processes: extraction and the
offline analysis, each task under a time limit and each worker under a memory cap.

A pathological page can make an HTML parser spin or balloon; in a worker process
that costs one item, never the daemon. pebble kills and replaces a worker whose
task overruns, which concurrent.futures cannot do. Workers also let this work use
every core instead of queueing behind the pipeline's GIL.

Workers exist only while there is work: the pool starts with the first task and
stops after IDLE_SECONDS without one (and when the run ends), taking the forkserver
with it. It is as large as the pass needs (`expect`): a worker extracts dozens of
pages a second, so a pass of a few new links gets one worker, not one per core.
The forkserver has the extractor and the offline analyser loaded
(readerd.workers.preload), so the workers share that memory and a start costs
milliseconds, not a second of imports. This process never imports trafilatura,
lxml or the language model itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from pebble import ProcessExpired, ProcessPool

from readerd.errors import AnalysisError, ExtractError, ReaderdError
from readerd.results import Analysis, ArticleInput, Extracted, FetchedPage

log = logging.getLogger(__name__)

PAGES_PER_WORKER = 16  # due pages below which one more worker would save under a second
STARTUP_GRACE = 2.0  # seconds a replacement worker may need to start, on a busy machine
IDLE_SECONDS = 30.0  # no task for this long: stop the workers and the forkserver
START_TIMEOUT = 120.0  # seconds the forkserver may take to load its modules
WORKER_MODULE = "readerd.workers.preload"

_Arg = TypeVar("_Arg")
_Result = TypeVar("_Result")

_open_pools = 0  # the forkserver is per process: the last pool to stop stops it
_open_pools_lock = threading.Lock()


def _start_worker(max_bytes: int) -> None:
    """Worker start: cap its memory; load its modules unless the forkserver did.

    pebble starts a task's clock after the initializer, so a cold start's imports
    never count against a page's limit.
    """
    import importlib
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    importlib.import_module(WORKER_MODULE)


class _StartFailed(Exception):
    """The workers did not start; the stage that wanted them reports it."""


def _extract(page: FetchedPage) -> Extracted:
    from readerd.workers.preload import extract

    return extract(page)


def _analyze_offline(article: ArticleInput) -> Analysis:
    from readerd.workers.preload import analyze_offline

    return analyze_offline(article)


class WorkerPool:
    """Runs extraction and offline analysis in worker processes; a task that overruns
    or kills its worker becomes the stage's error (ExtractError, AnalysisError)."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout: float = 30.0,
        memory_mb: int = 1024,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.timeout, self.memory_mb, self.idle_seconds = timeout, memory_mb, idle_seconds
        self._most_workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._workers = self._most_workers
        self._pool: ProcessPool | None = None
        self._replaced_at = -STARTUP_GRACE  # when pebble last started a replacement worker
        self._in_flight = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._starting: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def expect(self, pages: int) -> None:
        """Size the next pool for about this many pages (one worker per PAGES_PER_WORKER)."""
        wanted = -(-max(1, pages) // PAGES_PER_WORKER)  # ceiling division
        self._workers = min(self._most_workers, wanted)

    async def _running(self, error: type[ReaderdError], stage: str) -> ProcessPool:
        """The pool, started in a thread: the first worker waits for the forkserver to
        load its modules (a second or more), which must not stall the event loop."""
        while self._pool is None:
            if self._closed:
                raise error(f"{stage}: the worker pool is closed")
            if self._starting is None:
                self._starting = asyncio.ensure_future(asyncio.to_thread(self._start))
            starting = self._starting
            try:
                await asyncio.shield(starting)
            except _StartFailed as exc:
                raise error(f"{stage}: workers did not start: {exc}") from None
            finally:
                if starting.done() and self._starting is starting:
                    self._starting = None
        return self._pool

    def _start(self) -> None:
        global _open_pools
        # forkserver: never fork a process that already runs threads (scheduler, writer).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([WORKER_MODULE])
        pool = ProcessPool(
            max_workers=self._workers,
            max_tasks=200,
            initializer=_start_worker,
            initargs=(self.memory_mb * 1024 * 1024,),
            context=context,
        )
        try:
            pool.schedule(os.getpid).result(timeout=START_TIMEOUT)  # the workers run
        except Exception as exc:
            _stop(pool)
            raise _StartFailed(repr(exc)) from None
        with self._lock:
            if self._closed:  # the run ended while the workers started
                _stop(pool)
                return
            self._pool = pool
        with _open_pools_lock:
            _open_pools += 1

    async def extract(self, page: FetchedPage) -> Extracted:
        """Extract one page in a worker; the worker is replaced if it overruns or dies."""
        return await self._run(_extract, page, ExtractError, "extract", page.url)

    async def analyze_offline(self, article: ArticleInput) -> Analysis:
        """The offline analysis of one article in a worker, under the same limits."""
        return await self._run(_analyze_offline, article, AnalysisError, "analyze", article.url)

    async def _run(
        self,
        task: Callable[[_Arg], _Result],
        arg: _Arg,
        error: type[ReaderdError],
        stage: str,
        url: str,
    ) -> _Result:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._in_flight += 1
        try:
            pool = await self._running(error, stage)
            future = pool.schedule(task, args=(arg,), timeout=self.timeout)
            result: _Result = await asyncio.wrap_future(future)
            return result
        except FutureTimeout:
            self._replaced_at = time.monotonic()
            raise error(f"{stage}: gave up after {self.timeout:g} s: url={url}") from None
        except MemoryError:
            raise error(
                f"{stage}: ran out of memory (limit {self.memory_mb} MiB): url={url}"
            ) from None
        except ProcessExpired as exc:
            self._replaced_at = time.monotonic()
            raise error(f"{stage}: worker died (exit code {exc.exitcode}): url={url}") from None
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._pool is not None:
                loop = asyncio.get_running_loop()
                self._idle_timer = loop.call_later(self.idle_seconds, self._retire_if_idle)

    def _retire_if_idle(self) -> None:
        self._idle_timer = None
        if not self._in_flight:
            log.debug("workers: no task for %g s: stopping the workers", self.idle_seconds)
            self._stop_workers()

    def close(self) -> None:
        """Stop the workers for good (waiting for none: in-flight results are no longer wanted)."""
        with self._lock:
            self._closed = True
        self._stop_workers()

    def _stop_workers(self) -> None:
        global _open_pools
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        # A worker started to replace a killed one must finish starting first: stopped
        # while it unpickles, it finds the pool's semaphores gone and prints a traceback.
        time.sleep(max(0.0, self._replaced_at + STARTUP_GRACE - time.monotonic()))
        _stop(pool)
        with _open_pools_lock:
            _open_pools -= 1
            if not _open_pools:
                _stop_forkserver()


def _stop(pool: ProcessPool) -> None:
    pool.stop()
    pool.join(timeout=5)


def _stop_forkserver() -> None:
    """Stop multiprocessing's forkserver, and with it the extractor it holds in memory.

    The standard library has no public call for this; ForkServer._stop is the one its
    own tests use (Python 3.8 to 3.13). The next pool starts a new forkserver.
    """
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if stop is None:
        return
    with contextlib.suppress(OSError, ChildProcessError):
        stop()
