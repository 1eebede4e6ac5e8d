"""Score extract_article on the Scrapinghub article-extraction benchmark (run by hand).

    .venv/bin/python bench/extraction_benchmark.py [--limit N] [--worst K] [--rounds R]

Reads ../shared/extraction-benchmark/scrapinghub-aeb/ (beside the repo root) and
prints, for extract_article and for trafilatura's own configurations in the same
run, the benchmark's own metric: token 4-shingle precision and recall per page
(multiset counts, normalised per page), averaged over pages, and the F1 of those
two means; plus docs per second, as a ratio to trafilatura.extract(...,
include_comments=False) (the reference). extract_article does more than that call
(metadata, language, PDF and charset handling), and it is timed doing all of it.
--worst K lists the K pages where extract_article scores lowest, beside the
reference's score on the same page.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402

from readerd.errors import ExtractError  # noqa: E402
from readerd.extract import extract_article  # noqa: E402
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


def _trafilatura(**options: Any) -> Callable[[bytes, str], str]:
    def run(html: bytes, url: str) -> str:
        return trafilatura.extract(html, url=url or None, **options) or ""

    return run


REFERENCE = "trafilatura include_comments=False"
EXTRACTORS: dict[str, Callable[[bytes, str], str]] = {
    "readerd extract_article": predict,
    "trafilatura default": _trafilatura(),
    REFERENCE: _trafilatura(include_comments=False),
    "trafilatura fast, no comments": _trafilatura(include_comments=False, fast=True),
    "trafilatura precision, no comments": _trafilatura(
        include_comments=False, favor_precision=True
    ),
}


@dataclass
class Scores:
    """One extractor's per-page scores and the time it spent."""

    pages: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    seconds: float = 0.0
    no_text: int = 0

    def summary(self) -> tuple[float, float, float]:
        """(precision, recall, F1) as the benchmark defines them."""
        s = self.pages.values()
        p = statistics.mean(precision(*x) for x in s if x[0] + x[1] > 0)
        r = statistics.mean(recall(*x) for x in s if x[0] + x[2] > 0)
        return p, r, 2 * p * r / (p + r)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--worst", type=int, default=0, help="list the K lowest-F1 pages")
    parser.add_argument("--rounds", type=int, default=1, help="time every page this often")
    parser.add_argument("--only", action="append", help="extractor names containing this")
    args = parser.parse_args()

    truth = json.loads((DATA / "ground-truth.json").read_text("utf-8"))
    keys = sorted(truth)[: args.limit or None]
    pages = {k: gzip.decompress((DATA / "html" / f"{k}.html.gz").read_bytes()) for k in keys}
    chosen = {
        name: fn
        for name, fn in EXTRACTORS.items()
        if name in ("readerd extract_article", REFERENCE)
        or not args.only
        or any(o in name for o in args.only)
    }
    for fn in chosen.values():  # imports, the language model, lxml's first parse
        fn(pages[keys[0]], truth[keys[0]].get("url", ""))

    scores = {name: Scores() for name in chosen}
    names = list(chosen)
    for n, key in enumerate(keys * args.rounds):
        url = truth[key].get("url", "")
        # Interleaved, in a rotating order: a busy moment on a shared machine costs
        # every extractor alike instead of whichever ran during it.
        for name in names[n % len(names) :] + names[: n % len(names)]:
            started = time.perf_counter()
            text = chosen[name](pages[key], url)
            scores[name].seconds += time.perf_counter() - started
            if n < len(keys):
                scores[name].no_text += not text
                scores[name].pages[key] = match(truth[key].get("articleBody", ""), text)

    total = len(keys) * args.rounds
    reference = scores[REFERENCE].seconds
    print(f"pages={len(keys)} rounds={args.rounds}")
    print(f"{'extractor':36} {'P':>6} {'R':>6} {'F1':>6} {'docs/s':>7} {'vs ref':>7} no_text")
    for name, s in scores.items():
        p, r, f1 = s.summary()
        print(
            f"{name:36} {p:6.3f} {r:6.3f} {f1:6.3f} {total / s.seconds:7.1f} "
            f"{reference / s.seconds:6.2f}x {s.no_text:4d}"
        )
    ours, ref = scores["readerd extract_article"], scores[REFERENCE]
    p, r, f1 = ours.summary()
    print(
        f"readerd: throughput {reference / ours.seconds:.2f}x of {REFERENCE!r} "
        f"(bound >= 1.00), F1 {f1:.3f} (bound >= 0.970)"
    )
    if args.worst:
        print(f"worst {args.worst} pages for readerd (F1 readerd / reference, key, url):")
    for key in sorted(keys, key=lambda k: _f1(ours.pages[k]))[: args.worst]:
        print(
            f"  {_f1(ours.pages[key]):.2f} / {_f1(ref.pages[key]):.2f}  {key[:16]}  "
            f"{truth[key].get('url', '')}"
        )


def _f1(score: tuple[float, float, float]) -> float:
    p, r = precision(*score), recall(*score)
    return 2 * p * r / (p + r) if p + r else 0.0


if __name__ == "__main__":
    main()
