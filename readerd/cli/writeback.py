"""`readerd writeback`: readerd's tags written to the source, with --dry-run to see the diff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from readerd import exit_codes
from readerd.cli import console, context

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from readerd.store.writeback import ItemPlan
    from readerd.writeback import WritebackReport

HELP = (
    "Write readerd's tags to your read-later service, next to your own tags.\n\n"
    "Opt-in: READERD_WRITEBACK=tags (or tags+archive). Only good tags are written: the "
    "analyser's, from your vocabulary (tags on at least two links), at most 5 per item, spelt "
    "the way the service spells them. Your own tags are never touched; a tag of readerd's "
    "that you remove at the service is never added again. --dry-run prints the per-item "
    "diff and writes nothing (it works with READERD_WRITEBACK=off too). Running it again "
    "when nothing changed makes no request.\n\n"
    "\b\nExamples:\n"
    "  readerd writeback --dry-run      what would be written\n"
    "  readerd writeback                write it\n"
)


ARCHIVE_HELP = (
    "Archive link ID at your read-later service (and in readerd's library).\n\n"
    "Needs READERD_WRITEBACK=tags+archive: readerd archives only when you ask, never by "
    "inference.\n\n"
    "\b\nExample:\n"
    "  readerd archive 12\n"
)


def register(app: typer.Typer) -> None:
    """Add the `writeback` and `archive` commands to the app."""
    app.command("writeback", help=HELP, short_help="Write readerd's tags to the source.")(writeback)
    app.command("archive", help=ARCHIVE_HELP, short_help="Archive a link at the source.")(archive)


def archive(link_id: Annotated[int, typer.Argument(metavar="ID", help="The link's id.")]) -> None:
    import asyncio

    from readerd.errors import ConfigError
    from readerd.sources.writeback_http import WriteError, WriteRateLimited, WriteRefused
    from readerd.writeback import archive as archive_link
    from readerd.writeback import make_writer

    settings = context.settings()
    if settings.writeback != "tags+archive":
        raise ConfigError(
            f"archive: READERD_WRITEBACK={settings.writeback}; set "
            "READERD_WRITEBACK=tags+archive to let readerd archive at the source"
        )
    writer = make_writer(settings)
    engine = context.engine(settings, upgrade=True)
    try:
        line = asyncio.run(archive_link(engine, writer, link_id))
    except WriteRateLimited as exc:
        wait = f" {exc.retry_after:g} s" if exc.retry_after is not None else ""
        console.print_error(f"{exc} (the server asked to wait{wait}; try again then)")
        raise typer.Exit(exit_codes.ITEMS_FAILED) from None
    except WriteRefused as exc:
        console.print_error(str(exc))
        raise typer.Exit(exit_codes.STAGE_STOPPED) from None
    except WriteError as exc:
        console.print_error(str(exc))
        raise typer.Exit(exit_codes.ITEMS_FAILED) from None
    console.out.print(line, markup=False, soft_wrap=True)


def writeback(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the per-item diff; write nothing.")
    ] = False,
    show_status: Annotated[
        bool,
        typer.Option("--status", help="Per source: tags pending, done, failed; paused or not."),
    ] = False,
) -> None:
    import asyncio

    from readerd.errors import ConfigError
    from readerd.writeback import make_writer, plan, write_back

    settings = context.settings()
    if show_status:
        _print_status(context.engine(settings, upgrade=True))
        raise typer.Exit(exit_codes.OK)
    writer = make_writer(settings)
    engine = context.engine(settings, upgrade=True)
    if dry_run:
        plans = plan(engine, writer)
        for item in plans:
            console.out.print(_diff_line(writer.name, item), markup=False, soft_wrap=True)
        adds = sum(len(item.add) + len(item.queued) for item in plans)
        removes = sum(len(item.remove) for item in plans)
        console.out.print(
            f"write-back {writer.name} (dry run): {len([p for p in plans if not p.empty])} "
            f"item(s), {adds} tag(s) to add, {removes} to remove; nothing written",
            markup=False,
        )
        raise typer.Exit(exit_codes.OK)
    if settings.writeback == "off":
        raise ConfigError(
            "writeback: READERD_WRITEBACK=off; set READERD_WRITEBACK=tags to write readerd's "
            "tags to the source (see `readerd writeback --dry-run` first)"
        )
    report = asyncio.run(write_back(engine, writer, resume=True))
    console.out.print(_report_line(report), markup=False, soft_wrap=True)
    if report.paused:
        raise typer.Exit(exit_codes.STAGE_STOPPED)
    raise typer.Exit(exit_codes.ITEMS_FAILED if report.failed else exit_codes.OK)


def _print_status(engine: Engine) -> None:
    from readerd.store.writeback import status

    rows = status(engine)
    if not rows:
        console.out.print("write-back: nothing written yet", markup=False)
    for row in rows:
        line = (
            f"write-back {row['source']}: {row['pending']} tag(s) pending, {row['done']} done, "
            f"{row['failed']} failed, {row['tombstones']} removed by you (never re-added)"
        )
        if row["paused"]:
            line += f"; paused: {row['paused']}"
        elif row["not_before"]:
            line += f"; waiting until {row['not_before']} (Retry-After)"
        if row["last_run_at"]:
            line += f"; last run {row['last_run_at']}: {row['last_result']}"
        if row["last_error"] and (row["pending"] or row["failed"]):
            line += f"\n  last error: {row['last_error']}"
        console.out.print(line, markup=False, soft_wrap=True)


def _diff_line(source: str, item: ItemPlan) -> str:
    changes = [f"+{tag}" for tag in item.add + item.queued] + [f"-{tag}" for tag in item.remove]
    yours = ", ".join(item.human) or "none"
    return (
        f'{source} {item.remote_id} "{item.title}": {" ".join(changes) or "nothing"} '
        f"(yours, untouched: {yours})"
    )


def _report_line(report: WritebackReport) -> str:
    name = report.source
    if report.paused:
        return (
            f"write-back {name}: paused: {report.paused}; check READERD_{name.upper()}_* "
            f"(the token must allow writing), then run `readerd writeback` again"
        )
    if report.held_until:
        return (
            f"write-back {name}: the server asked to wait (Retry-After): {report.left} item(s) "
            f"left for after {report.held_until}; {report.items} written, "
            f"{report.requests} request(s)"
        )
    if not (report.items or report.failed or report.resynced or report.gone):
        return f"write-back {name}: nothing to write (0 requests)"
    line = (
        f"write-back {name}: {report.items} item(s) written, {report.added} tag(s) added, "
        f"{report.removed} removed, {report.failed} failed"
    )
    if report.resynced:
        line += f", {report.resynced} changed at the source since the sync (synced; next run)"
    if report.gone:
        line += f", {report.gone} gone at the source"
    line += f"; {report.requests} request(s)"
    for note in report.notes[:3]:
        line += f"\n  {note}"
    return line
