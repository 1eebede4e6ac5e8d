"""The embedded offline analyser: extractive summary, key points and keyword tags."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from readerd.analyze import make_analyzer
from readerd.analyze.offline import STOPWORDS, analyze_offline, split_sentences
from readerd.config import Settings
from readerd.results import ArticleInput

FIXTURES = Path(__file__).parent / "fixtures" / "llm"
ENGLISH = (FIXTURES / "article_en.txt").read_text()
SPANISH = (FIXTURES / "article_es.txt").read_text()


def article(text: str, language: str | None = None, **extra: object) -> ArticleInput:
    return ArticleInput(
        url="https://example.org/a",
        title=extra.pop("title", None),
        text=text,
        language=language,
        **extra,
    )  # type: ignore[arg-type]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("text", "language", "stopwords", "expected_tag"),
    [
        (ENGLISH, "en", {"the", "and", "that"}, "bike lanes"),
        (SPANISH, "es", {"que", "los", "del"}, "agua"),
    ],
)
def test_summary_and_tags_come_from_the_article(
    text: str, language: str, stopwords: set[str], expected_tag: str
) -> None:
    result = analyze_offline(article(text))  # language detected, not given
    assert result.language == language
    assert (result.analyzer, result.model, result.coverage) == ("offline", "offline-v1", 1.0)
    summary_sentences = split_sentences(result.summary)
    assert 2 <= len(summary_sentences) <= 4
    assert all(s in flat(text) for s in summary_sentences)
    assert 3 <= len(result.key_points) <= 5
    assert all(p.rstrip("…") in flat(text) for p in result.key_points)
    assert not set(result.key_points) & set(summary_sentences)
    assert 3 <= len(result.tags) <= 5 and expected_tag in result.tags
    assert not set(result.tags) & stopwords
    assert all(word in text.lower() for tag in result.tags for word in tag.split())


def test_summary_keeps_the_original_order() -> None:
    result = analyze_offline(article(ENGLISH, "en"))
    positions = [flat(ENGLISH).index(s) for s in split_sentences(result.summary)]
    assert positions == sorted(positions)


def test_existing_vocabulary_is_preferred_when_it_appears() -> None:
    vocabulary = ("urbanism", "Traffic", "bike lanes", "Air Pollution")
    result = analyze_offline(article(ENGLISH, "en", vocabulary=vocabulary))
    assert result.tags[:2] == ("bike lanes", "traffic")  # found in the text, most frequent first
    assert "urbanism" not in result.tags  # absent from the text
    assert "air pollution" not in result.tags  # mentioned only once


def test_spanish_sentences_split_at_inverted_marks_not_abbreviations() -> None:
    text = (
        "El Sr. García llegó ayer a la ciudad. ¿Qué pasó después? ¡Nada de nada! "
        "La Dra. Ruiz lo confirmó."
    )
    assert split_sentences(text) == [
        "El Sr. García llegó ayer a la ciudad.",
        "¿Qué pasó después?",
        "¡Nada de nada!",
        "La Dra. Ruiz lo confirmó.",
    ]


def test_english_initials_and_abbreviations_do_not_split() -> None:
    text = "J. K. Rowling met Dr. Smith, e.g. at 9 a.m. on Monday. Then they left."
    assert split_sentences(text) == [
        "J. K. Rowling met Dr. Smith, e.g. at 9 a.m. on Monday.",
        "Then they left.",
    ]


def test_japanese_does_not_break() -> None:
    text = "東京は日本の首都です。東京の人口は約千四百万人です。東京タワーは有名な観光地です。"
    result = analyze_offline(article(text))
    assert result.language == "ja"
    assert all(s in text for s in split_sentences(result.summary))
    assert "東京" in result.tags


def test_german_without_a_full_list_does_not_break() -> None:
    text = (
        "Die Stadt Berlin baut neue Radwege entlang der großen Straßen. Der Senat hat beschlossen, "
        "dass bis 2030 alle Hauptstraßen geschützte Radwege bekommen. Die Radfahrer freuen sich "
        "über die neuen Radwege. Autofahrer sind weniger begeistert, weil viele Parkplätze "
        "verschwinden."
    )
    result = analyze_offline(article(text))
    assert result.language == "de" and "radwege" in result.tags
    assert not set(result.tags) & {"die", "der", "und", "dass"}


@pytest.mark.parametrize("text", ["", "   \n\n  ", "Hi.", "12345 67890"])
def test_empty_ish_text_is_handled(text: str) -> None:
    result = analyze_offline(article(text, title="A saved link"))
    assert result.summary  # the text itself, or the title when there is none
    assert isinstance(result.tags, tuple) and len(result.tags) <= 5
    assert result.language


def test_deterministic() -> None:
    assert analyze_offline(article(SPANISH, "es")) == analyze_offline(article(SPANISH, "es"))


def test_fast_on_a_5000_word_article() -> None:
    text = "\n\n".join([ENGLISH] * 20)  # about 5,000 words
    assert len(text.split()) >= 5000
    analyze_offline(article(text, "en"))  # warm-up
    best = min(_timed(article(text, "en")) for _ in range(3))
    assert best < 0.1


def _timed(item: ArticleInput) -> float:
    started = time.perf_counter()
    analyze_offline(item)
    return time.perf_counter() - started


def test_stopword_lists_cover_english_and_spanish() -> None:
    assert {"the", "and", "of"} <= STOPWORDS["en"] and {"que", "los", "de"} <= STOPWORDS["es"]


def test_make_analyzer_defaults_to_offline() -> None:
    analyzer = make_analyzer(Settings(_env_file=None, analyzer="auto", llm_model=None))  # type: ignore[call-arg]
    assert (analyzer.name, analyzer.model, analyzer.prompt_version) == (
        "offline",
        "offline-v1",
        "offline-1",
    )
    result = asyncio.run(analyzer.analyze(article(ENGLISH, "en")))
    assert result.summary and result.tags
