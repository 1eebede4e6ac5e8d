"""Search at N articles: p50 and p99 over 200 fixed Spanish/English queries, and the CLI.

Run by hand from the repo root:
    .venv/bin/python bench/search_bench.py --data-dir /tmp/lib100k [--articles 100000]

The library in --data-dir is built first if it holds fewer than --articles articles
(bench/library.py; 100k takes a few minutes), then kept for the next run.

In process: each of the 200 queries (single words, two words, prefixes, phrases, accented
and unaccented spellings, exclusions, ORs, made-up names, subjects' own terms; fixed,
see `queries()`) runs
`--rounds` times through store.lite's Library.search (what `readerd search` runs) and
through store.views.search (the engine path); the bench prints p50 and p99 of the
per-query times against the bounds (p50 <= 20 ms, p99 <= 100 ms), the slowest queries,
and the time split between ranking (FTS5 MATCH + bm25 + LIMIT) and the rest (snippets,
rows, tags).

CLI: `readerd search WORD` as a fresh process (the installed script, .pyc files allowed
as in a normal install), median and max of `--runs`, against <= 0.40 s.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library import (
    TOPICS,
    build_library,
    load_corpus,
    topic_terms,
)  # bench/ is not a package: see library.py

P50_BOUND, P99_BOUND, CLI_BOUND = 0.020, 0.100, 0.40


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def queries() -> list[str]:
    """The 200 queries, the same in every run (drawn from bench/corpus with a fixed seed)."""
    rng = random.Random(13)
    corpus = load_corpus()
    found: list[str] = []
    for lang in ("es", "en"):
        sentences = corpus.sentences[lang]
        words = Counter(w.lower() for s in sentences for w in re.findall(r"\w+", s) if len(w) > 3)
        ranked = [w for w, _ in words.most_common() if not w.isdigit()]
        common, middle, rare = ranked[:60], ranked[60:600], ranked[600:]
        singles = rng.sample(common, 10) + rng.sample(middle, 14) + rng.sample(rare, 9)
        accented = [w for w in ranked[:800] if _fold(w) != w]
        unaccented = [_fold(w) for w in rng.sample(accented, min(len(accented), 12))]
        pairs, phrases = [], []
        for sentence in rng.sample(sentences, 40):
            tokens = [w for w in re.findall(r"\w+", sentence) if len(w) > 3]
            if len(tokens) >= 2:
                k = rng.randrange(len(tokens) - 1)
                pairs.append(f"{tokens[k]} {tokens[k + 1]}".lower())
            all_tokens = re.findall(r"\w+", sentence)
            if len(all_tokens) >= 3:
                k = rng.randrange(len(all_tokens) - 2)
                phrases.append('"' + " ".join(all_tokens[k : k + rng.choice((2, 3))]) + '"')
        prefixes = [w[: rng.randint(3, 5)] + "*" for w in rng.sample(middle, 12)]
        exclusions = [
            f"{a} -{b}" for a, b in zip(rng.sample(common, 5), rng.sample(middle, 5), strict=False)
        ]
        ors = [
            f"{a} OR {b}" for a, b in zip(rng.sample(middle, 4), rng.sample(rare, 4), strict=False)
        ]
        found += singles + unaccented + pairs[:20] + phrases[:16] + prefixes + exclusions + ors
    names = [
        "".join(rng.choice(("ka", "lo", "mi", "ne", "ra", "su")) for _ in range(3))
        for _ in range(6)
    ]
    found += [*names, "energia solar", "tren nocturno", "night train", "compost*"]
    found += [rng.choice(topic_terms(rng.randrange(TOPICS))) for _ in range(40)]
    unique = list(dict.fromkeys(found))
    return [unique[k] for k in sorted(rng.sample(range(len(unique)), 200))]


def _articles(data_dir: Path) -> int:
    path = data_dir / "readerd.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM article").fetchone()[0])


def _upgrade(data_dir: Path) -> None:
    from readerd.config import load_settings
    from readerd.store.database import make_engine, upgrade_database

    engine = make_engine(load_settings(data_dir=data_dir, _env_file=None))
    upgrade_database(engine)
    engine.dispose()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _timed(search: object, query: str, rounds: int) -> float:
    """The best of `rounds` runs of one query (seconds): the machine is shared and noisy."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        search(query)  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def in_process(data_dir: Path, rounds: int) -> None:
    from readerd.config import load_settings
    from readerd.store import lite
    from readerd.store.database import make_engine
    from readerd.store.search import to_fts5
    from readerd.store.views import search as engine_search

    settings = load_settings(data_dir=data_dir, _env_file=None)
    library = lite.open_library(settings.db_url)
    assert library is not None, "the library is not at this readerd's schema"
    engine = make_engine(settings, write=False)
    qs = queries()
    with library:
        for q in qs:  # warm the page cache once, as a used library is
            library.search(q)
        ranking = library.connection
        per_query = {}
        for label, search in (
            ("lite (CLI)", library.search),
            ("views (engine)", lambda q: engine_search(engine, q)),
        ):
            times = {q: _timed(search, q, rounds) for q in qs}
            per_query[label] = times
            p50, p99 = (
                _percentile(list(times.values()), 0.5),
                _percentile(list(times.values()), 0.99),
            )
            print(
                f"{label:15} p50 {p50 * 1000:6.1f} ms (ratio {p50 / P50_BOUND:.2f})   "
                f"p99 {p99 * 1000:6.1f} ms (ratio {p99 / P99_BOUND:.2f})   "
                f"mean {statistics.mean(times.values()) * 1000:.1f} ms"
            )
        times = per_query["lite (CLI)"]
        slowest = sorted(times, key=times.__getitem__, reverse=True)[:8]
        print("slowest: " + ", ".join(f"{q!r} {times[q] * 1000:.0f} ms" for q in slowest))
        rank_times = {}
        for q in qs:
            match = to_fts5(q)
            rank_times[q] = _timed(
                lambda m: ranking.execute(
                    "SELECT rowid FROM link_search WHERE link_search MATCH ? "
                    "ORDER BY bm25(link_search, 10.0, 5.0, 5.0, 1.0) LIMIT 20",
                    (m,),
                ).fetchall(),
                match,
                rounds,
            )
        hits = {
            q: ranking.execute(
                "SELECT count(*) FROM link_search WHERE link_search MATCH ?", (to_fts5(q),)
            ).fetchone()[0]
            for q in slowest
        }
        print(
            f"ranking alone (MATCH + bm25 + LIMIT 20): p50 "
            f"{_percentile(list(rank_times.values()), 0.5) * 1000:.1f} ms, p99 "
            f"{_percentile(list(rank_times.values()), 0.99) * 1000:.1f} ms; "
            "matches of the slowest: " + ", ".join(f"{q!r} {hits[q]}" for q in slowest)
        )
    engine.dispose()


