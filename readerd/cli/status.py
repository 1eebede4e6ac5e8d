"""`readerd status` (is the daemon running, what did it do, what is queued) and `readerd doctor`."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from readerd.cli import console, context
from readerd.errors import ReaderdError
from readerd.logs import redact

if TYPE_CHECKING:
    from readerd.config import Settings
    from readerd.results import RecentError, StatusReport

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def status_report(settings: Settings) -> StatusReport:
    """Everything `readerd status` shows, as one JSON-ready dict."""
    from readerd.daemon.state import daemon_summary
    from readerd.results import DatabaseState, StatusReport
    from readerd.store.database import make_engine, require_current_schema, sqlite_path
    from readerd.store.status import database_summary

    database = DatabaseState(url=redact(settings.db_url), error=None)
    report = StatusReport(daemon=daemon_summary(settings), database=database)
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        from readerd.store.database import directory_problem

        problem = directory_problem(path.parent)
        database["error"] = (
            f"cannot use data directory {path.parent}: {problem}"
            if problem
            else f"{path} does not exist yet (`readerd db upgrade` creates it)"
        )
        return report
    try:
        engine = make_engine(settings, write=False)
        require_current_schema(engine)
        from readerd.store.writeback import status as writeback_status

        summary = database_summary(engine)
        report["writeback"] = writeback_status(engine)
        report["items"], report["sources"] = summary["items"], summary["sources"]
        report["last_errors"], report["llm_today"] = summary["last_errors"], summary["llm_today"]
    except ReaderdError as exc:
        database["error"] = redact(str(exc))
    except Exception as exc:  # unreadable file, server down: status still reports the daemon
        database["error"] = redact(f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")
    return report


def print_status(report: StatusReport) -> None:
    """The status report for people."""
    say = partial(console.out.print, markup=False, soft_wrap=True)
    daemon = report["daemon"]
    if daemon["running"]:
        say(
            f"daemon: running (pid {daemon['pid']}) since {daemon['started_at']}: "
            f"{daemon['status'] or daemon['state']}"
        )
    elif not daemon["started_at"]:
        say("daemon: never started (`readerd run`, or the systemd unit, starts it)")
    else:
        say(f"daemon: not running (last stopped {daemon['stopped_at'] or 'unknown'})")
    for name, job in sorted(daemon["jobs"].items()):
        say(
            f"  {name}: last {job.get('last_finished') or 'never'} "
            f"({job.get('last_result') or '-'}); next {job.get('next_run') or '-'}"
        )
    database = report["database"]
    if database["error"]:
        say(f"database {database['url']}: {database['error']}")
        return
    for source in report["sources"]:
        say(
            f"source {source['source']}: last sync {source['last_sync_at'] or 'never'} "
            f"({source['last_result'] or '-'})"
        )
    items = report["items"]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(items["by_status"].items()))
    say(f"items: {items['total']} ({counts or 'none yet'})")
    for stage, statuses in sorted(items["by_stage"].items()):
        say(f"  stage {stage}: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    if report["last_errors"]:
        say("last errors:")
    for error in report["last_errors"]:
        say(
            f"  #{error['id']} {error['status']} at {error['stage']} "
            f"(attempt {error['attempts']}{_next_try(error)}): {error['last_error']}"
        )
    for row in report.get("writeback", []):
        say(writeback_line(row))
    llm = report["llm_today"]
    say(f"LLM today: {llm['calls']} calls, {llm['tokens_in']} tokens in, {llm['tokens_out']} out")


def writeback_line(row: dict[str, object]) -> str:
    """One source's write-back state: tags pending, done, failed; paused or held, and why."""
    line = (
        f"write-back {row['source']}: {row['pending']} pending, {row['done']} done, "
        f"{row['failed']} failed, {row['tombstones']} removed by you"
    )
    if row.get("paused"):
        line += f"; paused: {row['paused']} (`readerd writeback` tries again)"
    elif row.get("not_before"):
        line += f"; held back until {row['not_before']} (the server's Retry-After)"
    if row.get("last_error"):
        line += f"; last error: {row['last_error']}"
    return line


def _next_try(error: RecentError) -> str:
    nxt = error.get("next_attempt_at")
    return f", next try {console.when(nxt)}" if nxt and error["status"] == "pending" else ""


def status(as_json: JsonOption = False) -> None:
    """Daemon running? Last sync, items per stage, last errors, next runs, LLM tokens today."""

    report = status_report(context.settings())
    console.print_json(report) if as_json else print_status(report)


def doctor() -> None:
    """Check config, database, source, LLM endpoint and SMTP login; exit 1 if any check fails."""
    from readerd.cli.doctor import run_checks  # imported late: httpx, smtplib, the sources

    failed = False
    for outcome in run_checks():
        console.out.print(redact(outcome.line()), markup=False, soft_wrap=True)
        failed = failed or outcome.state == "FAIL"
    if failed:
        # SystemExit, not typer.Exit: main() runs the app with standalone_mode=False,
        # where a typer.Exit code is returned, and main() does not pass it on.
        raise SystemExit(1)


def register(app: typer.Typer) -> None:
    """Add `status` and `doctor` to the readerd app."""
    app.command()(status)
    app.command()(doctor)
