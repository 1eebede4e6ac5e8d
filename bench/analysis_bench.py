"""Analysis figures, measured through the real pipeline, a real SQLite file and a local LLM server.

Run by hand from the repo root:  .venv/bin/python bench/analysis_bench.py [--articles 500]

1. Long article: one 20,000-word article through the OpenAIAnalyzer with the default
   READERD_LLM_CONTEXT_TOKENS. Prints the requests made and the coverage recorded in
   SQLite (how much of the text the summary saw; must be >= 0.95).
2. Tag vocabulary: N articles (default 500), each tagged by a scripted model with 3 of a
   30-topic base set, every tag spelt as the model fancies: case, plurals, accents,
   separators, or a one-letter typo (in words of 7+ letters). Prints the tags stored, how
   many are used once and their share (must be <= 15%), next to what readerd would have
   stored by lower-casing alone.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readerd import store
from readerd.analyze import OpenAIAnalyzer, ServerProfiles
from readerd.analyze.tools import normalize_tag
from readerd.config import Settings
from readerd.pipeline import process_due
from readerd.results import Extracted, FetchedPage, SavedLink
from readerd.store import views
from readerd.store.database import make_engine, upgrade_database
from readerd.text.language import count_words
from tests.servers.openai_compat import (
    MODEL,
    AnalysisResponder,
    OpenAICompatServer,
    article_text,
    call,
    tool_reply,
)

TOPICS = [
    "machine learning", "climate change", "energía solar", "recetas", "cocina", "python",
    "open source", "privacidad", "economía", "política", "salud", "sleep", "gardening",
    "compost", "cities", "urbanismo", "bicicletas", "history", "science", "space exploration",
    "nutrición", "startups", "databases", "security", "self-hosting", "música", "photography",
    "education", "mental health", "travel",
]  # fmt: skip
WORDS = [
    "harbour",
    "cargo",
    "ship",
    "crane",
    "river",
    "city",
    "bridge",
    "market",
    "trade",
    "winter",
    "summer",
    "policy",
    "council",
    "budget",
    "school",
    "teacher",
    "student",
    "garden",
    "soil",
    "water",
    "energy",
    "solar",
    "panel",
    "battery",
    "grid",
    "train",
    "station",
    "bicycle",
    "street",
    "museum",
    "history",
    "science",
    "research",
    "data",
    "model",
    "network",
    "privacy",
    "law",
]


def _settings(data_dir: Path, server: OpenAICompatServer, concurrency: int) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        analyzer="openai",
        llm_base_url=server.base_url,
        llm_model=MODEL,
        llm_api_key="sk-bench",
        llm_concurrency=concurrency,
    )


def _add_articles(settings: Settings, texts: list[tuple[str, str]]) -> Any:
    """A migrated database holding these (title, text) articles, extracted and due."""
    engine = make_engine(settings)
    upgrade_database(engine)
    urls = [f"https://example.org/{i}" for i in range(len(texts))]
    store.import_links(
        engine, [SavedLink("bench", u, u, title=t) for u, (t, _) in zip(urls, texts, strict=True)]
    )
    for link_id, (url, (title, text)) in enumerate(zip(urls, texts, strict=True), 1):
        page = FetchedPage(url, 200, "text/html", b"")
        extracted = Extracted(text=text, title=title, language="en", word_count=count_words(text))
        store.save_article(engine, link_id, page, extracted)
    return engine


def long_article(words: int, rng: random.Random) -> str:
    """Paragraphs of plain English sentences, `words` words in all."""
    paragraphs, total, n = [], 0, 0
    while total < words:
        n += 1
        sentences = []
        for _ in range(6):
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 18)))
            sentences.append(f"In part {n} the {body}.")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += count_words(paragraph)
    return "\n\n".join(paragraphs)


def bench_long_article(words: int) -> None:
    """One long article through the analyser: requests made and the coverage recorded."""
    text = long_article(words, random.Random(1))
    with OpenAICompatServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.respond_with(AnalysisResponder())
        settings = _settings(Path(tmp), server, 1)
        engine = _add_articles(settings, [("A very long report", text)])
        analyzer = OpenAIAnalyzer(settings, profiles=ServerProfiles())
        started = time.perf_counter()
        report = asyncio.run(process_due(settings, engine, analyzer))
        elapsed = time.perf_counter() - started
        view = views.get_link(engine, 1) or {}
    analysis = view.get("analysis") or {}
    print(
        f"long article: {count_words(text)} words, context {settings.llm_context_tokens} tokens: "
        f"{len(server.requests)} requests, {report.done} analysed, "
        f"coverage recorded {analysis.get('coverage', 0):.2f}  ({elapsed:.1f} s)"
    )


# --- the vocabulary figure ----------------------------------------------------------

_PLURAL_ES = re.compile(r"(?:ión|[dlnrz])$")


def _plural(word: str) -> str:
    """A plural (or singular, when it looks plural) of one word, English or Spanish style."""
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s"):
        return word[:-1]
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if _PLURAL_ES.search(word) else "s")


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the keyboard, never on the first letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]


def variant(topic: str, rng: random.Random) -> str:
    """How a careless model might spell a topic this time."""
    words = topic.split(" ")
    kind = rng.choice(("as is", "case", "plural", "accents", "separator", "typo", "typo"))
    if kind == "plural":
        words[-1] = _plural(words[-1])
    elif kind == "accents":
        folded = unicodedata.normalize("NFKD", topic)
        words = "".join(c for c in folded if not unicodedata.combining(c)).split(" ")
    elif kind == "typo":
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        if len(words[longest]) >= 7:
            words[longest] = _typo(words[longest], rng)
    text = rng.choice(("-", "_", " ")).join(words) if kind == "separator" else " ".join(words)
    if kind == "separator" and "-" in topic:
        text = topic.replace("-", rng.choice((" ", "_")))
    return rng.choice((text, text.title(), text.upper())) if kind == "case" else text


def _article(i: int, topics: list[str]) -> tuple[str, str]:
    title = f"Article {i}: " + ", ".join(topics)
    body = (
        f"Article number {i} looks at {topics[0]}, {topics[1]} and {topics[2]}. "
        "It explains the background, gives several examples and ends with advice for readers."
    )
    return title, body


def bench_vocabulary(articles: int, concurrency: int) -> None:
    """Articles tagged with made-up spellings: how many tags are stored, how many used once."""
    rng = random.Random(7)
    plan = [rng.sample(TOPICS, 3) for _ in range(articles)]
    proposed: list[str] = []

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        number = int(re.search(r"Article number (\d+)", article_text(request)).group(1))  # type: ignore[union-attr]
        tags = [variant(t, random.Random(f"{number}-{t}")) for t in plan[number]]
        proposed.extend(tags)
        summary = {
            "summary": f"Article {number} explains {', '.join(plan[number])} with examples "
            "and practical advice for readers who want to start.",
            "key_points": ["It explains the background.", "It ends with advice."],
            "language": "en",
        }
        return tool_reply(call("summarize_article", summary), call("tag_article", {"tags": tags}))

    with OpenAICompatServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.respond_with(respond)
        settings = _settings(Path(tmp), server, concurrency)
        engine = _add_articles(settings, [_article(i, t) for i, t in enumerate(plan)])
        analyzer = OpenAIAnalyzer(settings, profiles=ServerProfiles())
        started = time.perf_counter()
        report = asyncio.run(process_due(settings, engine, analyzer))
        elapsed = time.perf_counter() - started
        counts = [row["count"] for row in views.tag_counts(engine)]
    single = sum(1 for c in counts if c == 1)
    print(
        f"vocabulary: {articles} articles, {report.done} analysed, {len(server.requests)} "
        f"requests ({elapsed:.1f} s); {len(proposed)} tags proposed in "
        f"{len({normalize_tag(t) for t in proposed})} spellings"
    )
    print(
        f"  readerd stored {len(counts)} tags, {single} used once: "
        f"{single / max(1, len(counts)):.1%} single-use (limit 15%)"
    )
    plain = Counter(normalize_tag(t) for t in proposed)
    plain_single = sum(1 for c in plain.values() if c == 1)
    print(
        f"  lower-casing alone would store {len(plain)} tags, {plain_single} used once: "
        f"{plain_single / max(1, len(plain)):.1%} single-use"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--llm-concurrency", type=int, default=4)
    args = parser.parse_args()
    bench_long_article(args.words)
    bench_vocabulary(args.articles, args.llm_concurrency)


if __name__ == "__main__":
    main()
