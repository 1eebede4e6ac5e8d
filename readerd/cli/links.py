"""`readerd run`, `sync`, `process`, `import`, `list`, `show`, `search` and `stats`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from readerd import exit_codes
from readerd.cli import console, context
from readerd.errors import ReaderdError, SourceError, StoreError
from readerd.results import LIST_STATUSES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from readerd.config import Settings
    from readerd.results import SavedLink
    from readerd.store.lite import Reader

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def register(app: typer.Typer) -> None:
    """Add the link commands to the app."""
    app.command()(run)
    app.command()(sync)
    app.command()(process)
    app.command("import")(import_file)
    app.command("list")(list_)
    app.command()(show)
    app.command(help=SEARCH_HELP)(search)
    app.command()(stats)


RUN_STAGES_HELP = (
    "Process only these stages (fetch,extract or analyze); sync and the digest run as "
    "ever. For a database shared with `readerd worker --stages analyze` on a GPU box: "
    "`readerd run --stages fetch,extract` on the home server."
)


def run(
    once: Annotated[
        bool, typer.Option("--once", help="Sync, process everything due, exit.")
    ] = False,
    stages: Annotated[str | None, typer.Option(help=RUN_STAGES_HELP)] = None,
) -> None:
    """Run readerd: with --once, one sync and one processing pass; else the daemon."""
    from readerd.cli.worker import parse_stages

    wanted = parse_stages(stages, "run") if stages is not None else None
    analyses = wanted is None or "analyze" in wanted
    settings = context.analysing_settings() if analyses else context.settings()
    if not once:
        from readerd.daemon import run_daemon  # imported late: only the daemon needs it

        raise typer.Exit(run_daemon(settings, wanted))
    engine = context.engine(settings, upgrade=True)
    synced = _sync(settings, engine)  # a failed sync still lets the queue be processed
    processed = _process(settings, engine, wanted)
    raise typer.Exit(max(synced, processed))


def sync() -> None:
    """Pull new and changed links from the configured source."""
    settings = context.settings()
    raise typer.Exit(_sync(settings, context.engine(settings, upgrade=True)))


def process(
    now: Annotated[
        bool,
        typer.Option("--now", help="Also retry now the links waiting for their next attempt."),
    ] = False,
) -> None:
    """Fetch, extract and analyse every link that is due."""
    from readerd import store

    settings = context.analysing_settings()
    engine = context.engine(settings, upgrade=True)
    if now:
        woken = store.make_due_now(engine)
        console.out.print(f"retrying now: {woken} waiting link(s)", markup=False)
    raise typer.Exit(_process(settings, engine))


def _sync(settings: Settings, engine: Engine) -> int:
    """One sync, printed; the exit code (3 when the source failed)."""
    import asyncio

    from readerd.pipeline import sync_links

    try:
        report = asyncio.run(sync_links(settings, engine))
    except SourceError as exc:
        from readerd.logs import redact

        console.print_error(redact(str(exc)))
        return exit_codes.STAGE_STOPPED
    if report.note:
        console.out.print(f"sync: {report.note}", markup=False, soft_wrap=True)
        return exit_codes.OK
    console.out.print(
        f"sync {report.source}: {report.new} new, {report.updated} updated, "
        f"{report.deleted} deleted, {report.unchanged} unchanged",
        markup=False,
    )
    return exit_codes.OK


def _process(settings: Settings, engine: Engine, stages: frozenset[str] | None = None) -> int:
    """One processing pass (at these stages; None: all), printed; its exit code."""
    from readerd.cli.progress import run_with_progress
    from readerd.store import views

    touched: list[int] = []
    try:
        report = run_with_progress(
            settings, engine, on_item=lambda link_id, _: touched.append(link_id), stages=stages
        )
    except StoreError as exc:
        console.print_error(str(exc))
        return exit_codes.STAGE_STOPPED
    if touched:
        console.print_links(views.list_links(engine, ids=touched, limit=len(touched)))
    console.out.print(
        f"processed: {report.done} analysed, {report.skipped_unchanged} unchanged, "
        f"{report.retry} to retry, {report.failed} failed, {report.unsupported} unsupported",
        markup=False,
    )
    if report.llm_stopped:
        console.print_error(f"LLM stage stopped: {report.llm_stopped}")
    from readerd.store.passages import refresh_passages

    refresh_passages(engine)
    embedded = _embed(settings, engine) if settings.use_embeddings else True
    failed = len(report.errors) + (not embedded)
    return exit_codes.for_process(failed=failed, stopped=bool(report.llm_stopped))


def _embed(settings: Settings, engine: Engine) -> bool:
    """The embedding stage after processing; False (and one error line) when it failed."""
    from readerd.ask.semantic import embed_library
    from readerd.errors import AnalysisError

    try:
        report = embed_library(settings, engine)
    except AnalysisError as exc:
        console.print_error(str(exc))
        return False
    if report.embedded:
        console.out.print(f"embedded: {report.embedded} articles", markup=False)
    return True


def import_file(
    path: Annotated[
        Path,
        typer.Argument(
            help="Pocket export (CSV, ZIP, ril_export.html) or a list of URLs.",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Add links from a Pocket export or a plain list of URLs; `process` reads them."""
    from readerd import store
    from readerd.sources import read_import_file

    settings = context.settings()
    engine = context.engine(settings, upgrade=True)
    links = read_import_file(path)
    report = store.import_links(engine, [*links, *links.refused])
    console.out.print(
        f"import {path.name}: {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged",
        markup=False,
    )
    if links.skipped:
        summary = _skipped_summary(links.skipped, links.refused)
        console.out.print(summary, markup=False, soft_wrap=True)


