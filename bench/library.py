"""An N-article library built through readerd's own store, for the search and write benches.

Run by hand from the repo root:
    .venv/bin/python bench/library.py --articles 100000 --data-dir /tmp/lib100k

Articles are half Spanish, half English: sentences drawn from the pages in bench/corpus/
(titles, bylines, quotes in the other language and all), so word frequencies look like
real text. A real library is about thousands of subjects, not 22: each article is also
about one of TOPICS subjects, whose own terms (made-up words, as a species, a product or
a place would be) run through its title and about a third of its sentences, and it
carries a few made-up names (people, places): the long tail a real library's
vocabulary has, so a query for a subject's word matches tens of articles, not half
the library. Tags come from a per-language topic list
with a skewed (Zipf-like) use count. Every article is linked, extracted and analysed
through readerd.store (store.importing.import_links, then save_batch: many articles
per transaction, the full-text index included), the same code the daemon writes with.
`per_article=True` uses save_article + save_analysis one article at a time instead.

Deterministic: article i is the same text in every run (seeded by i).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, like the other benches

CORPUS = ROOT / "bench" / "corpus"
LANGUAGES = ("es", "en")
TAGS = {
    "es": [
        "energía",
        "huerto",
        "cocina",
        "viajes",
        "tren",
        "programación",
        "python",
        "salud",
        "sueño",
        "vino",
        "ciencia",
        "historia",
        "clima",
        "ciudad",
        "trabajo",
        "coche eléctrico",
        "criptografía",
        "inteligencia artificial",
        "economía",
        "música",
        "deporte",
        "educación",
        "agua",
        "montaña",
        "literatura",
        "política",
        "arquitectura",
        "fotografía",
    ],
    "en": [
        "energy",
        "gardening",
        "cooking",
        "travel",
        "trains",
        "programming",
        "python",
        "health",
        "sleep",
        "bees",
        "science",
        "history",
        "climate",
        "cities",
        "work",
        "chess",
        "quantum computing",
        "machine learning",
        "economics",
        "music",
        "sport",
        "education",
        "water",
        "oceans",
        "books",
        "politics",
        "architecture",
        "photography",
    ],
}
_CONSONANTS, _VOWELS = "bdfghjklmnprstvz", "aeiou"
_SYLLABLES = tuple(c + v for c in _CONSONANTS for v in _VOWELS)


@dataclass(frozen=True)
class Corpus:
    sentences: dict[str, list[str]]
    titles: dict[str, list[str]]


def load_corpus() -> Corpus:
    """Sentences and titles of bench/corpus, by language (file name prefix)."""
    sentences: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    titles: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for path in sorted(CORPUS.glob("*.txt")):
        lang = path.name[:2]
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        titles[lang].append(lines[0])
        for line in filter(None, lines[1:]):
            sentences[lang] += [
                s.strip().rstrip(".") + "." for s in line.split(". ") if len(s.split()) > 3
            ]
    return Corpus(sentences, titles)


TOPICS = 2000


def topic_terms(topic: int) -> list[str]:
    """The words of one subject (the same in every run)."""
    rng = random.Random(f"topic {topic}")
    return ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 4))) for _ in range(8)]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


@dataclass(frozen=True)
class Article:
    """One generated article: what a source, the extractor and the analyser would give."""

    url: str
    language: str
    title: str
    text: str
    summary: str
    key_points: tuple[str, ...]
    tags: tuple[str, ...]
    word_count: int


def make_article(corpus: Corpus, i: int) -> Article:
    """Article i (the same in every run)."""
    rng = random.Random(i)
    lang = LANGUAGES[i % 2]
    pool = corpus.sentences[lang]
    names = [_name(rng) for _ in range(3)]
    terms = topic_terms(rng.randrange(TOPICS))
    sentences = []
    for _ in range(rng.randint(12, 60)):
        sentence = rng.choice(pool)
        if rng.random() < 0.35:
            words = sentence.split(" ")
            words.insert(rng.randrange(1, len(words)), rng.choice(terms))
            sentence = " ".join(words)
        if rng.random() < 0.15:
            sentence = f"{rng.choice(names)}: {sentence}"
        sentences.append(sentence)
    paragraphs = [" ".join(sentences[k : k + 4]) for k in range(0, len(sentences), 4)]
    text = "\n".join(paragraphs)
    topic = rng.choice(corpus.titles[lang])
    title = f"{topic.split(':')[0]} — {names[0]}" if rng.random() < 0.5 else topic
    title = f"{title} ({terms[0].capitalize()})"
    tags = TAGS[lang]
    # a skewed draw: low indexes (popular tags) far more often than the tail
    chosen = {tags[min(int(rng.paretovariate(1.2)) - 1, len(tags) - 1)] for _ in range(3)}
    return Article(
        url=f"https://{names[1].lower()}.example/{lang}/{i}",
        language=lang,
        title=title,
        text=text,
        summary=" ".join(sentences[:2]),
        key_points=tuple(sentences[2:5]),
        tags=tuple(sorted(chosen)),
        word_count=len(text.split()),
    )


@dataclass
class BuildStats:
    """Where build_library's time went: links (import_links) and articles (the writes)."""

    articles: int = 0
    import_seconds: float = 0.0
    write_seconds: float = 0.0

    def __str__(self) -> str:
        rate = self.articles / max(self.write_seconds, 1e-9)
        return (
            f"{self.articles} articles: links {self.import_seconds:.1f} s, "
            f"articles+analyses {self.write_seconds:.1f} s ({rate:.0f} articles/s)"
        )


