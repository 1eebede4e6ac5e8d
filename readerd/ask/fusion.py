"""Reciprocal rank fusion: one order from several rankings of the same ids (k = 60).

Pure, so that `search --semantic` can fuse without importing the engine-side library.
"""

from __future__ import annotations


def fuse(rankings: list[list[int]], k: int = 60) -> list[int]:
    """Each id scores the sum of 1 / (k + rank) over the rankings; best first, ties by id."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: (-scores[item], item))
