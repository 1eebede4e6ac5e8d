"""Main text and metadata of an HTML page: trafilatura's fast path, readability where it fails.

The page is parsed once; metadata and every extractor read that tree. trafilatura
in fast precision mode (no comparison with external extractors) gives the text of
most pages. When what it finds is short (a few hundred characters), readability's
whole-page scoring usually finds the article it missed: on the ScrapingHub benchmark
that fallback runs on about one page in twenty and lifts F1 above every trafilatura
configuration, at less than its default mode's cost (bench/extraction_benchmark.py).
When neither finds a word, trafilatura's full recall mode has the last say.
"""

from __future__ import annotations

import logging
import re
from copy import copy

import trafilatura
from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    fromstring,
)
from trafilatura.external import sanitize_tree, try_readability
from trafilatura.settings import Extractor
from trafilatura.utils import is_dubious_html, repair_faulty_html
from trafilatura.xml import xmltotxt

from readerd.errors import ExtractError
from readerd.extract.cleanup import clean, trim_head
from readerd.extract.metadata import page_metadata
from readerd.results import Extracted, FetchedPage
from readerd.text.language import count_words, detect_language

log = logging.getLogger(__name__)

SHORT_CHARS = 500  # fewer characters of main text than this: try readability too
LANGUAGE_SAMPLE = 1000  # characters: about 150 words, plenty for the language model
DUMP_SHARE = 0.95  # a "main text" this close to all of the page's text is the whole page

_WORD = re.compile(r"[^\W_]")
_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.I)

# trafilatura's parser settings, with one change: lxml.html's own parser picks each
# element's class in Python (a form field gets a class of its own), a call for every
# element that trafilatura, readability or the metadata touch, about 6% of an
# extraction. Every element as a plain HtmlElement, picked in C, serves all of them.
_PARSER = HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)


def extract_html(page: FetchedPage, html: str) -> Extracted:
    """The page's main text (comments left out), metadata and language."""
    tree = _parse(html)
    if tree is None:
        raise ExtractError(f"extract: no article text found: url={page.url}")
    url = page.url or None
    try:
        metadata = page_metadata(tree, url)
        title, author, published, site = (
            metadata.title, metadata.author, metadata.date, metadata.sitename
        )  # fmt: skip
    except Exception as exc:  # odd markup: the text is worth keeping without metadata
        log.debug("extract: metadata failed on %s: %r", url, exc)
        title = author = published = site = None
    text = trim_head(re.sub(r"\n\s*\n*", "\n\n", main_text(tree, url).strip()), title, author)
    words = count_words(text)
    if not words:
        raise ExtractError(f"extract: no article text found: url={page.url}")
    declared = _declared_language(html)
    return Extracted(
        text=text,
        title=clean(title),
        author=clean(author),
        published=clean(published),
        site_name=clean(site),
        language=_language(text, declared),
        word_count=words,
        kind="html",
    )


def _parse(html: str) -> HtmlElement | None:
    """The page's tree, as trafilatura.load_html builds it (repairs and checks included)."""
    beginning = html[:50].lower()
    html = repair_faulty_html(html, beginning)
    tree: HtmlElement | None = None
    # As text first; a page declaring its encoding inside is refused as text, so as bytes.
    for markup in (html, html.encode("utf-8", "surrogatepass")):
        try:
            tree = fromstring(markup, parser=_PARSER)
        except Exception as exc:  # lxml raises many types on odd markup
            log.debug("extract: lxml failed: %r", exc)
            continue
        if tree is not None and len(tree):
            break
    if tree is None or (is_dubious_html(beginning) and len(tree) < 2):
        return None  # not HTML at all (a fragment or another format)
    return tree


def main_text(tree: HtmlElement, url: str | None) -> str:
    """The article's text, paragraphs on their own lines; '' when nothing is found."""
    text = _trafilatura(tree, url, fast=True, precision=True)
    if len(text) < SHORT_CHARS:
        other = _readability(tree, url)
        if len(text) < len(other) < DUMP_SHARE * _text_bound(tree):
            text = other
    if not _WORD.search(text):  # the slow full recall pass, as the last resort
        text = _trafilatura(tree, url, recall=True)
    return text


def _text_bound(tree: HtmlElement) -> int:
    """Characters of all text in the page's body, scripts and styles included (the
    cleaned text, html2txt, would cost half as much as readability itself)."""
    body = tree.find("body")
    return len((body if body is not None else tree).text_content())


def _trafilatura(
    tree: HtmlElement,
    url: str | None,
    *,
    fast: bool = False,
    precision: bool = False,
    recall: bool = False,
) -> str:
    """One trafilatura pass over (a copy of) tree; '' when it fails or finds nothing."""
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            fast=fast,
            favor_precision=precision,
            favor_recall=recall,
        )
    except Exception as exc:  # trafilatura and lxml raise many types on odd markup
        log.debug("extract: trafilatura failed on %s: %r", url, exc)
        return ""
    if not isinstance(document, trafilatura.settings.Document):  # None, or a dict
        return ""
    return document.text or ""


def _readability(tree: HtmlElement, url: str | None) -> str:
    """readability's main text, tidied the way trafilatura tidies it when it prefers it."""
    try:
        summary = try_readability(copy(tree))
        if not len(summary):
            return ""
        body, _ = sanitize_tree(summary, Extractor(comments=False, tables=True, url=url))
        return xmltotxt(body, False)
    except Exception as exc:  # readability raises many types on odd markup
        log.debug("extract: readability failed on %s: %r", url, exc)
        return ""


def _language(text: str, declared: str | None) -> str | None:
    """The language of the text's first window, else of all of it, else the declared one.

    The window gives the whole text's answer on all 181 ScrapingHub pages and the 22
    texts of bench/corpus, at half the cost of a 2,000-character one."""
    first = detect_language(text[:LANGUAGE_SAMPLE], hint=declared)
    if first is None and len(text) > LANGUAGE_SAMPLE:
        first = detect_language(text, hint=declared)
    return first or declared


def _declared_language(html: str) -> str | None:
    """The primary subtag of <html lang>, lower case."""
    match = _HTML_LANG.search(html[:4096])
    return match.group(1).lower() if match and len(match.group(1)) == 2 else None
