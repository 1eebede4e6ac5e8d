"""Extractive summary and key points: whole sentences of the article, chosen by key phrases.

A sentence scores by the key phrases it holds (readerd.analyze.keyphrases), for its
length. The summary is the lead (the first prose sentence that stands on its own)
plus the best-scoring others, in text order; key points are the next best, each a
whole sentence that can be read alone. Captions, bylines, headings and code are
never quoted.
"""

from __future__ import annotations

from collections.abc import Sequence

from readerd.analyze.keyphrases import KeyPhrases
from readerd.analyze.sentences import Sentence, is_continuation, word_count

LEAD_WINDOW = 5  # the lead is looked for among the first prose sentences
_FRAGMENT_WEIGHT = 0.3  # for select_sentences, which may quote anything


def sentence_scores(sentences: Sequence[Sentence], phrases: KeyPhrases) -> list[float]:
    """How much of what the article is about each sentence says, for its length."""
    scores = []
    by_key = phrases.scores
    for sentence, keys in zip(sentences, phrases.in_sentence, strict=True):
        weight = sum(by_key[key] * (1.0 if len(key) == 1 else 0.5) for key in keys)
        score = weight / max(1, word_count(sentence.text)) ** 0.5
        scores.append(score if not sentence.debris else score * _FRAGMENT_WEIGHT)
    return scores


def summarize(
    sentences: Sequence[Sentence],
    phrases: KeyPhrases,
    *,
    max_chars: int,
    point_chars: int,
) -> tuple[str, tuple[str, ...]]:
    """The summary (lead plus best sentences, 2-4) and 3-5 key points, each in text order."""
    scores = sentence_scores(sentences, phrases)
    pool = [i for i, s in enumerate(sentences) if not s.debris] or list(range(len(sentences)))
    ranked = sorted(pool, key=lambda i: (-scores[i], i))
    n = len(pool)
    want = 2 if n <= 8 else 3 if n <= 25 else 4
    chosen = _summary_ids(sentences, pool, ranked, want, max_chars)
    summary = " ".join(sentences[i].text for i in sorted(chosen))
    if len(summary) > max_chars:
        summary = _trim(summary, max_chars)
    points: list[int] = []
    wanted_points = min(5, max(3, n // 6))
    for i in ranked:
        if len(points) == wanted_points:
            break
        text = sentences[i].text
        if i not in chosen and len(text) <= point_chars and not is_continuation(text):
            points.append(i)
    return summary, tuple(sentences[i].text for i in sorted(points))


def _summary_ids(
    sentences: Sequence[Sentence], pool: list[int], ranked: list[int], want: int, max_chars: int
) -> list[int]:
    """The lead, then the best sentences that fit; one leaning on the previous sentence
    ("But…") only right after it."""
    standalone = [i for i in pool[:LEAD_WINDOW] if not is_continuation(sentences[i].text)]
    lead = standalone[0] if standalone else ranked[0] if ranked else None
    if lead is None:
        return []
    chosen = [lead]
    used = len(sentences[lead].text)
    for i in ranked:
        if len(chosen) == want:
            break
        text = sentences[i].text
        if i in chosen or (is_continuation(text) and i - 1 not in chosen):
            continue
        if used + 1 + len(text) <= max_chars:
            chosen.append(i)
            used += 1 + len(text)
    return chosen


def select(sentences: Sequence[Sentence], phrases: KeyPhrases, max_chars: int) -> str:
    """The best-scoring sentences, in text order, within max_chars."""
    scores = sentence_scores(sentences, phrases)
    chosen: list[int] = []
    used = 0
    for i in sorted(range(len(sentences)), key=lambda i: (-scores[i], i)):
        size = len(sentences[i].text) + 1
        if used + size <= max_chars:
            chosen.append(i)
            used += size
    return " ".join(sentences[i].text for i in sorted(chosen))


def _trim(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most `limit` characters, with an ellipsis."""
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
