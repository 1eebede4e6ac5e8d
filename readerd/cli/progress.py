"""A progress bar around process_due when a person is watching (rich), silence otherwise."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from readerd.config import Settings
from readerd.pipeline import ProcessReport, process_due
from readerd.store.views import count_due


def run_with_progress(
    settings: Settings,
    engine: Engine,
    on_item: Callable[[int, str], None],
    stages: frozenset[str] | None = None,
) -> ProcessReport:
    """Process due links (at these stages; None: all), showing a bar on a terminal."""
    if not sys.stderr.isatty():
        return asyncio.run(process_due(settings, engine, on_item=on_item, stages=stages))
    columns = (TextColumn("processing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("processing", total=count_due(engine))

        def advance(link_id: int, outcome: str) -> None:
            progress.advance(task)
            on_item(link_id, outcome)

        return asyncio.run(process_due(settings, engine, on_item=advance, stages=stages))


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar on an interactive terminal, fed (done, total); a no-op otherwise."""
    if not sys.stderr.isatty():
        yield lambda _done, _total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)