def _skipped_summary(skipped: list[str], refused: list[SavedLink]) -> str:
    """`skipped 3 lines: 2 unsupported scheme (file, javascript) …, 1 not a URL (…)`."""
    from readerd.text.urls import other_scheme

    def word(line: str) -> str:  # "line 4: url", "link: url", "URL=url title" -> url
        line = line.split(": ", 1)[1] if line.startswith(("line ", "link: ")) else line
        line = line[4:] if line[:4].lower() == "url=" else line
        return (line.split() or [""])[0]

    schemes = sorted({(link.problem or "").split(":")[1].split()[0] for link in refused})
    parts = []
    if refused:
        parts.append(
            f"{len(refused)} unsupported scheme ({', '.join(schemes)}), kept as failed items"
        )
    others = [line for line in skipped if not other_scheme(word(line))]
    if others:
        parts.append(f"{len(others)} not a URL (first: {others[0][:60]!r})")
    count = len(refused) + len(others)
    return f"skipped {count} line{'s' * (count != 1)}: " + "; ".join(parts)


StatusChoice = StrEnum("StatusChoice", {name: name for name in LIST_STATUSES})  # type: ignore[misc]


def list_(
    status: Annotated[
        StatusChoice | None,
        typer.Option(
            case_sensitive=False,
            help="pending, retry (failed before, waiting for its next attempt), done, "
            "failed, unsupported or deleted.",
        ),
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only links with this tag.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List links, newest first."""
    wanted = status.value if status else None
    with context.library() as library:
        links = library.list_links(status=wanted, tag=tag, limit=limit)
        if as_json:
            console.print_json(links)
            return
        console.print_links(links, empty=_nothing_listed(library, wanted, tag))


def _nothing_listed(library: Reader, status: str | None, tag: str | None) -> str:
    if library.is_empty() and status != "deleted":
        return "No links yet."
    what = " and ".join(
        part for part in (status and f"status {status}", tag and f"tag {tag!r}") if part
    )
    return f"No links with {what}." if what else "No links yet."


def show(
    link_id: Annotated[
        int, typer.Argument(metavar="ID", help="The link's id (see `readerd list`).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Show one link: metadata, summary, key points, tags, status."""
    with context.library() as library:
        link = library.get_link(link_id)
    if link is None:
        raise ReaderdError(f"show: no link with id {link_id}")
    console.print_json(link) if as_json else console.print_link(link)


SEARCH_HELP = (
    "Full-text search over titles, summaries, tags and text, best match first.\n\n"
    "Every word must match, as a prefix, accents ignored (energia finds Energía). "
    'Also: solar OR eolica; solar NOT coche or solar -coche; "placas solares" for '
    "a phrase; ener* for a prefix; ( ) to group. Each row shows why it matched."
)


def search(
    query: Annotated[
        str, typer.Argument(help="Words to find in titles, summaries, tags and text.")
    ],
    limit: Annotated[int, typer.Option(min=1)] = 20,
    semantic: Annotated[
        bool,
        typer.Option(
            "--semantic",
            help="Also rank by meaning (READERD_EMBED_*): full-text and vector ranks fused.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    from readerd.store.search import QueryError

    if semantic:
        _semantic_search(query, limit, as_json)
        return
    with context.library() as library:
        try:
            links = library.search(query, limit=limit)
        except QueryError as exc:
            console.print_error(f"search: {exc}; see `readerd search --help`")
            raise typer.Exit(exit_codes.USAGE) from None
        if as_json:
            console.print_json(links)
            return
        empty = "No links yet." if library.is_empty() else f"No matches for {query!r}."
        console.print_links(links, empty=empty)


def _semantic_search(query: str, limit: int, as_json: bool) -> None:
    from readerd.ask.semantic import hybrid_search
    from readerd.errors import ConfigError

    config = context.embedding_config()
    if not config.usable:
        raise ConfigError(
            "search: --semantic needs an embeddings endpoint: set READERD_EMBED_BASE_URL "
            "and READERD_EMBED_MODEL, then run `readerd embed`"
        )
    with context.library() as library:
        links = hybrid_search(config, library, query, limit)
    if as_json:
        console.print_json(links)
        return
    console.print_links(links, empty=f"No matches for {query!r}.")


def stats(as_json: JsonOption = False) -> None:
    """Counts per status, stage and language; LLM tokens; source sync state."""
    from readerd.store import views

    data = views.stats(context.read_engine())
    console.print_json(data) if as_json else console.print_stats(data)
