"""`readerd digest`: preview, send and list the daily digest e-mail."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from readerd.cli import console, context
from readerd.errors import ConfigError

if TYPE_CHECKING:
    from readerd.results import DigestRow

HELP = (
    "Preview, send or list the daily digest e-mail.\n\n"
    "The digest holds the articles analysed since the last digest, grouped by tag, with "
    "summaries, key points and reading times; beyond READERD_DIGEST_MAX_ITEMS the rest wait "
    "for the next one. The daemon sends it every day at READERD_DIGEST_AT.\n\n"
    "Sending needs READERD_SMTP_HOST, READERD_DIGEST_FROM and READERD_DIGEST_TO, plus "
    "READERD_SMTP_USER and READERD_SMTP_PASSWORD when the server wants a login.\n\n"
    "\b\nExamples:\n"
    "  readerd digest --preview                 print the next digest\n"
    "  readerd digest --preview --out /tmp/d    write digest.html, digest.txt\n"
    "  readerd digest --send                    send today's digest now\n"
    "  readerd digest --send --date 2026-11-21  send or resend that day's\n"
    "  readerd digest --list --json             past digests, their status\n"
)

SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="WHEN",
        help="Only articles analysed after WHEN: 2026-11-20, 2026-11-20T18:00, 36h or 7d. "
        "Default: everything not in an earlier digest.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `digest` command to the app."""
    app.command("digest", help=HELP, no_args_is_help=True)(digest)


def digest(
    preview: Annotated[
        bool,
        typer.Option(
            "--preview", help="Render the next digest; send nothing, write nothing to the outbox."
        ),
    ] = False,
    send: Annotated[
        bool,
        typer.Option(
            "--send", help="Queue the date's digest if needed and send everything due now."
        ),
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="Show past digests and their status.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            file_okay=False,
            help="With --preview: write digest.html and digest.txt into DIR.",
        ),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="The digest's date (default: today)."),
    ] = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option(min=1, help="With --list: at most this many.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="With --list: print JSON.")] = False,
) -> None:
    """Preview, send or list the daily digest e-mail."""
    if sum((preview, send, list_)) != 1:
        raise typer.BadParameter("choose exactly one of --preview, --send, --list")
    if list_:
        _list(limit, as_json)
    elif preview:
        _preview(_date(day), _since(since), out)
    else:
        _send(_date(day), _since(since))


def _preview(day: date, since: datetime | None, out: Path | None) -> None:
    from readerd.digest import preview_digest

    settings = context.settings()
    rendered = preview_digest(settings, context.engine(settings, write=False), day=day, since=since)
    if out is None:
        sys.stdout.write(f"Subject: {rendered.subject}\n\n{rendered.text}")
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "digest.html").write_text(rendered.html, encoding="utf-8")
    (out / "digest.txt").write_text(rendered.text, encoding="utf-8")
    console.out.print(
        f"wrote {out / 'digest.html'} and {out / 'digest.txt'}: {rendered.subject}",
        markup=False,
        soft_wrap=True,  # a path broken across lines cannot be copied
    )


def _send(day: date, since: datetime | None) -> None:
    from readerd.digest import send_digest
    from readerd.digest.send import SmtpMailer, missing_settings

    settings = context.settings()
    if missing := missing_settings(settings):
        raise ConfigError(f"digest: to send e-mail, set {', '.join(missing)}")
    SmtpMailer(settings)  # contradictory settings fail here, before anything is queued
    result = send_digest(settings, context.engine(settings, upgrade=True), day=day, since=since)
    line = f"digest {day.isoformat()}: {result.queued} queued, {result.sent} sent"
    console.out.print(line + (f", {result.failed} failed" if result.failed else ""), markup=False)
    if result.skipped:
        console.out.print(result.skipped, markup=False)
    for error in result.errors:
        console.print_error(error)
    if result.errors:
        raise typer.Exit(1)


def _list(limit: int, as_json: bool) -> None:
    from readerd.store.outbox import list_digests

    settings = context.settings()
    rows = list_digests(context.engine(settings, write=False), limit=limit)
    if as_json:
        console.print_json(rows)
    else:
        _print_digests(rows)


def _print_digests(rows: Sequence[DigestRow]) -> None:
    if not rows:
        console.out.print("No digests yet.")
        return
    table = Table(pad_edge=False)
    for name in ("date", "recipient", "status", "items", "attempts", "when / why"):
        table.add_column(name, overflow="fold", max_width=50 if name == "when / why" else None)
    for row in rows:
        items = f"{row['items']}" + (f" (+{row['more']})" if row["more"] else "")
        note = (
            row["sent_at"]
            if row["status"] == "sent"
            else (row["last_error"] or row["next_attempt_at"] or "")
        )
        table.add_row(
            row["date"], row["recipient"], row["status"], items, str(row["attempts"]), note or ""
        )
    console.out.print(table)


def _date(value: str | None) -> date:
    if value is None:
        return datetime.now().astimezone().date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--date must be YYYY-MM-DD, not {value!r}") from None


def _since(value: str | None) -> datetime | None:
    """WHEN as naive UTC (how the database stores times); local time when no zone is given."""
    if value is None:
        return None
    from readerd.models import utcnow

    if match := re.fullmatch(r"\s*(\d+)\s*([hd])\s*", value):
        amount, unit = int(match[1]), match[2]
        delta = timedelta(hours=amount) if unit == "h" else timedelta(days=amount)
        return utcnow() - delta
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--since must be a date, an ISO time, or like 36h / 7d, not {value!r}"
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None)  # a naive WHEN is taken as local time
