"""Wires the leaves together: sync links from a source, then process every due link.

Each stage reads due rows and writes its result back in one short transaction, so
the database row is the queue and a crash loses at most the items in flight.
Network and model work runs concurrently under separate limits; every write goes
through one writer thread, so writes stay serialised and the event loop never
blocks on a busy database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from readerd import store
from readerd.analyze import Analyzer, OfflineAnalyzer, make_analyzer
from readerd.analyze.breaker import CircuitBreaker
from readerd.config import Settings
from readerd.errors import (
    AnalysisError,
    LeaseLostError,
    LLMOutageError,
    LLMUnavailableError,
    ReaderdError,
    StoreError,
    UnsupportedContentError,
)
from readerd.fetch import fetch_page, make_fetch_client
from readerd.models import Stage, Status, utcnow
from readerd.results import Analysis, ArticleInput, FetchedPage
from readerd.sources import Source, make_source
from readerd.store import leases, usage, views
from readerd.workers.pool import WorkerPool

log = logging.getLogger(__name__)
T = TypeVar("T")
DUE_BATCH = 200
WRITE_BATCH = 100  # writes per transaction, at most (store.save_batch)


@dataclass
class SyncReport:
    source: str
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    cursor: str | None = None
    note: str | None = None  # why nothing was synced (imports only, samples not wanted)


@dataclass
class ProcessReport:
    done: int = 0
    failed: int = 0
    retry: int = 0
    unsupported: int = 0
    skipped_unchanged: int = 0
    extracted: int = 0  # left for an analysing worker (a worker without the analyze stage)
    lost: int = 0  # another worker took them over (this worker's lease had expired)
    llm_stopped: str | None = None  # why the LLM stage stopped for this run
    errors: list[str] = field(default_factory=list)
    # Seconds spent per stage, summed over the items in flight at once: where the time went.
    seconds: dict[str, float] = field(default_factory=dict)


async def sync_links(
    settings: Settings, engine: Engine, source: Source | None = None
) -> SyncReport:
    """Pull what changed since the stored cursor; the cursor moves only with the links."""
    if source is None and (note := _nothing_to_sync(settings, engine)):
        return SyncReport(settings.source, note=note)
    source = source or make_source(settings)
    since = store.get_cursor(engine, source.name)
    try:
        batch = await source.changes(since)
    except ReaderdError as exc:
        store.record_sync_failure(engine, source.name, str(exc))
        raise
    result = f"ok: {len(batch.links)} changed"
    with _database_errors():  # a failed commit leaves links and cursor as they were
        upsert = store.commit_sync(engine, source.name, batch.links, batch.cursor, result)
    log.info(
        "sync: %s: %d new, %d updated, %d deleted",
        source.name,
        upsert.new,
        upsert.updated,
        upsert.deleted,
    )
    return SyncReport(
        source.name, upsert.new, upsert.updated, upsert.deleted, upsert.unchanged, batch.cursor
    )


def _nothing_to_sync(settings: Settings, engine: Engine) -> str | None:
    """Why this sync reads nothing: imports only, or samples the library must not get."""
    if settings.source == "none":
        return "READERD_SOURCE=none: imports only, nothing to sync"
    if settings.quick_start and store.has_links_beyond(engine, "folder"):
        return (
            "no source configured; the bundled samples go only into an empty library. "
            "Set READERD_SOURCE (or READERD_SOURCE=none for imports only)"
        )
    return None


@contextmanager
def _database_errors() -> Iterator[None]:
    """Database failures (disk full, I/O error) as one clear StoreError."""
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(f"store: database error: {exc.orig}") from exc


class Processor:
    """Processes due links with bounded concurrency; one failing item never stops the rest."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        analyzer: Analyzer | None = None,
        stop: asyncio.Event | None = None,
        on_item: Callable[[int, str], None] | None = None,
        stages: frozenset[str] | None = None,
    ) -> None:
        self.settings, self.engine = settings, engine
        # Claims: this worker's name, how long a claim lasts, the stages it takes (None:
        # all). Every write below is fenced by the claim (store/leases.py).
        self.owner = leases.new_owner()
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.stages = stages
        self._held: set[int] = set()  # claimed and not finished: renewed while held
        self._workers = WorkerPool(
            timeout=settings.extract_timeout, memory_mb=settings.extract_memory_mb
        )
        self.analyzer = analyzer or make_analyzer(settings)
        if isinstance(self.analyzer, OfflineAnalyzer) and self.analyzer.workers is None:
            self.analyzer = OfflineAnalyzer(self._workers)  # off this process's GIL
        self.stop = stop or asyncio.Event()
        self.on_item = on_item
        self.report = ProcessReport()
        self._fetch_slots = asyncio.Semaphore(settings.fetch_concurrency)
        # As many articles in analysis as requests may be in flight: more gained nothing
        # measurable (bench/pipeline_bench.py) and would let a broken endpoint take more
        # requests before the stage stops, and a daily budget be overshot by more.
        self._analysis_slots = asyncio.Semaphore(settings.llm_concurrency)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readerd-writer")
        self._llm_stopped = False
        self._breaker = CircuitBreaker()
        self._store_error: StoreError | None = None
        self._llm_resume_at: datetime | None = None  # None: due again at the next run
        self._model_checked = False
        self._model_lock = asyncio.Lock()
        # Articles and analyses wait here for the writer, which commits all that is
        # ready in one transaction; each waiter learns its outcome only after the commit.
        self._ready: list[tuple[store.ArticleWrite | store.AnalysisWrite, asyncio.Future[str]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        with _database_errors(), self._timed("database"):
            return await loop.run_in_executor(self._writer, partial(fn, *args, **kwargs))

    async def _save(self, write: store.ArticleWrite | store.AnalysisWrite) -> str:
        """Store an article or an analysis with whatever else is ready; its content hash."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._ready.append((write, future))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_ready())
        with _database_errors():
            return await future

    async def _settled(self) -> None:
        """Wait until every write handed to the writer so far is committed."""
        while self._ready or (self._committing is not None and not self._committing.done()):
            if self._committing is None or self._committing.done():
                self._committing = asyncio.create_task(self._commit_ready())
            await asyncio.shield(self._committing)

    async def _commit_ready(self) -> None:
        """Commit the ready writes, WRITE_BATCH at a time, until none is left."""
        while self._ready:
            taken, self._ready = self._ready[:WRITE_BATCH], self._ready[WRITE_BATCH:]
            try:
                written = await self._write(store.save_batch, self.engine, [w for w, _ in taken])
            except BaseException as exc:  # the whole batch failed: every waiter hears it
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), outcome in zip(taken, written, strict=True):
                if future.done():  # its worker was cancelled (a stop): nothing to tell
                    continue
                if outcome.error is not None:
                    future.set_exception(outcome.error)
                else:
                    future.set_result(outcome.content_hash or "")

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            spent = time.monotonic() - started
            self.report.seconds[stage] = self.report.seconds.get(stage, 0.0) + spent

    async def run(self) -> ProcessReport:
        """Process every due link until none is left (or stop is set)."""
        # A task carries its link through every stage; twice the fetch slots in tasks keeps
        # the fetch slots full while other links extract, analyse or wait for their commit.
        workers = 2 * self.settings.fetch_concurrency + self.settings.llm_concurrency
        queue: asyncio.Queue[store.DueLink] = asyncio.Queue(maxsize=workers * 2)
        seen: set[int] = set()
        await self._write(leases.release_dead, self.engine)
        self._workers.expect(await self._write(views.count_due, self.engine))
        async with make_fetch_client(self.settings) as client:
            tasks = [asyncio.create_task(self._work(queue, client)) for _ in range(workers)]
            tasks.append(asyncio.create_task(self._renew_leases()))
            try:
                await self._feed(queue, seen, claim=min(DUE_BATCH, workers * 2))
                await queue.join()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._give_back()
                self._writer.shutdown(wait=True)
                self._workers.close()
        if self._store_error is not None:
            raise self._store_error  # the run stopped: the database takes no writes
        return self.report

    async def _feed(self, queue: asyncio.Queue[store.DueLink], seen: set[int], claim: int) -> None:
        """Claim due links a few at a time (other workers get their share) and queue them."""
        while not self.stop.is_set() and self._store_error is None:
            batch = await self._write(
                leases.claim_due,
                self.engine,
                self.owner,
                claim,
                lease=self.lease,
                stages=self.stages,
                exclude=seen,
            )
            if not batch:
                return
            self._held.update(due.id for due in batch)
            for due in batch:
                if self.stop.is_set() or self._store_error is not None:
                    return
                seen.add(due.id)
                await queue.put(due)

    async def _give_back(self) -> None:
        """Release the claims a stopped pass still holds, so the next pass takes them at once."""
        with contextlib.suppress(Exception):  # a broken database: the leases simply expire
            await self._write(leases.release_owner, self.engine, self.owner)

    async def _renew_leases(self) -> None:
        """Keep the claims alive while their links wait or work (an LLM call takes minutes)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            if self._held:
                held = set(self._held)
                await self._write(leases.renew, self.engine, self.owner, held, self.lease)

    async def _work(self, queue: asyncio.Queue[store.DueLink], client: httpx.AsyncClient) -> None:
        while True:
            due = await queue.get()
            try:
                if self._store_error is None:  # else leave it pending: nothing can be written
                    outcome = await self._process_one(due, client)
                    if self.on_item:
                        self.on_item(due.id, outcome)
            except LeaseLostError as exc:  # another worker finishes it: write nothing
                log.warning("%s", exc)
                self.report.lost += 1
            except StoreError as exc:  # disk full, I/O error: stop the run, lose nothing
                if self._store_error is None:
                    self._store_error = exc
                    log.error("%s — processing stops; the items stay queued", exc)
            finally:
                self._held.discard(due.id)
                queue.task_done()

    async def _process_one(self, due: store.DueLink, client: httpx.AsyncClient) -> str:
        stage = "fetch"
        try:
            if due.stage in (Stage.FETCH, Stage.EXTRACT):
                with self._timed("fetch"):
                    page = await self._fetch(due, client)
                stage = "extract"
                with self._timed("extract"):
                    extracted = await self._workers.extract(page)
                await self._save(store.ArticleWrite(due.id, page, extracted, owner=self.owner))
                if self.stages is not None and Stage.ANALYZE not in self.stages:
                    await self._write(leases.release, self.engine, self.owner, [due.id])
                    self.report.extracted += 1
                    return "extracted"  # an analysing worker takes it from here
            stage = "analyze"
            return await self._analyze(due.id)
        except (StoreError, LeaseLostError):
            raise  # not the item's fault: recording a failure would fail the same way
        except UnsupportedContentError as exc:
            await self._fail(due.id, str(exc), retryable=False, final=Status.UNSUPPORTED)
            self.report.unsupported += 1
            return "unsupported"
        except ReaderdError as exc:
            if exc.retry_after:  # rate limited: come back later without spending an attempt
                until = utcnow() + timedelta(seconds=exc.retry_after)
                await self._write(store.defer, self.engine, due.id, until, str(exc), self.owner)
                self.report.retry += 1
                return "deferred"
            return await self._fail(due.id, str(exc), retryable=exc.retryable)
        except Exception as exc:  # a bug must cost one item, never the run
            log.exception("%s: unexpected error on link %s", stage, due.id)
            return await self._fail(due.id, f"{stage}: internal error: {exc!r}", retryable=True)

    async def _fetch(self, due: store.DueLink, client: httpx.AsyncClient) -> FetchedPage:
        if due.provided_content is not None:
            content_type = (due.provided_content_type or "text/html").split(";")[0].strip()
            return FetchedPage(due.url, 200, content_type.lower(), due.provided_content)
        async with self._fetch_slots:
            return await fetch_page(client, due.url, self.settings)

    async def _analyze(self, link_id: int) -> str:
        article = await self._write(store.article_for_analysis, self.engine, link_id)
        if article is None:
            raise AnalysisError(f"analyze: link {link_id} has no extracted article")
        analyzer = self.analyzer
        if await self._write(
            store.analysis_is_current,
            self.engine,
            link_id,
            analyzer.model,
            analyzer.prompt_version,
            article.content_hash,
        ):
            await self._write(store.mark_done, self.engine, link_id, self.owner)
            self.report.skipped_unchanged += 1
            return "unchanged"
        if not await self._llm_ready():
            return await self._wait_for_llm(link_id)
        vocabulary = await self._write(store.vocabulary, self.engine, article.title, article.text)
        request = ArticleInput(
            url=article.url,
            title=article.title,
            text=article.text,
            language=article.language,
            vocabulary=tuple(vocabulary),
            summary_language=self.settings.summary_language,
        )
        waiting = time.monotonic()
        async with self._analysis_slots:
            self.report.seconds["analyze wait"] = (
                self.report.seconds.get("analyze wait", 0.0) + time.monotonic() - waiting
            )
            if not await self._llm_ready():  # the budget may have run out while this one waited
                return await self._wait_for_llm(link_id)
            with self._timed("analyze"):
                analysis = await self._run_analyzer(link_id, request)
        await self._save(
            store.AnalysisWrite(link_id, analysis, article.content_hash, owner=self.owner)
        )
        self.report.done += 1
        return "done"

    async def _run_analyzer(self, link_id: int, request: ArticleInput) -> Analysis:
        """The analysis; a failure logs its LLM requests, an unusable endpoint stops the stage."""
        try:
            analysis = await self.analyzer.analyze(request)
        except AnalysisError as exc:
            await self._write(store.log_llm_calls, self.engine, link_id, exc.calls)
            if isinstance(exc, LLMUnavailableError):
                self._stop_llm(str(exc))
            elif isinstance(exc, LLMOutageError) and (reason := self._breaker.failure(str(exc))):
                self._stop_llm(reason)  # the endpoint is down: stop paying timeouts per item
            raise
        self._breaker.success()
        return analysis

    async def _llm_ready(self) -> bool:
        """False once the LLM stage has stopped: budget spent, model missing, endpoint down."""
        if self._llm_stopped or self.analyzer.name == "offline":
            return not self._llm_stopped
        budget = self.settings.llm_daily_token_budget
        if budget:
            await self._settled()  # the analyses still waiting for the writer count too
            used = await self._write(usage.tokens_today, self.engine)
            if used >= budget:
                reason = (
                    f"llm: daily token budget spent ({used} of {budget} tokens today); "
                    "analysis resumes tomorrow"
                )
                self._stop_llm(reason, resume_at=usage.next_day_start())
                return False
        await self._check_model()
        return not self._llm_stopped

    async def _check_model(self) -> None:
        """Once per run, before the first LLM request: does the endpoint serve the model?"""
        async with self._model_lock:
            if not self._model_checked:
                problem = await self.analyzer.check_model()
                self._model_checked = True
                if problem:
                    self._stop_llm(problem)

    def _stop_llm(self, reason: str, resume_at: datetime | None = None) -> None:
        """Stop the LLM stage for this run (until resume_at for the items); fetching goes on."""
        if self._llm_stopped:
            return
        self._llm_stopped, self.report.llm_stopped = True, reason
        self._llm_resume_at = resume_at
        log.error("%s — the LLM stage stops for this run; fetching goes on", reason)

    async def _wait_for_llm(self, link_id: int) -> str:
        """Leave an extracted link pending, without spending an attempt, with the reason."""
        until = self._llm_resume_at or utcnow()
        reason = f"analyze: waiting: {self.report.llm_stopped}"
        await self._write(store.defer, self.engine, link_id, until, reason, self.owner)
        self.report.retry += 1
        return "deferred"

    async def _fail(
        self, link_id: int, message: str, *, retryable: bool, final: Status = Status.FAILED
    ) -> str:
        log.warning("link %s: %s", link_id, message)
        self.report.errors.append(f"{link_id}: {message}")
        status = await self._write(
            store.record_failure,
            self.engine,
            link_id,
            message,
            retryable=retryable,
            max_attempts=self.settings.max_attempts,
            retry_base_seconds=self.settings.retry_base_seconds,
            status_if_final=final,
            owner=self.owner,
        )
        if status == Status.PENDING:
            self.report.retry += 1
            return "retry"
        if final == Status.FAILED:
            self.report.failed += 1
        return str(status)


async def process_due(
    settings: Settings,
    engine: Engine,
    analyzer: Analyzer | None = None,
    stop: asyncio.Event | None = None,
    on_item: Callable[[int, str], None] | None = None,
    stages: frozenset[str] | None = None,
) -> ProcessReport:
    """Process every link that is due now (at these stages; None: all)."""
    return await Processor(settings, engine, analyzer, stop, on_item, stages).run()
