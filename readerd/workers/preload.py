"""What every worker needs, loaded once in the forkserver that forks them.

The pool has multiprocessing's forkserver import this module before it forks its
first worker: trafilatura, lxml, pypdf, the language model and the offline
analyser's word lists (most of a worker's memory and a second of start-up) are then
loaded once and shared copy-on-write by
every worker, and a new worker starts in milliseconds, so workers can be started
when pages come and stopped when they stop. gc.freeze() moves what is loaded here out
of the cycle collector's reach, so a worker's collections do not touch (and so copy)
those shared pages.

It also keeps the workers from re-running the parent's __main__ (the readerd script,
a bench, pytest): multiprocessing does that in every worker it forks, and the
forkserver cannot preload __main__ once for all of them (on CPython 3.11 it asks
spawn for a "main_path" key that spawn never sends). A worker runs readerd's
extractor and offline analyser only and needs nothing from __main__; the re-run cost
every worker its own copy of the CLI's imports: a second of CPU on a small machine,
and memory unshared.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Mapping
from multiprocessing import spawn
from typing import Any

from readerd.analyze.offline import analyze_offline as _analyze_offline
from readerd.extract import extract_article
from readerd.results import Analysis, ArticleInput, Extracted, FetchedPage

WARM_UP = FetchedPage(
    "about:blank",
    200,
    "text/html",
    b"<html><body><article><p>A short page that warms the extractor up. It has two "
    b"sentences, so every part of the extractor runs once.</p></article></body></html>",
)
WARM_UP_ARTICLES = (
    "Solar panels on a house pay for themselves in a few years. The price of panels "
    "fell again this year, and batteries are next.",
    "Los paneles solares de una casa se pagan en pocos años. El precio de los paneles "
    "volvió a bajar este año, y las baterías serán las siguientes.",
)


def warm_up() -> None:
    """Import and run every part of the extractor and the analyser once (never raises)."""
    with contextlib.suppress(Exception):  # if it fails, the first task pays for the imports
        import readerd.extract.pdf  # noqa: F401  (loaded now, shared by every worker)

        extract_article(WARM_UP)
        for text in WARM_UP_ARTICLES:  # each language's word lists load on first use
            _analyze_offline(ArticleInput("about:blank", None, text, language=None))


def _prepare_without_main() -> None:
    """Have the workers forked from this process skip re-running the parent's __main__."""
    prepare = spawn.prepare
    if getattr(prepare, "skips_main", False):
        return

    def prepare_without_main(data: Mapping[str, Any]) -> None:
        main_keys = ("init_main_from_path", "init_main_from_name")
        prepare({key: value for key, value in data.items() if key not in main_keys})

    prepare_without_main.skips_main = True  # type: ignore[attr-defined]
    spawn.prepare = prepare_without_main


def extract(page: FetchedPage) -> Extracted:
    """A worker's task: one page."""
    return extract_article(page)


def analyze_offline(article: ArticleInput) -> Analysis:
    """A worker's task: one article's offline analysis."""
    return _analyze_offline(article)


_prepare_without_main()
warm_up()
gc.freeze()
