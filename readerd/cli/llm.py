"""`readerd llm-log` (every LLM request, costs, budget) and `readerd reprocess`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from readerd.cli import console, context
from readerd.errors import ReaderdError

if TYPE_CHECKING:
    from readerd.results import CallRow, DayUsage, LinkUsage, TodayUsage

LOG_HELP = (
    "Show the LLM requests readerd made, newest first: time, link, model, host, prompt "
    "version, request mode, tokens in/out, latency, outcome and error.\n\n"
    "With READERD_LLM_PRICE_IN and READERD_LLM_PRICE_OUT (price per million tokens) each "
    "row shows its cost. The footer gives today's totals and what is left of "
    "READERD_LLM_DAILY_TOKEN_BUDGET; once it is spent, analysis waits until tomorrow.\n\n"
    "\b\nExamples:\n"
    "  readerd llm-log                     the last 30 requests\n"
    "  readerd llm-log --link 12           every request made for link 12, and its cost\n"
    "  readerd llm-log --by day            requests, tokens and cost per day\n"
    "  readerd llm-log --by article        the same per article\n"
    "  readerd llm-log --json --limit 500  for scripts\n"
)
REPROCESS_HELP = (
    "Queue analysed links for a fresh analysis on purpose; the next `readerd process` (or "
    "the daemon) re-analyses them. Nothing else ever analyses an unchanged article twice.\n\n"
    "Filters combine (a link must match all of them); --model and --prompt-version match "
    "what the current analysis was made with. With no filter, --all is required.\n\n"
    "\b\nExamples:\n"
    "  readerd reprocess --prompt-version tools-1 --dry-run\n"
    "  readerd reprocess --model llama3.1:8b\n"
    "  readerd reprocess --tag cooking --since 2026-11-01\n"
    "  readerd reprocess --all\n"
)


def register(app: typer.Typer) -> None:
    """Add `llm-log` and `reprocess` to the app."""
    app.command("llm-log", help=LOG_HELP, short_help="Every LLM request, tokens, cost, budget.")(
        llm_log
    )
    app.command(
        "reprocess", help=REPROCESS_HELP, short_help="Queue analysed links for re-analysis."
    )(reprocess)


def llm_log(
    limit: Annotated[int, typer.Option(min=1, help="At most this many requests (or rows).")] = 30,
    link: Annotated[
        int | None, typer.Option("--link", metavar="ID", help="Only the requests for this link.")
    ] = None,
    by: Annotated[
        Literal["day", "article"] | None,
        typer.Option("--by", help="Totals per day or per article instead of single requests."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout.")
    ] = False,
) -> None:
    """Every LLM request with tokens, latency, outcome and cost; today's totals and budget."""
    from readerd.store import usage

    settings = context.settings()
    engine = context.read_engine()
    today = usage.today(engine, settings)
    rows: Sequence[DayUsage] | Sequence[LinkUsage] | Sequence[CallRow]
    totals: Sequence[Mapping[str, Any]] = ()
    calls: Sequence[CallRow] = ()
    if by == "day":
        rows = totals = usage.usage_by_day(engine, settings, days=limit)
    elif by == "article":
        rows = totals = usage.usage_by_link(engine, settings, limit=limit)
    else:
        rows = calls = usage.call_rows(engine, settings, limit=limit, link_id=link)
    if as_json:
        document = {"by": by, "rows": rows} if by else {"calls": rows}
        console.print_json({**document, "today": today})
        return
    priced = today["cost"] is not None
    _print_totals(totals, by, priced) if by else _print_calls(calls, priced)
    for total in usage.usage_by_link(engine, settings, link_id=link) if link else []:
        line = f"link {link}: {total['requests']} requests, {total['tokens_in']} in + "
        line += f"{total['tokens_out']} out tokens" + (
            f", cost {_money(total['cost'])}" if priced else ""
        )
        console.out.print(line, markup=False)
    console.out.print(_footer(today), markup=False)


