"""The daemon's state file, and what `readerd status` reads from it.

The daemon writes `daemon-state.json` in the data directory (atomically: a temp
file, fsync, rename) after every job, so status works without touching the
schema, whose migrations belong to the store (store.status reads the database).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from readerd.config import Settings
from readerd.logs import redact
from readerd.results import DaemonSummary
from readerd.store.lock import probe_lock
from readerd.text.times import iso_utc, now_iso

log = logging.getLogger(__name__)
STATE_NAME = "daemon-state.json"


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
        return self.data["jobs"].setdefault(name, {})

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


def daemon_summary(settings: Settings) -> DaemonSummary:
    """Whether a daemon holds the lock, and what its state file says."""
    lock = probe_lock(settings.data_dir)
    state = StateFile(settings.data_dir).load()
    jobs = state.get("jobs", {}) if isinstance(state.get("jobs"), dict) else {}
    if not lock.held:  # a stopped daemon schedules nothing
        jobs = {name: {**job, "next_run": None} for name, job in jobs.items()}
    return DaemonSummary(
        running=lock.held,
        pid=lock.pid if lock.held else None,
        lock=str(lock.path),
        state=state.get("state", "running") if lock.held else "stopped",
        status=state.get("status") if lock.held else None,
        started_at=state.get("started_at"),
        stopped_at=None if lock.held else state.get("stopped_at"),
        jobs=jobs,
    )
