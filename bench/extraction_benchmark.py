"""Score extract_article on the Scrapinghub article-extraction benchmark (run by hand).

    .venv/bin/python bench/extraction_benchmark.py [--limit N] [--worst K]

Reads ../shared/extraction-benchmark/scrapinghub-aeb/ (beside the repo root) and
prints the benchmark's own metric: token 4-shingle precision and recall per page
(multiset counts, normalised per page), averaged over pages, and the F1 of those
two means; plus pages per second of extract_article.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from readerd.errors import ExtractError  # noqa: E402
from readerd.extract import extract_article  # noqa: E402
from readerd.language import detect_language  # noqa: E402
from readerd.results import FetchedPage  # noqa: E402

DATA = REPO.parent / "shared" / "extraction-benchmark" / "scrapinghub-aeb"
_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Counts of n-token shingles; a text shorter than n tokens is one shingle."""
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)] if tokens else [])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def match(true: str, pred: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over shingles, normalised so that every page weighs the same."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision(tp: float, fp: float, fn: float) -> float:
    """Per-page precision, as the benchmark defines edge cases."""
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def recall(tp: float, fp: float, fn: float) -> float:
    """Per-page recall, as the benchmark defines edge cases."""
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def predict(html: bytes, url: str) -> str:
    """Main text extract_article finds, or '' when it finds none."""
    try:
        return extract_article(FetchedPage(url, 200, "text/html", html, "utf-8")).text
    except ExtractError:
        return ""


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--worst", type=int, default=0, help="list the K lowest-F1 pages")
    args = parser.parse_args()

    truth = json.loads((DATA / "ground-truth.json").read_text("utf-8"))
    keys = sorted(truth)[: args.limit or None]
    pages = {k: gzip.decompress((DATA / "html" / f"{k}.html.gz").read_bytes()) for k in keys}
    detect_language("warm up the language model once, outside the timing")

    scores: dict[str, tuple[float, float, float]] = {}
    failures = 0
    started = time.perf_counter()
    for key in keys:
        text = predict(pages[key], truth[key].get("url", ""))
        failures += not text
        scores[key] = match(truth[key].get("articleBody", ""), text)
    elapsed = time.perf_counter() - started

    p = statistics.mean(precision(*s) for s in scores.values() if s[0] + s[1] > 0)
    r = statistics.mean(recall(*s) for s in scores.values() if s[0] + s[2] > 0)
    f1 = 2 * p * r / (p + r)
    print(f"pages={len(keys)} no_text={failures}")
    print(f"precision={p:.3f} recall={r:.3f} F1={f1:.3f}")
    print(f"speed={len(keys) / elapsed:.1f} pages/s ({elapsed:.1f} s)")
    for key in sorted(scores, key=lambda k: _f1(scores[k]))[: args.worst]:
        print(f"  {_f1(scores[key]):.2f}  {key[:16]}  {truth[key].get('url', '')}")


def _f1(score: tuple[float, float, float]) -> float:
    p, r = precision(*score), recall(*score)
    return 2 * p * r / (p + r) if p + r else 0.0


if __name__ == "__main__":
    main()
