"""What every extraction worker needs, loaded once in the forkserver that forks them.

The sandbox has multiprocessing's forkserver import this module before it forks its
first worker: trafilatura, lxml, pypdf and the language model (most of a worker's
memory and a second of start-up) are then loaded once and shared copy-on-write by
every worker, and a new worker starts in milliseconds, so workers can be started
when pages come and stopped when they stop. gc.freeze() moves what is loaded here out
of the cycle collector's reach, so a worker's collections do not touch (and so copy)
those shared pages.
"""

from __future__ import annotations

import contextlib
import gc

from readerd.extract import extract_article
from readerd.results import Extracted, FetchedPage

WARM_UP = FetchedPage(
    "about:blank",
    200,
    "text/html",
    b"<html><body><article><p>A short page that warms the extractor up. It has two "
    b"sentences, so every part of the extractor runs once.</p></article></body></html>",
)


def warm_up() -> None:
    """Import and run every part of the extractor once (never raises)."""
    with contextlib.suppress(Exception):  # if it fails, the first page pays for the imports
        import readerd.extract.pdf  # noqa: F401  (loaded now, shared by every worker)

        extract_article(WARM_UP)


def extract(page: FetchedPage) -> Extracted:
    """A worker's task."""
    return extract_article(page)


warm_up()
gc.freeze()
