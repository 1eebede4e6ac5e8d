"""Main text and metadata of a fetched page: trafilatura for HTML, pypdf for PDF."""

from __future__ import annotations

import codecs
import io
import logging
import re
from datetime import date

import trafilatura
from pypdf import PdfReader

from readerd.errors import ExtractError, UnsupportedContentError
from readerd.language import count_words, detect_language
from readerd.results import Extracted, FetchedPage

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SNIFFED_TYPES = frozenset(
    {"", "text/plain", "application/octet-stream", "binary/octet-stream", "application/unknown",
     "text/xml", "application/xml", "application/x-download", "application/force-download"}
)  # fmt: skip
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# What browsers do (WHATWG Encoding): these labels mean the wider Windows code pages.
_WEB_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
                "us-ascii": "cp1252", "iso-8859-9": "cp1254", "gb2312": "gbk", "euc-kr": "cp949",
                "shift_jis": "cp932", "sjis": "cp932", "tis-620": "cp874"}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_HTML_START = re.compile(r"<(?:!doctype\s+html|html|head|body|article|title|p|div|h1)\b", re.I)
_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.I)
_COLUMN_GAP = re.compile(r"\S {6,}\S")
_PARAGRAPH_END = re.compile(r"[.!?:;\"”’»)]$")


def extract_article(page: FetchedPage) -> Extracted:
    """Main text and metadata of a page; raises ExtractError or UnsupportedContentError."""
    if not page.body.strip():
        raise ExtractError(f"extract: empty body: url={page.url}")
    if page.body.lstrip()[:5] == b"%PDF-" or page.content_type == "application/pdf":
        return extract_pdf(page)
    if page.content_type in HTML_TYPES:
        return extract_html(page, decode_body(page.body, page.charset))
    if page.content_type in SNIFFED_TYPES:
        text = decode_body(page.body, page.charset)
        if _HTML_START.search(text[:2048]):
            return extract_html(page, text)
        if page.content_type == "text/plain" and "\x00" not in text:
            return _plain_text(page, text)
    kind = page.content_type or "unknown"
    raise UnsupportedContentError(f"extract: unsupported content type: {kind} url={page.url}")


def decode_body(body: bytes, charset: str | None) -> str:
    """Text of body: BOM, else the header charset, else the meta charset, else UTF-8/cp1252."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    meta = _META_CHARSET.search(body[:4096])
    labels = [charset, meta.group(1).decode("ascii", "ignore") if meta else None, "utf-8"]
    codecs_ = list(dict.fromkeys(c for c in map(_codec, labels) if c))
    for codec in codecs_:
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    # Nothing decodes cleanly: keep the closest fit and its few U+FFFD, unless nearly
    # every non-ASCII character failed; then the label lies and the bytes are cp1252.
    texts = [body.decode(codec, errors="replace") for codec in codecs_]
    text = min(texts, key=lambda t: t.count("\ufffd"))
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if text.count("\ufffd") * 2 > non_ascii:
        return body.decode("cp1252", errors="replace")
    return text


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().lower()
    try:
        codec = codecs.lookup(_WEB_ALIASES.get(label, label)).name
    except LookupError:
        return None
    return "utf-8" if codec in ("utf-16", "utf-32") else codec  # a BOM-less "utf-16" lies


def extract_html(page: FetchedPage, html: str) -> Extracted:
    """trafilatura's main text (comments left out) and metadata."""
    document = _bare_extraction(html, page.url, precise=True) or _bare_extraction(
        html, page.url, precise=False
    )
    if document is None:
        raise ExtractError(f"extract: no article text found: url={page.url}")
    text = re.sub(r"\n\s*\n*", "\n\n", document.text.strip())
    text = _trim_head(text, document.title, document.author)
    declared = _declared_language(html)
    return Extracted(
        text=text,
        title=_clean(document.title),
        author=_clean(document.author),
        published=_clean(document.date),
        site_name=_clean(document.sitename),
        language=detect_language(text, hint=declared) or declared,
        word_count=count_words(text),
        kind="html",
    )