def _print_calls(rows: Sequence[CallRow], priced: bool) -> None:
    if not rows:
        console.out.print("No LLM requests logged.")
        return
    table = Table(pad_edge=False)
    columns = ["time", "link", "model", "host", "prompt", "mode", "in", "out", "ms", "outcome"]
    for name in columns + (["cost"] if priced else []):
        table.add_column(name, justify="right" if name in ("link", "in", "out", "ms") else "left")
    table.add_column("error", overflow="fold", max_width=50)
    for r in rows:
        cells = [r["time"], str(r["link_id"] or "-"), r["model"], r["host"], r["prompt_version"]]
        cells += [r["mode"], str(r["tokens_in"]), str(r["tokens_out"]), str(r["latency_ms"])]
        cells += [r["outcome"]] + ([_money(r["cost"])] if priced else []) + [r["error"] or ""]
        table.add_row(*cells)
    console.out.print(table)


def _print_totals(rows: Sequence[Mapping[str, Any]], by: str, priced: bool) -> None:
    if not rows:
        console.out.print("No LLM requests logged.")
        return
    table = Table(pad_edge=False)
    first = "date" if by == "day" else "link_id"
    for name in [first, "requests", "tokens_in", "tokens_out"] + (["cost"] if priced else []):
        table.add_column(name, justify="left" if name == "date" else "right")
    for r in rows:
        cells = [str(r[first]), str(r["requests"]), str(r["tokens_in"]), str(r["tokens_out"])]
        table.add_row(*cells, *([_money(r["cost"])] if priced else []))
    console.out.print(table)


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _footer(today: TodayUsage) -> str:
    """Today's totals, cost when priced, and the budget left."""
    line = (
        f"today ({today['date']}): {today['requests']} requests, "
        f"{today['tokens_in']} in + {today['tokens_out']} out tokens"
    )
    if today["cost"] is not None:
        line += f", cost {_money(today['cost'])}"
    if today["budget"]:
        line += f"; budget {today['budget']} tokens/day, {today['budget_left']} left"
        if not today["budget_left"]:
            line += " (spent: analysis waits until tomorrow)"
    return line


def reprocess(
    model: Annotated[str | None, typer.Option(help="Only links analysed by this model.")] = None,
    prompt_version: Annotated[
        str | None,
        typer.Option("--prompt-version", help="Only links analysed with this prompt version."),
    ] = None,
    tag: Annotated[
        str | None, typer.Option(help="Only links with this tag (any spelling of it).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="Only links analysed on or after this day."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Allow selecting every analysed link.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say which links match; change nothing.")
    ] = False,
) -> None:
    """Queue analysed links matching every filter for re-analysis by the next `process`."""
    from readerd.store import requeue_for_analysis, usage
    from readerd.store.views import reprocess_candidates

    if not (model or prompt_version or tag or since or all_):
        raise ReaderdError(
            "reprocess: give a filter (--model, --prompt-version, --tag, --since) "
            "or --all to re-analyse every analysed link"
        )
    try:
        start = usage.day_start(usage.parse_day(since)) if since else None
    except ValueError:
        raise ReaderdError(f"reprocess: --since must be a date YYYY-MM-DD, got {since!r}") from None
    settings = context.settings()
    engine = context.engine(settings, write=not dry_run)
    ids = reprocess_candidates(
        engine, model=model, prompt_version=prompt_version, tag=tag, since=start
    )
    shown = ", ".join(str(i) for i in ids[:20]) + (", …" if len(ids) > 20 else "")
    if dry_run:
        console.out.print(
            f"reprocess: {len(ids)} links would be queued: {shown or '-'}", markup=False
        )
        return
    queued = requeue_for_analysis(engine, ids)
    console.out.print(
        f"reprocess: {queued} links queued for analysis ({shown or '-'}); "
        "`readerd process` or the daemon re-analyses them",
        markup=False,
    )
