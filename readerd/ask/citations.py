"""Whether a quote really occurs in the article it cites: checked in code, never trusted.

Both sides are normalised first (Unicode NFKC, typographic quotes and dashes made
plain, case folded, whitespace collapsed), so a quote copied faithfully always
matches, and one the model paraphrased never does.
"""

from __future__ import annotations

import re
import unicodedata

MIN_QUOTE_CHARS = 12  # "the" occurs everywhere: a citation must say something
_PLAIN = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "«": '"', "»": '"',
                        "–": "-", "—": "-", "\u00a0": " "})  # fmt: skip
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\]|\[…\])\s*")
_WRAPPING = " \"'.,;:"


def normalise(text: str) -> str:
    """Text as quotes are compared: NFKC, plain punctuation, case folded, one space."""
    plain = unicodedata.normalize("NFKC", text).translate(_PLAIN)
    return " ".join(plain.casefold().split())


def quote_problem(quote: str, article_text: str) -> str | None:
    """Why the quote does not stand in the article; None when every part of it occurs there.

    A quote may skip words with an ellipsis ("a … b"): each part must occur, in order.
    """
    text = normalise(article_text)
    parts = [p.strip(_WRAPPING) for p in _ELLIPSIS.split(normalise(quote))]
    parts = [p for p in parts if p]
    if not parts or max(len(p) for p in parts) < MIN_QUOTE_CHARS:
        return f"the quote is too short to check (at least {MIN_QUOTE_CHARS} characters)"
    position = 0
    for part in parts:
        found = text.find(part, position)
        if found < 0:
            return "the quote does not occur in that article: copy its words exactly"
        position = found + len(part)
    return None
