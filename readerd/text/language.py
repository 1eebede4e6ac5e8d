"""Language detection (py3langid) and word counting, shared by extraction and analysis."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# The model also knows regional varieties and languages without an ISO 639-1 code.
# Fold the varieties that mostly show up as confusions into their main language;
# the rest count towards no language at all.
_FOLD = {
    "pcm": "en",  # Nigerian Pidgin: plain English often scores here
    "ext": "es",  # Extremaduran: short Spanish often scores here
    "gug": "gn",
    "hbo": "he",
    "grc": "el",
    "kik": "ki",
    "ary": "ar",
    "arz": "ar",
    "uzs": "uz",
    "yue": "zh",
    "wuu": "zh",
    "fuv": "ff",
    "sdh": "ku",
}

_CHUNK = 2000  # the model's probabilities are calibrated on paragraph-sized input
_MAX_CHUNKS = 3
_MIN_LETTERS = 8
_SURE = 0.5  # below this, the text is ambiguous and the hint may decide
_HINT_FLOOR = 0.05  # a hint must be at least this plausible to be taken

_URL = re.compile(r"\S+://\S+|www\.\S+|\S+@\S+")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’\-][^\W_{_CJK}]+|(?<=\d)[.,]\d+)*")


@cache
def _identifier() -> LanguageIdentifier:
    """The py3langid model, loaded once per process (from the cache's copy when it has one)."""
    # Imported here: py3langid pulls in numpy (~15 MiB), which a process that never
    # detects a language (the daemon, once extraction runs in workers) should not pay for.
    from readerd.text.language_model import load_identifier

    return load_identifier()


def _chunks(text: str) -> list[str]:
    """Up to three paragraph-sized windows spread over the text."""
    if len(text) <= _CHUNK:
        return [text]
    last = len(text) - _CHUNK
    starts = sorted({0, last // 2, last})[:_MAX_CHUNKS]
    return [text[s : s + _CHUNK] for s in starts]


def _scores(text: str) -> dict[str, float]:
    """ISO 639-1 code -> probability, averaged over the text's windows."""
    chunks = _chunks(text)
    merged: dict[str, float] = {}
    for chunk in chunks:
        for label, prob in _identifier().rank(chunk):
            code = _FOLD.get(label, label)
            if len(code) == 2:
                merged[code] = merged.get(code, 0.0) + prob / len(chunks)
    return merged


def detect_language(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code of the text's language, or None when unsure (e.g. very short text)."""
    clean = " ".join(_URL.sub(" ", text).split())
    if sum(ch.isalpha() for ch in clean[:200]) < _MIN_LETTERS:
        return None
    scores = _scores(clean)
    best = max(scores, key=scores.__getitem__)
    if scores[best] >= _SURE:
        return best
    hint = (hint or "").strip().lower()[:2] or None
    if hint and scores.get(hint, 0.0) >= _HINT_FLOOR:
        return hint
    return best if scores[best] >= _SURE / 2 else None


def count_words(text: str) -> int:
    """Number of words: letter/digit runs (inner ' and - join), one per CJK character."""
    return len(_WORD.findall(text))
