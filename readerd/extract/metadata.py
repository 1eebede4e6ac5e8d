"""Title, author, date and site name of a parsed page, the fields readerd keeps.

trafilatura's extract_metadata does these in this order, then categories, tags and
a licence (about 40% of its time), which readerd never reads; this skips those and
takes the tree that the text extraction parses anyway, instead of a second parse.
"""

from __future__ import annotations

import logging
from datetime import date

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document

log = logging.getLogger(__name__)


def page_metadata(tree: HtmlElement, url: str | None) -> Document:
    """The page's metadata; `tree` is only read (the steps that prune work on copies)."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None  # a one-word "author" is a handle or a site, as upstream
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception as exc:  # upstream guards this step the same way: odd JSON-LD
        log.debug("extract: JSON-LD metadata failed on %s: %r", url, exc)
    metadata.title = metadata.title or extract_title(tree)
    metadata.author = metadata.author or extract_author(tree)
    metadata.url = metadata.url or extract_url(tree, url)
    if metadata.url:
        metadata.hostname = extract_domain(metadata.url, fast=True)
    today = date.today().isoformat()  # dateparser (extensive search) costs seconds a page
    metadata.date = find_date(
        tree, url=metadata.url, extensive_search=False, original_date=True, max_date=today
    )
    metadata.sitename = metadata.sitename or extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")  # a Twitter handle
        if "." not in metadata.sitename and not metadata.sitename[:1].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url and (match := META_URL.match(metadata.url)):
        metadata.sitename = match[1]
    metadata.filedate = today
    metadata.clean_and_trim()
    return metadata