def cli(data_dir: Path, runs: int, word: str) -> None:
    readerd = str(Path(sys.executable).parent / "readerd")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("READERD_", "OPENAI_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a normal install has its .pyc files
    env |= {"READERD_DATA_DIR": str(data_dir), "READERD_SOURCE": "none"}
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([readerd, "search", word], env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    times = times[1:]  # the first run writes the .pyc files
    python = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        python.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(
        f"readerd search {word}: median {median:.3f} s (ratio {median / CLI_BOUND:.2f} to "
        f"{CLI_BOUND} s), max {max(times):.3f} s, {runs} runs; python -c pass median "
        f"{statistics.median(python):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each query (best kept)")
    parser.add_argument("--runs", type=int, default=10, help="CLI runs")
    parser.add_argument("--word", default="energía")
    args = parser.parse_args()
    have = _articles(args.data_dir)
    if have < args.articles:
        print(f"building the library: {have} -> {args.articles} articles", flush=True)
        build_library(args.data_dir, args.articles - have, start=have)
    _upgrade(args.data_dir)  # a library built by an older checkout: `readerd db upgrade`
    print(
        f"library: {_articles(args.data_dir)} articles in {args.data_dir}; 200 queries, "
        f"best of {args.rounds} runs each"
    )
    in_process(args.data_dir, args.rounds)
    cli(args.data_dir, args.runs, args.word)


if __name__ == "__main__":
    main()
