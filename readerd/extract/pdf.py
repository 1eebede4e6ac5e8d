"""Text and title/author of a PDF, with pypdf."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from readerd.errors import ExtractError
from readerd.extract.cleanup import clean, trim_head
from readerd.results import Extracted, FetchedPage
from readerd.text.language import count_words, detect_language

_COLUMN_GAP = re.compile(r"\S {6,}\S")
_PARAGRAPH_END = re.compile(r"[.!?:;\"”’»)]$")


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
    title = clean(info.title if info else None)
    author = clean(info.author if info else None)
    text = trim_head(_pdf_paragraphs(raw), title, author)
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
