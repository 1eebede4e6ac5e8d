"""What both analysers draw from the text itself: its language, best sentences, key-phrase tags.

The offline analyser is built of these; the OpenAI one uses them to cut long articles
(select_sentences) and to tag when the model never called tag_article (keyword_tags).
Neither analyser imports the other: both import this module.
"""

from __future__ import annotations

from readerd.analyze.keyphrases import KeyPhrases, choose_tags, key_phrases
from readerd.analyze.sentences import NOISE, Sentence, read_sentences
from readerd.analyze.summary import select
from readerd.analyze.tools import MAX_TAGS, normalize_tags
from readerd.results import ArticleInput
from readerd.text.language import detect_language


def read(text: str, language: str | None, title: str | None) -> tuple[list[Sentence], KeyPhrases]:
    """Sentences and key phrases of a text; noise (code, captions) yields no phrase."""
    sentences = read_sentences(text)
    words = [s.text if s.kind != NOISE else "" for s in sentences]
    return sentences, key_phrases(words, language, title)


def select_sentences(text: str, max_chars: int, language: str | None = None) -> str:
    """The most representative sentences, in original order, within max_chars."""
    sentences, phrases = read(text, language, None)
    return select(sentences, phrases, max_chars)


def keyword_tags(
    text: str,
    language: str | None,
    *,
    title: str | None = None,
    vocabulary: tuple[str, ...] = (),
    limit: int = MAX_TAGS,
) -> tuple[str, ...]:
    """3-5 key-phrase tags: existing vocabulary the text names first, never a generic word."""
    _, phrases = read(text, language, title)
    return tuple(normalize_tags(choose_tags(phrases, language, vocabulary, limit=limit), limit))


def article_language(article: ArticleInput) -> str:
    """The article's language: as given, else detected, else English."""
    return article.language or detect_language(article.text[:20000]) or "en"
