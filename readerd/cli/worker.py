"""`readerd worker --stages …`: a processing-only worker, for running stages on several machines."""

from __future__ import annotations

from typing import Annotated

import typer

from readerd import exit_codes
from readerd.cli import console, context
from readerd.errors import ConfigError

HELP = (
    "Process due links at some stages only, again and again, until stopped (SIGTERM, ^C).\n\n"
    "For a database several machines share (READERD_DATABASE_URL=postgresql+psycopg://…): "
    "each worker claims due links with a lease, so any number of workers on any machines "
    "never take the same link, and a worker that dies leaves its links to the others. "
    "Sync, the digest and write-back stay with `readerd run`.\n\n"
    "\b\nExamples:\n"
    "  readerd worker --stages fetch,extract   on the small home server\n"
    "  readerd worker --stages analyze         on the GPU box, next to its model\n"
    "  readerd worker --once                   one pass over every stage, then exit\n"
)
STAGE_GROUPS = {"fetch": "fetch", "extract": "fetch", "analyze": "analyze"}


def register(app: typer.Typer) -> None:
    """Add the `worker` command to the app."""
    app.command("worker", help=HELP, short_help="Process some stages; several may share a DB.")(
        worker
    )


def parse_stages(text: str, command: str = "worker") -> frozenset[str]:
    """The stages a worker claims: fetch and extract go together (a page is extracted at
    once, in the worker that fetched it)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STAGE_GROUPS]
    if unknown or not names:
        raise ConfigError(
            f"{command}: --stages takes fetch, extract and analyze (got {text!r}); "
            "e.g. --stages fetch,extract"
        )
    stages: set[str] = set()
    for group in {STAGE_GROUPS[n] for n in names}:
        stages |= {"fetch", "extract"} if group == "fetch" else {"analyze"}
    return frozenset(stages)


def worker(
    stages: Annotated[
        str, typer.Option(help="Comma-separated: fetch,extract and/or analyze.")
    ] = "fetch,extract,analyze",
    every: Annotated[
        float, typer.Option(min=1.0, help="Seconds between passes when nothing is due.")
    ] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
) -> None:
    import asyncio
    import contextlib
    import signal

    from readerd.pipeline import process_due

    wanted = parse_stages(stages)
    settings = context.analysing_settings() if "analyze" in wanted else context.settings()
    engine = context.engine(settings, upgrade=True)
    failed = 0

    async def passes() -> None:
        nonlocal failed
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        while not stop.is_set():
            report = await process_due(settings, engine, stop=stop, stages=wanted)
            failed += report.failed
            console.out.print(
                f"worker ({','.join(sorted(wanted))}): {report.done} analysed, "
                f"{report.extracted} extracted for analysis, {report.retry} to retry, "
                f"{report.failed} failed, {report.lost} taken over by another worker",
                markup=False,
            )
            if once:
                return
            with contextlib.suppress(TimeoutError):  # the pause between passes, cut by a stop
                await asyncio.wait_for(stop.wait(), timeout=every)

    asyncio.run(passes())
    raise typer.Exit(exit_codes.ITEMS_FAILED if failed else exit_codes.OK)
