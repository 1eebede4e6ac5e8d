"""Offline-analyser figures, today's implementation against the one at 8bd53ee, same run.

Run by hand from the repo root:  .venv/bin/python bench/offline_tags_bench.py [--show]

Corpus: the bundled samples (readerd/samples/, through the real extractor) and the
pages in bench/corpus/. For each implementation it prints:
1. generic tags: share of tags that are one of the article language's 2,000 most
   frequent words or English's 1,000 (wordfreq), a number, a file extension, or
   shorter than 3 letters (a phrase counts when all its words do); must be <= 5%;
2. Spanish articles with an English function word (one of English's 150 most frequent
   words) as a tag or inside one; must be 0;
3. summaries opening with a continuation word ("But", "Pero", "Esto"…); must be <= 5%;
4. analysis time per article: best of several interleaved passes after a warm-up, so
   both run on the same machine in the same conditions; must be <= 1.2x the old one.
The checks use their own lists (wordfreq, and the continuation words below), not the
analyser's, so the analyser is not graded by its own rules.
"""

from __future__ import annotations

import argparse
import mimetypes
import re
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import wordfreq  # noqa: E402

from readerd.analyze import offline  # noqa: E402
from readerd.config import SAMPLES_DIR  # noqa: E402
from readerd.extract import extract_article  # noqa: E402
from readerd.results import Analysis, ArticleInput, FetchedPage  # noqa: E402

OLD_COMMIT = "8bd53ee"
CORPUS = REPO / "bench" / "corpus"
CONTINUATIONS = {
    "en": "but however this these that those it they also and so yet still instead meanwhile "
    "moreover furthermore thus therefore or nor",
    "es": "pero sin esto esta este estos estas eso así además también aunque entonces y ni "
    "incluso luego ello asimismo",
}
PASSES = 15


def load_corpus() -> list[ArticleInput]:
    """The bundled samples, extracted as the daemon would, then the bench pages."""
    articles = []
    for path in sorted(SAMPLES_DIR.glob("*.*")):
        if path.suffix not in (".html", ".pdf"):
            continue
        kind = "application/pdf" if path.suffix == ".pdf" else "text/html"
        page = extract_article(FetchedPage(path.resolve().as_uri(), 200, kind, path.read_bytes()))
        articles.append(ArticleInput(path.as_uri(), page.title, page.text, page.language))
    for path in sorted(CORPUS.glob("*.txt")):
        title, _, text = path.read_text(encoding="utf-8").partition("\n")
        language = path.name.split("-", 1)[0]
        articles.append(ArticleInput(path.as_uri(), title.strip(), text.strip(), language))
    return articles


def old_module() -> types.ModuleType:
    """readerd/analyze/offline.py as it was at OLD_COMMIT, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:readerd/analyze/offline.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Modules it imports that have moved since (readerd.language is readerd.text.language).
    source = source.replace("from readerd.language import", "from readerd.text.language import")
    module = types.ModuleType("offline_at_" + OLD_COMMIT)
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"offline.py@{OLD_COMMIT}", "exec"), module.__dict__)
    return module


def _top(language: str, n: int) -> set[str]:
    try:
        return set(wordfreq.top_n_list(language, n))
    except LookupError:
        return set()


EXTENSIONS = {e.lstrip(".") for e in mimetypes.MimeTypes().types_map[True]}
ENGLISH_TOP = _top("en", 1000)
ENGLISH_FUNCTION = _top("en", 150)


def generic_word(word: str, language: str) -> bool:
    """The bench's own test of a generic word."""
    letters = sum(ch.isalpha() for ch in word)
    return (
        letters < 3
        or word.replace(".", "").replace(",", "").isdigit()
        or word in EXTENSIONS
        or word in ENGLISH_TOP
        or word in _top(language, 2000)
    )


def generic_tag(tag: str, language: str) -> bool:
    """A tag is generic when it is a generic word, or all its words are."""
    return all(generic_word(word, language) for word in tag.split())


def opens_with_continuation(summary: str, language: str) -> bool:
    """Whether the summary's first word leans on a previous sentence."""
    words = re.findall(r"[^\W\d_]+", summary[:40].lower())
    return bool(words) and words[0] in CONTINUATIONS.get(language, "").split()


def figures(results: list[tuple[ArticleInput, Analysis]]) -> dict[str, float]:
    """The measured shares of one implementation's results."""
    tags = [(tag, a.language) for article, a in results for tag in a.tags]
    spanish = [a for _, a in results if a.language == "es"]
    leaking = [a for a in spanish if any(set(t.split()) & ENGLISH_FUNCTION for t in a.tags)]
    continuing = [a for _, a in results if opens_with_continuation(a.summary, a.language)]
    return {
        "tags": len(tags),
        "generic": sum(generic_tag(t, lang) for t, lang in tags) / max(1, len(tags)),
        "spanish_leaks": len(leaking) / max(1, len(spanish)),
        "continuations": len(continuing) / max(1, len(results)),
    }


def best_time(analyse: Callable[[ArticleInput], Analysis], articles: list[ArticleInput]) -> float:
    """Seconds per article of one pass over the corpus."""
    started = time.perf_counter()
    for article in articles:
        analyse(article)
    return (time.perf_counter() - started) / len(articles)


def main() -> None:
    """Measure both implementations on the corpus and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print each article's tags")
    args = parser.parse_args()
    articles = load_corpus()
    old = old_module()
    implementations = {"old": old.analyze_offline, "new": offline.analyze_offline}
    started = time.perf_counter()
    offline.analyze_offline(articles[0])  # word lists load on first use
    print(
        f"first call (loads the stopwords-iso and wordfreq lists): "
        f"{time.perf_counter() - started:.2f} s"
    )
    results = {name: [(a, run(a)) for a in articles] for name, run in implementations.items()}
    times: dict[str, list[float]] = {name: [] for name in implementations}
    for _ in range(PASSES):  # interleaved, so load on the machine hits both alike
        for name, run in implementations.items():
            times[name].append(best_time(run, articles))
    spanish = sum(a.language == "es" for a in articles)
    print(f"corpus: {len(articles)} articles ({spanish} Spanish), {PASSES} timed passes each\n")
    print(f"{'':6}{'tags':>6}{'generic':>10}{'es leaks':>10}{'continues':>11}{'ms/article':>12}")
    for name in implementations:
        f = figures(results[name])
        print(
            f"{name:6}{f['tags']:>6}{f['generic']:>10.1%}{f['spanish_leaks']:>10.1%}"
            f"{f['continuations']:>11.1%}{min(times[name]) * 1000:>12.2f}"
        )
    ratio = min(times["new"]) / min(times["old"])
    print(
        f"\ntime new/old: {ratio:.2f}x (limit 1.2x); limits: generic <= 5%, es leaks 0, "
        "continues <= 5%"
    )
    if args.show:
        for (article, new), (_, was) in zip(results["new"], results["old"], strict=True):
            print(f"\n{article.title}\n  old: {', '.join(was.tags)}\n  new: {', '.join(new.tags)}")
            print(f"  summary: {new.summary[:160]}…")


if __name__ == "__main__":
    main()
