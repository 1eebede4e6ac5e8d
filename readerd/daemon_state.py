"""What `readerd status` shows: the daemon's state file plus a read-only look at the database.

The daemon writes `daemon-state.json` in the data directory (atomically: a temp
file, fsync, rename) after every job, so status works without touching the
schema, whose migrations belong to the store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.engine.url import make_url
from sqlmodel import Session, col, select

from readerd.config import Settings
from readerd.lock import probe_lock
from readerd.logs import redact
from readerd.models import Link, LLMCallLog, SourceState

log = logging.getLogger(__name__)
STATE_NAME = "daemon-state.json"
LAST_ERRORS = 5


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a Z."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_utc(value: datetime | None) -> str | None:
    """A datetime (naive means UTC) as ISO 8601 UTC with a Z; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:  # the database stores naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class StateFile:
    """The daemon's JSON state file, replaced atomically on every save."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / STATE_NAME

    def load(self) -> dict[str, Any]:
        """The saved state, or {} when missing or unreadable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        """Write `data`: readers see the old file or the new one, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2, sort_keys=True, default=str)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class DaemonRecord:
    """What the running daemon tells `readerd status`: its state, each job's last run, next runs."""

    def __init__(self, data_dir: Path) -> None:
        self.file = StateFile(data_dir)
        self.data: dict[str, Any] = {"pid": os.getpid(), "started_at": now_iso(), "jobs": {}}

    def job(self, name: str) -> dict[str, Any]:
        """The record of one job (created on first use)."""
        return self.data["jobs"].setdefault(name, {})  # type: ignore[no-any-return]

    def started(self, name: str) -> None:
        """Note that a job run began."""
        self.job(name)["last_started"] = now_iso()

    def finished(self, name: str, result: str) -> None:
        """Note how a job run ended ("ok: …" or "error: …"), secrets redacted."""
        self.job(name).update(
            last_finished=now_iso(), last_result=redact(result)[:500], ok=result.startswith("ok")
        )

    def save(
        self, status: str, next_runs: dict[str, datetime | None], state: str | None = None
    ) -> None:
        """Write the state file; a failure (full disk) is logged, never raised."""
        if state and state != self.data.get("state"):
            self.data.update({"state": state, f"{state}_at": now_iso()})
        for name, when in next_runs.items():
            self.job(name)["next_run"] = iso_utc(when)
        self.data.update(updated_at=now_iso(), status=status)
        try:
            self.file.save(self.data)
        except OSError as exc:
            log.warning("daemon: cannot write %s: %s", self.file.path, exc)


def database_summary(engine: Engine) -> dict[str, Any]:
    """Items per stage and status, sources' last syncs, recent errors, LLM tokens today."""
    today = datetime.combine(datetime.now(UTC).date(), time.min)  # naive UTC, like the rows
    with Session(engine) as session:
        rows = session.exec(
            select(Link.stage, Link.status, func.count())
            .where(col(Link.deleted).is_(False))
            .group_by(col(Link.stage), col(Link.status))
        ).all()
        sources = session.exec(select(SourceState).order_by(col(SourceState.source))).all()
        errors = session.exec(
            select(Link)
            .where(col(Link.last_error).is_not(None), col(Link.deleted).is_(False))
            .order_by(
                func.coalesce(Link.processed_at, Link.next_attempt_at, Link.created_at).desc()
            )
            .limit(LAST_ERRORS)
        ).all()
        tokens = session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(LLMCallLog.tokens_in), 0),
                func.coalesce(func.sum(LLMCallLog.tokens_out), 0),
            ).where(col(LLMCallLog.created_at) >= today)
        ).one()
    return {
        "items": _items(rows),
        "sources": [_source(s) for s in sources],
        "last_errors": [_error(link) for link in errors],
        "llm_today": {
            "since": iso_utc(today),
            "calls": tokens[0],
            "tokens_in": tokens[1],
            "tokens_out": tokens[2],
        },
    }


def _items(rows: list[Any]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_stage: dict[str, dict[str, int]] = {}
    for stage, status, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_stage.setdefault(stage, {})[status] = count
    return {"total": sum(by_status.values()), "by_status": by_status, "by_stage": by_stage}


def _source(state: SourceState) -> dict[str, Any]:
    result = state.last_result or ""
    return {
        "source": state.source,
        "last_sync_at": iso_utc(state.last_sync_at),
        "ok": not result.startswith("error"),
        "last_result": redact(result) or None,
    }


def _error(link: Link) -> dict[str, Any]:
    return {
        "id": link.id,
        "url": redact(link.url),
        "status": link.status,
        "stage": link.stage,
        "attempts": link.attempts,
        "last_error": redact(link.last_error or ""),
        "next_attempt_at": iso_utc(link.next_attempt_at),
    }


def sqlite_path(settings: Settings) -> Path | None:
    """The database file for SQLite URLs (None for other databases or in-memory)."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def daemon_summary(settings: Settings) -> dict[str, Any]:
    """Whether a daemon holds the lock, and what its state file says."""
    lock = probe_lock(settings.data_dir)
    state = StateFile(settings.data_dir).load()
    jobs = state.get("jobs", {}) if isinstance(state.get("jobs"), dict) else {}
    if not lock.held:  # a stopped daemon schedules nothing
        jobs = {name: {**job, "next_run": None} for name, job in jobs.items()}
    return {
        "running": lock.held,
        "pid": lock.pid if lock.held else None,
        "lock": str(lock.path),
        "state": state.get("state", "running") if lock.held else "stopped",
        "status": state.get("status") if lock.held else None,
        "started_at": state.get("started_at"),
        "stopped_at": None if lock.held else state.get("stopped_at"),
        "jobs": jobs,
    }
