"""The write-back stage: readerd's tags onto the items at the source, never the user's.

plan → queue → write, like the other stages: the plan (store.writeback.plan) is the
per-item diff and is all that `--dry-run` shows; queueing turns it into ledger rows;
writing sends each due item once per cycle through the service's Writer and records
what came of it. A 401/403 pauses write-back for the source, a 429 holds it until the
server's Retry-After, a 404 marks the item gone, anything else waits with a backoff.
A run with nothing queued makes no request at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from readerd.config import Settings
from readerd.errors import ConfigError
from readerd.models import utcnow
from readerd.sources import SERVICES, required_settings
from readerd.sources.karakeep_writer import KarakeepWriter
from readerd.sources.linkding_writer import LinkdingWriter
from readerd.sources.readeck_writer import ReadeckWriter
from readerd.sources.service_http import ClientOptions
from readerd.sources.wallabag_writer import WallabagWriter
from readerd.sources.writeback_http import (
    DEFAULT_RETRY_AFTER_S,
    RemoteGone,
    WriteError,
    Writer,
    WriteRateLimited,
    WriteRefused,
)
from readerd.store import sync as store_sync
from readerd.store import writeback as ledger
from readerd.store.writeback import ItemPlan
from readerd.text.times import iso_utc

log = logging.getLogger(__name__)

WRITERS = ("linkding", "wallabag", "karakeep", "readeck")  # the services it is built for


@dataclass
class WritebackReport:
    source: str
    items: int = 0  # items written
    added: int = 0
    removed: int = 0
    failed: int = 0  # items that failed this run (to be retried, or given up)
    resynced: int = 0  # items changed at the source since the sync: synced, written next cycle
    gone: int = 0
    left: int = 0  # items not tried this run (paused, held back)
    requests: int = 0
    paused: str | None = None  # why write-back is paused for this source
    held_until: str | None = None  # the server's Retry-After, ISO UTC
    notes: list[str] = field(default_factory=list)


def make_writer(settings: Settings) -> Writer:
    """The Writer for READERD_SOURCE, from the sync's own settings; ConfigError if it has none."""
    name = settings.source
    if name not in WRITERS:
        raise ConfigError(
            f"writeback: not available for READERD_SOURCE={name} (only for "
            + ", ".join(WRITERS)
            + ")"
        )
    service = SERVICES[name]
    values = required_settings(settings, *service.fields)
    options = ClientOptions(timeout=settings.fetch_timeout, user_agent=settings.user_agent)
    args = [values[field] for field in service.fields]
    rate = settings.writeback_rate
    if name == "linkding":
        return LinkdingWriter(*args, rate=rate, options=options)
    if name == "wallabag":
        return WallabagWriter(*args, rate=rate, options=options)
    if name == "karakeep":
        return KarakeepWriter(*args, rate=rate, options=options)
    return ReadeckWriter(*args, rate=rate, options=options)


def plan(engine: Engine, writer: Writer) -> list[ItemPlan]:
    """The per-item diff of the next write-back; nothing is written anywhere."""
    return ledger.plan(engine, writer.name, writer.normalise)


async def write_back(engine: Engine, writer: Writer, *, resume: bool = False) -> WritebackReport:
    """One write-back cycle for the writer's source. `resume`: a paused source is tried again.

    The daemon passes resume=False, so a refused token stays paused until the user runs
    `readerd writeback`; a Retry-After is honoured either way.
    """
    source = writer.name
    report = WritebackReport(source)
    ledger.queue(engine, source, plan(engine, writer))
    items = ledger.due(engine, source)
    state = ledger.source_state(engine, source)
    if state.paused and not resume:
        report.paused, report.left = state.paused, len(items)
        return report
    if state.not_before and state.not_before > utcnow():
        report.held_until, report.left = iso_utc(state.not_before), len(items)
        ledger.set_source_state(engine, source, not_before=state.not_before)
        return report
    if not items:
        ledger.set_source_state(engine, source, result="ok: nothing to write")
        return report
    async with writer:
        for index, item in enumerate(items):
            try:
                await _write_item(engine, writer, item, report)
            except WriteRefused as exc:
                report.paused, report.left = str(exc), len(items) - index
                break
            except WriteRateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER_S
                until = utcnow() + timedelta(seconds=wait)
                report.held_until, report.left = iso_utc(until), len(items) - index
                ledger.set_source_state(engine, source, not_before=until, result=str(exc))
                report.requests = writer.requests
                return report
            except RemoteGone:
                ledger.record_gone(engine, source, item.remote_id)
                report.gone += 1
            except WriteError as exc:
                ledger.record_failure(
                    engine, source, item.remote_id, str(exc), final=not exc.retryable
                )
                report.failed += 1
                report.notes.append(str(exc))
        report.requests = writer.requests
    result = f"paused: {report.paused}" if report.paused else _summary(report)
    ledger.set_source_state(engine, source, paused=report.paused, result=result)
    return report


async def _write_item(
    engine: Engine, writer: Writer, item: ledger.DueItem, report: WritebackReport
) -> None:
    current = await writer.get(item.remote_id)
    if writer.checks_modified and current.modified != item.synced_modified:
        # The user changed it since the sync: take their change first, write next cycle.
        if current.saved is not None:
            store_sync.import_links(engine, [current.saved])
        ledger.record_note(
            engine,
            writer.name,
            item.remote_id,
            f"{writer.name}: changed at the source since the last sync: synced again, "
            "written next cycle",
        )
        report.resynced += 1
        return
    add, remove = item.add, item.remove
    if not writer.checks_modified:
        # No modification time to trust: the item as it is now decides (a tag the user
        # removed is a tombstone, one they added is theirs).
        add, remove = ledger.refresh(
            engine, writer.name, item.remote_id, current.tags, current.human
        )
        if not add and not remove:
            return
    ledger.mark_sent(engine, writer.name, item.remote_id)
    after = await writer.write_tags(item.remote_id, current, add, remove)
    added, removed = ledger.record_written(
        engine, writer.name, item.remote_id, after.tags, after.modified
    )
    report.items += 1
    report.added += added
    report.removed += removed


def _summary(report: WritebackReport) -> str:
    return (
        f"ok: {report.items} written, {report.added} added, {report.removed} removed, "
        f"{report.failed} failed"
    )


async def archive(engine: Engine, writer: Writer, link_id: int) -> str:
    """Archive one link at its source, on the user's explicit request; the line to print.

    Raises ConfigError for a link readerd does not have or that comes from another source,
    and the writer's WriteError when the service refuses.
    """
    target = ledger.archive_target(engine, link_id)
    if target is None:
        raise ConfigError(f"archive: no link with id {link_id} (see `readerd list`)")
    source, remote_id, title = target
    if source != writer.name:
        raise ConfigError(
            f"archive: link {link_id} comes from {source}, not READERD_SOURCE={writer.name}"
        )
    async with writer:
        await writer.archive(remote_id)
    ledger.mark_archived(engine, link_id)
    return f'archived in {source}: {link_id} "{title}"'


async def writeback_stage(settings: Settings, engine: Engine) -> WritebackReport | None:
    """The daemon's write-back stage, after a sync: None when READERD_WRITEBACK=off.

    A paused source stays paused here (only `readerd writeback` tries it again).
    """
    if settings.writeback == "off":
        return None
    return await write_back(engine, make_writer(settings), resume=False)
