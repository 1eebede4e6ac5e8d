"""An article as passages: whole paragraphs packed into windows of about 350 tokens.

Each passage keeps its offsets into the stored text, so a quote or a snippet can be
traced back to where it stands. Used by the passage index (store/passages.py) and by
`ask` (ask/passages.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

WINDOW_TOKENS = 350
_PARAGRAPH = re.compile(r"\S[^\n]*(?:\n(?![ \t]*\n)[^\n]*\S[^\n]*)*")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def estimate_tokens(text: str) -> int:
    """Conservative token estimate: 4 ASCII characters per token, 1 per other character."""
    ascii_chars = len(text.encode("ascii", "ignore"))  # the ASCII characters, counted in C
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


@dataclass(frozen=True)
class Passage:
    """A window of an article's text: text[start:end]."""

    start: int
    end: int
    text: str


def split_passages(text: str, window_tokens: int = WINDOW_TOKENS) -> list[Passage]:
    """Whole paragraphs packed into windows of about window_tokens; long ones cut at sentences."""
    pieces = [piece for m in _PARAGRAPH.finditer(text) for piece in _fit(text, m, window_tokens)]
    passages: list[Passage] = []
    start = end = -1
    for piece_start, piece_end in pieces:
        if start >= 0 and estimate_tokens(text[start:piece_end]) > window_tokens:
            passages.append(Passage(start, end, text[start:end]))
            start = -1
        if start < 0:
            start = piece_start
        end = piece_end
    if start >= 0:
        passages.append(Passage(start, end, text[start:end]))
    return passages


def _fit(text: str, paragraph: re.Match[str], window_tokens: int) -> list[tuple[int, int]]:
    """A paragraph's span, or its sentence-aligned parts when it is longer than a window."""
    start, end = paragraph.span()
    if estimate_tokens(paragraph.group()) <= window_tokens:
        return [(start, end)]
    parts: list[tuple[int, int]] = []
    piece_start = start
    cuts = [start + m.start() for m in _SENTENCE_END.finditer(paragraph.group())] + [end]
    previous = start
    for cut in cuts:
        if estimate_tokens(text[piece_start:cut]) > window_tokens and previous > piece_start:
            parts.append((piece_start, previous))
            piece_start = previous
            while piece_start < end and text[piece_start].isspace():
                piece_start += 1
        previous = cut
    parts.append((piece_start, end))
    return parts
