"""`readerd run`: the long-lived daemon — scheduler, signals, sd_notify, single-instance lock.

The main event loop only schedules, pings the watchdog and handles signals. Each
job runs on its own event loop in a worker thread, so a slow SQLite write or a
CPU-heavy extraction never stalls the loop whose liveness the watchdog vouches
for. The database rows are the queue: no job store, nothing pickled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from readerd.config import Settings
from readerd.daemon.sdnotify import Notifier, run_watchdog, watchdog_interval
from readerd.daemon.state import DaemonRecord
from readerd.daemon.threads import WorkerThreads
from readerd.errors import MailError, ReaderdError, StoreError
from readerd.logs import setup_logging
from readerd.store.database import (
    make_engine,
    ping,
    prepare_directory,
    require_current_schema,
    upgrade_database,
)
from readerd.store.lock import InstanceLock

log = logging.getLogger(__name__)
T = TypeVar("T")
DIGEST_GRACE = 12 * 3600  # a digest missed while the machine slept still goes out on wake
WAKEUP_EVERY = 30.0  # timers use the monotonic clock, which stops during suspend


def run_daemon(settings: Settings, stages: frozenset[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT (processing these stages; None: all); 0 after a clean stop."""
    setup_logging(settings.log_level, secrets=settings.secrets())
    from readerd.analyze import make_analyzer
    from readerd.sources import make_source

    make_source(settings)  # a ConfigError here refuses to start, with its message
    make_analyzer(settings)
    prepare_directory(settings.data_dir)  # a DataDirError names the path and the problem
    with InstanceLock(settings.data_dir):
        engine = open_database(settings)
        return asyncio.run(Daemon(settings, engine, Notifier(), stages).main())


def open_database(settings: Settings) -> Engine:
    """Upgrade the schema, then insist it is the one this readerd expects."""
    engine = make_engine(settings)
    try:
        upgrade_database(engine)
    except ReaderdError:
        raise
    except Exception as exc:  # e.g. a revision from a newer readerd
        where = engine.url.render_as_string()
        raise StoreError(f"store: cannot upgrade the database at {where}: {exc}") from None
    require_current_schema(engine)
    return engine