def _chunks(start: int, stop: int, size: int) -> Iterator[range]:
    for first in range(start, stop, size):
        yield range(first, min(first + size, stop))


def build_library(
    data_dir: Path,
    articles: int,
    *,
    batch: int = 200,
    per_article: bool = False,
    start: int = 0,
    progress: bool = False,
) -> BuildStats:
    """Add articles start..start+articles to the library in data_dir; the time it took.

    The library is created (migrated) if missing, so a bench can grow one in steps.
    """
    from readerd import store
    from readerd.config import load_settings
    from readerd.results import Analysis, Extracted, FetchedPage, SavedLink
    from readerd.store import importing
    from readerd.store.database import make_engine, upgrade_database
    from readerd.store.queue import AnalysisWrite, ArticleWrite, save_batch

    corpus = load_corpus()
    engine = make_engine(load_settings(data_dir=data_dir))
    upgrade_database(engine)
    stats = BuildStats()
    try:
        for chunk in _chunks(start, start + articles, max(batch, 1) * 10):
            made = [make_article(corpus, i) for i in chunk]
            saved = [SavedLink("import", a.url, a.url, title=a.title) for a in made]
            started = time.perf_counter()
            importing.import_links(engine, saved)
            imported = time.perf_counter()
            by_url = {due.url: due.id for due in store.due_links(engine, limit=len(made) * 2)}
            writes: list[ArticleWrite | AnalysisWrite] = []
            for a in made:
                link_id = by_url[a.url]
                page = FetchedPage(a.url, 200, "text/html", b"")
                extracted = Extracted(
                    text=a.text, title=a.title, language=a.language, word_count=a.word_count
                )
                analysis = Analysis(
                    tags=a.tags,
                    summary=a.summary,
                    key_points=a.key_points,
                    language=a.language,
                    analyzer="offline",
                    model="offline",
                    prompt_version="bench",
                )
                if per_article:
                    written = time.perf_counter()
                    content_hash = store.save_article(engine, link_id, page, extracted)
                    store.save_analysis(engine, link_id, analysis, content_hash)
                    stats.write_seconds += time.perf_counter() - written
                else:
                    content_hash = store.hash_text(a.text)
                    writes += [
                        ArticleWrite(link_id, page, extracted),
                        AnalysisWrite(link_id, analysis, content_hash),
                    ]
            written = time.perf_counter()
            for first in range(0, len(writes), 2 * batch):
                for result in save_batch(engine, writes[first : first + 2 * batch]):
                    if result.error is not None:
                        raise result.error
            stats.write_seconds += time.perf_counter() - written
            stats.import_seconds += imported - started
            stats.articles += len(made)
            if progress:
                print(f"  {stats}", file=sys.stderr, flush=True)
    finally:
        engine.dispose()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=200, help="articles per transaction")
    parser.add_argument("--per-article", action="store_true", help="one transaction each")
    args = parser.parse_args()
    started = time.perf_counter()
    stats = build_library(
        args.data_dir,
        args.articles,
        batch=args.batch,
        per_article=args.per_article,
        progress=True,
    )
    wall = time.perf_counter() - started
    print(f"library: {args.data_dir} in {wall:.1f} s; {stats}")


if __name__ == "__main__":
    main()