def _bare_extraction(html: str, url: str, *, precise: bool) -> trafilatura.settings.Document | None:
    """One trafilatura pass; None when it finds no words."""
    try:
        document = trafilatura.bare_extraction(
            html,
            url=url or None,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=precise,
            favor_recall=not precise,
            # dateparser (htmldate's extensive search) costs seconds per page: skip it
            date_extraction_params={
                "extensive_search": False,
                "original_date": True,
                "max_date": date.today().isoformat(),
            },
        )
    except Exception as exc:  # trafilatura and lxml raise many types on odd markup
        log.debug("extract: trafilatura failed on %s: %r", url, exc)
        return None
    if document is None or not count_words(document.text or ""):
        return None
    return document  # type: ignore[return-value]


def _trim_head(text: str, title: str | None, author: str | None) -> str:
    """Drop leading paragraphs that only repeat the title (<h1>) or are a short byline."""
    for _ in range(2):
        first, _, rest = text.partition("\n\n")
        flat = " ".join(first.split()).casefold()
        is_title = bool(title) and flat == " ".join((title or "").split()).casefold()
        is_byline = bool(author) and (author or "").casefold() in flat and count_words(first) < 20
        if not rest or not (is_title or is_byline):
            break
        text = rest
    return text


def _declared_language(html: str) -> str | None:
    """The primary subtag of <html lang>, lower case."""
    match = _HTML_LANG.search(html[:4096])
    return match.group(1).lower() if match and len(match.group(1)) == 2 else None


def _clean(value: str | None) -> str | None:
    """Stripped value, or None when empty."""
    value = (value or "").strip()
    return value or None


def extract_pdf(page: FetchedPage) -> Extracted:
    """Text of every page and the title/author from the PDF's metadata."""
    try:
        reader = PdfReader(io.BytesIO(page.body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractError(f"extract: encrypted pdf: url={page.url}")
        raw = _pdf_text(reader)
        info = reader.metadata
    except ExtractError:
        raise
    except Exception as exc:  # pypdf raises many types on broken files
        raise ExtractError(f"extract: broken pdf: url={page.url} error={exc!r}") from exc
    title = _clean(info.title if info else None)
    author = _clean(info.author if info else None)
    text = _trim_head(_pdf_paragraphs(raw), title, author)
    if not count_words(text):
        raise ExtractError(f"extract: no text in pdf (scanned?): url={page.url}")
    return Extracted(
        text=text,
        title=title,
        author=author,
        language=detect_language(text),
        word_count=count_words(text),
        kind="pdf",
    )


def _pdf_text(reader: PdfReader) -> str:
    """All pages' text; layout mode when it is single-column, since it keeps paragraph gaps."""
    try:
        lines = "\n".join(p.extract_text(extraction_mode="layout") for p in reader.pages)
    except Exception:  # layout mode is the more fragile one
        lines = ""
    filled = [line.strip() for line in lines.splitlines() if line.strip()]
    if not filled or sum(bool(_COLUMN_GAP.search(line)) for line in filled) > 0.2 * len(filled):
        return "\n".join(p.extract_text() or "" for p in reader.pages)  # columns: reading order
    if lines.count("\n\n") > 0.5 * len(filled):  # double-spaced: blank lines say nothing
        return "\n".join(filled)
    return lines


def _pdf_paragraphs(raw: str) -> str:
    """Rejoin a PDF's wrapped lines into paragraphs separated by blank lines."""
    lines = [line.strip() for line in raw.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        short = len(line) < 0.8 * width and (_PARAGRAPH_END.search(line) or len(line) < 0.6 * width)
        if current and (not line or short):
            paragraphs.append(_join_lines(current))
            current = []
    if current:
        paragraphs.append(_join_lines(current))
    return "\n\n".join(paragraphs)


def _join_lines(lines: list[str]) -> str:
    """Wrapped lines as one line; a line-end hyphen is kept (self-/sufficient) without a space."""
    joined = lines[0]
    for line in lines[1:]:
        if joined.endswith("-") and joined[-2:-1].isalpha() and line[:1].islower():
            joined += line
        else:
            joined = f"{joined} {line}"
    return joined


def _plain_text(page: FetchedPage, text: str) -> Extracted:
    """A text/plain page is its own main text."""
    text = re.sub(r"\n\s*\n\s*", "\n\n", text.strip())
    if not count_words(text):
        raise ExtractError(f"extract: no article text found: url={page.url}")
    return Extracted(
        text=text,
        language=detect_language(text),
        word_count=count_words(text),
        kind="text",
    )