class Daemon:
    """Three fixed jobs (sync, process, digest) on an AsyncIOScheduler, and a clean stop."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        notifier: Notifier,
        stages: frozenset[str] | None = None,
    ) -> None:
        self.settings, self.engine, self.notifier = settings, engine, notifier
        self.stages = stages  # None: every stage
        self.record = DaemonRecord(settings.data_dir)
        # A late run still runs, and several missed runs run once (after a long job or a
        # suspend); the first sync, and the processing after it, runs at start-up.
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        self.scheduler = AsyncIOScheduler(job_defaults=defaults)
        self.threads = WorkerThreads()
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._process_wanted = False
        self._active: list[str] = []  # names of the jobs running now
        self._health_engine = make_engine(settings, write=False)  # never waits for writers

    async def main(self) -> int:
        """Start the jobs, wait for a signal, stop cleanly."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._process_lock = asyncio.Lock()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        self._add_jobs()
        self.scheduler.start()
        self._save_state("running")
        self.notifier.notify("READY=1", f"STATUS={self._idle_status()}")
        log.info("daemon: started (pid %d): %s", os.getpid(), self._describe())
        helpers = [asyncio.create_task(self._wakeup_loop())]
        if interval := watchdog_interval():
            helpers.append(
                asyncio.create_task(run_watchdog(self.notifier, interval, self._database_ok))
            )
        await self._stop.wait()
        clean = await self._drain()  # the watchdog keeps pinging while jobs wind down
        for helper in helpers:
            helper.cancel()
        self.scheduler.shutdown(wait=False)
        self._save_state("stopped")
        log.info("daemon: stopped%s", "" if clean else " (abandoned in-flight work)")
        self.notifier.status("stopped")
        if not clean:  # threads still busy would keep the interpreter alive: leave now
            logging.shutdown()
            os._exit(0)
        await asyncio.sleep(0)  # let the scheduler's shutdown callback run
        return 0

    def _add_jobs(self) -> None:
        s, add, now = self.settings, self.scheduler.add_job, datetime.now().astimezone()
        add(self._sync_job, IntervalTrigger(seconds=s.sync_interval), id="sync", next_run_time=now)
        add(self._process_job, IntervalTrigger(seconds=s.process_interval), id="process")
        if s.digest_to:
            hour, minute = s.digest_time
            # DIGEST_AT in local time (TZ or /etc/localtime); also at start-up and hourly, so
            # a digest missed while powered off goes out, and a failed send is retried
            # (send_scheduled_digest sends nothing before DIGEST_AT and never twice a day).
            at = CronTrigger(hour=hour, minute=minute)
            trigger = OrTrigger([at, IntervalTrigger(hours=1)])
            add(
                self._digest_job,
                trigger,
                id="digest",
                next_run_time=now,
                misfire_grace_time=DIGEST_GRACE,
            )

    def _describe(self) -> str:
        s = self.settings
        digest = (
            f"digest at {s.digest_at} {self.scheduler.timezone}"
            if self.scheduler.get_job("digest")
            else "no digest (READERD_DIGEST_TO unset)"
        )
        order = [name for name in ("fetch", "extract", "analyze") if name in (self.stages or ())]
        stages = f" ({','.join(order)} only)" if order else ""
        return (
            f"database {self.engine.url.render_as_string()}, source {s.source}, "
            f"sync every {s.sync_interval:g}s, process every {s.process_interval:g}s{stages}, "
            f"{digest}"
        )

    # --- stopping ---------------------------------------------------------------

    def request_stop(self) -> None:
        """Signal handler: start no new work, tell running jobs to wind down."""
        if self._stopping:
            log.info("daemon: already stopping")
            return
        self._stopping = True
        log.info("daemon: stop requested; in-flight items get %gs", self.settings.stop_timeout)
        self.notifier.notify("STOPPING=1", "STATUS=stopping")
        if self.scheduler.running:
            self.scheduler.pause()
        self.threads.stop()
        self._stop.set()

    async def _drain(self) -> bool:
        """Wait for running jobs; cancel what outlives the stop timeout. True when all ended."""
        timeout = self.settings.stop_timeout
        grace = min(3.0, timeout / 4)
        pending = {task for task in self._running if not task.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout - grace)
        if pending:
            log.warning(
                "daemon: %d job(s) still busy after %.0fs; cancelling — their items "
                "stay queued for the next start",
                len(pending),
                timeout - grace,
            )
            self.threads.cancel()
            _, pending = await asyncio.wait(pending, timeout=grace)
        return not pending

    # --- jobs -------------------------------------------------------------------

    async def _sync_job(self) -> None:
        """Pull changes from the source, then process whatever is due (even if sync failed)."""
        await self._run_job("sync", self._sync)
        if not self._stopping:
            self._spawn(self._process_job())

    async def _process_job(self) -> None:
        """Process due links; a request during a pass makes that pass run once more."""
        self._process_wanted = True
        if self._process_lock.locked():
            return
        async with self._process_lock:
            while self._process_wanted and not self._stopping:
                self._process_wanted = False
                await self._run_job("process", self._process)

    async def _digest_job(self) -> None:
        """Send the scheduled digest; a MailError is logged and recorded."""
        await self._run_job("digest", self._digest)

    async def _sync(self) -> str:
        from readerd.pipeline import sync_links
        from readerd.store.singleton import singleton

        with singleton(self.engine, "sync") as ours:
            if not ours:
                return "ok: skipped: another readerd on this database is syncing"
            report = await self.threads.run(lambda _stop: sync_links(self.settings, self.engine))
            if report.note:  # imports only, or samples a non-empty library must not get
                return f"ok: {report.note}"
            result = (
                f"ok: {report.new} new, {report.updated} updated, {report.deleted} deleted, "
                f"{report.unchanged} unchanged"
            )
            return result + await self._write_back()

    async def _write_back(self) -> str:
        """The write-back stage after a sync (READERD_WRITEBACK): what it did, or ''."""
        from readerd.errors import ReaderdError
        from readerd.writeback import writeback_stage

        try:
            done = await self.threads.run(lambda _stop: writeback_stage(self.settings, self.engine))
        except ReaderdError as exc:
            log.warning("writeback: %s", exc)
            return f"; write-back failed: {exc}"
        if done is None:
            return ""
        if done.paused:
            return f"; write-back paused: {done.paused}"
        return f"; written back: {done.added} tags added, {done.removed} removed on {done.items}"

    async def _process(self) -> str:
        from readerd.pipeline import process_due

        handled = 0

        def on_item(_link_id: int, _outcome: str) -> None:
            nonlocal handled
            handled += 1
            self.notifier.status(f"processing: {handled} items handled")

        report = await self.threads.run(
            lambda stop: process_due(
                self.settings, self.engine, stop=stop, on_item=on_item, stages=self.stages
            )
        )
        summary = (
            f"{report.done} analysed, {report.skipped_unchanged} unchanged, "
            f"{report.retry} to retry, {report.failed} failed, "
            f"{report.unsupported} unsupported"
        )
        if handled:
            log.info("process: %s", summary)
        if report.llm_stopped:
            return f"error: LLM stage stopped: {report.llm_stopped}; {summary}"
        from readerd.store.passages import refresh_passages

        await asyncio.to_thread(refresh_passages, self.engine)
        if self.settings.use_embeddings:
            return await self._embed(summary)
        return f"ok: {summary}"

    async def _embed(self, summary: str) -> str:
        """The embedding stage after a processing pass: new and changed articles."""
        from readerd.ask.semantic import embed_library
        from readerd.errors import AnalysisError

        try:
            report = await asyncio.to_thread(embed_library, self.settings, self.engine)
        except AnalysisError as exc:
            return f"error: {exc}; {summary}"
        return f"ok: {summary}, {report.embedded} embedded"

    async def _digest(self) -> str:
        from readerd.digest import send_scheduled_digest  # imported late: jinja2, smtplib
        from readerd.store.singleton import singleton

        with singleton(self.engine, "digest") as ours:
            if not ours:
                return "ok: skipped: another readerd on this database sends the digest"
            result = await asyncio.to_thread(send_scheduled_digest, self.settings, self.engine)
        if result.failed or result.errors:
            raise MailError(f"digest: {str(result)[:300]}")  # logged and recorded by _run_job
        return f"ok: {str(result)[:300]}"

    async def _run_job(self, name: str, body: Callable[[], Awaitable[str]]) -> str | None:
        """Run one job body; every failure is logged and recorded, never raised."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        self.record.started(name)
        self._active.append(name)
        self.notifier.status(f"{name} running")
        result: str | None = None
        try:
            result = await body()
        except asyncio.CancelledError:
            result = "error: cancelled while stopping"
        except ReaderdError as exc:
            result = f"error: {exc}"
            log.error("%s failed: %s", name, exc)
        except Exception as exc:  # a bug costs one run, never the daemon
            result = f"error: internal: {exc!r}"
            log.exception("%s failed with an unexpected error", name)
        finally:
            self.record.finished(name, result or "error: ?")
            if task is not None:
                self._running.discard(task)
            self._active.remove(name)
            self._save_state()
            self.notifier.status(self._idle_status())
        return result

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    # --- liveness and state ---------------------------------------------------------

    async def _wakeup_loop(self) -> None:
        while True:  # after a suspend, run what came due now instead of a sleep's length later
            await asyncio.sleep(WAKEUP_EVERY)
            self.scheduler.wakeup()

    def _database_ok(self) -> bool:
        """The watchdog's health check: SELECT 1 through a (read) engine."""
        try:
            ping(self._health_engine)
            return True
        except Exception as exc:
            log.warning("watchdog: database health check failed: %s", exc)
            return False

    def _next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def _idle_status(self) -> str:
        if self._stopping:
            return "stopping"
        runs = [f"{name} {when:%H:%M:%S}" for name, when in self._next_runs().items() if when]
        now = " and ".join(f"{name} running" for name in self._active) or "idle"
        return f"{now}; next {', '.join(runs)}" if runs else now

    def _save_state(self, state: str | None = None) -> None:
        if state is None and self._stopping:
            state = "stopping"
        status = "stopped" if state == "stopped" else self._idle_status()
        self.record.save(status, self._next_runs(), state)
