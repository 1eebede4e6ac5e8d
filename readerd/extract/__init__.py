"""Main text and metadata of a fetched page: trafilatura for HTML, pypdf for PDF.

Importing this package is cheap: trafilatura, lxml and pypdf load on the first page
of their kind, so a process that only hands pages to the extraction workers
(readerd.workers.pool) never pays for them.
"""

from __future__ import annotations

import re

from readerd.errors import ExtractError, UnsupportedContentError
from readerd.extract.charset import decode_body
from readerd.results import Extracted, FetchedPage

__all__ = ["decode_body", "extract_article"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SNIFFED_TYPES = frozenset(
    {"", "text/plain", "application/octet-stream", "binary/octet-stream", "application/unknown",
     "text/xml", "application/xml", "application/x-download", "application/force-download"}
)  # fmt: skip
_HTML_START = re.compile(r"<(?:!doctype\s+html|html|head|body|article|title|p|div|h1)\b", re.I)


def extract_article(page: FetchedPage) -> Extracted:
    """Main text and metadata of a page; raises ExtractError or UnsupportedContentError."""
    if not page.body.strip():
        raise ExtractError(f"extract: empty body: url={page.url}")
    if page.body.lstrip()[:5] == b"%PDF-" or page.content_type == "application/pdf":
        from readerd.extract.pdf import extract_pdf

        return extract_pdf(page)
    if page.content_type in HTML_TYPES:
        return _html(page, decode_body(page.body, page.charset))
    if page.content_type in SNIFFED_TYPES:
        text = decode_body(page.body, page.charset)
        if _HTML_START.search(text[:2048]):
            return _html(page, text)
        if page.content_type == "text/plain" and "\x00" not in text:
            return _plain_text(page, text)
    kind = page.content_type or "unknown"
    raise UnsupportedContentError(f"extract: unsupported content type: {kind} url={page.url}")


def _html(page: FetchedPage, html: str) -> Extracted:
    from readerd.extract.html import extract_html

    return extract_html(page, html)


def _plain_text(page: FetchedPage, text: str) -> Extracted:
    """A text/plain page is its own main text."""
    from readerd.text.language import count_words, detect_language

    text = re.sub(r"\n\s*\n\s*", "\n\n", text.strip())
    if not count_words(text):
        raise ExtractError(f"extract: no article text found: url={page.url}")
    return Extracted(
        text=text,
        language=detect_language(text),
        word_count=count_words(text),
        kind="text",
    )
