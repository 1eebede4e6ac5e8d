"""Word lists from maintained packages, loaded once per language and kept small.

Stopwords come from stopwords-iso (`stopwordsiso`), each language's most frequent
words from `wordfreq`'s data files, file extensions from the standard library's
built-in MIME table. All of them ship their data; nothing is downloaded.

wordfreq's own API (top_n_list) decodes a language's whole list, 300,000+ words, and
importing it pulls in regex, ftfy and langcodes: ~40 MiB that a daemon's main process
kept for good. The lists are read here instead, only as far as the words used
(_top_words), which gives the very words top_n_list gives, and kept packed (WordTable).
"""

from __future__ import annotations

import ctypes
import gzip
import importlib.util
import json
import mimetypes
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path

from readerd.analyze.wordtable import WordTable
from readerd.text.tags import fold, singular

GENERIC_TOP = 2000  # a word this common in its language is never a tag
ENGLISH_TOP = 1000  # English words leak into every language's pages
RANKED_TOP = 30000  # beyond this rank a word counts as fully specific
# Function words of these languages are never tags, whatever the article's language:
# quotes, code comments and borrowed terms bring them into pages of any language.
FUNCTION_WORD_LANGUAGES = ("en", "es", "fr", "pt", "it", "de", "ca", "nl")
MIN_LETTERS = 3
FOREIGN_TOP = 5000  # a word this common elsewhere and unknown here is a quotation's
FOREIGN_LANGUAGES = ("en", "es", "fr", "pt", "it", "de")
# Words whose verdicts are remembered, per function: a daemon's main process keeps them
# (~200 bytes each) between passes, and the common words are the ones asked again.
_CACHED_WORDS = 16384


@cache
def stopwords(language: str | None) -> frozenset[str]:
    """The stopwords-iso list of a language; the union of the common ones when unknown."""
    if language is None:
        return function_words()
    if language in FUNCTION_WORD_LANGUAGES:
        return _function_word_lists()[language]
    return _stopword_lists((language,)).get(language, frozenset())


@cache
def function_words() -> frozenset[str]:
    """Stopwords of every language in FUNCTION_WORD_LANGUAGES."""
    return frozenset().union(*_function_word_lists().values())


@cache
def _function_word_lists() -> dict[str, frozenset[str]]:
    lists = _stopword_lists(FUNCTION_WORD_LANGUAGES)
    return {language: lists.get(language, frozenset()) for language in FUNCTION_WORD_LANGUAGES}


def _stopword_lists(languages: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """stopwords-iso's lists of these languages, read from its JSON file: importing the
    package keeps every language's (~2.5 MiB), and a daemon uses a few."""
    spec = importlib.util.find_spec("stopwordsiso")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("stopwordsiso is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "stopwords-iso.json"
    every: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return {language: frozenset(every[language]) for language in languages if language in every}


@cache
def word_ranks(language: str | None) -> WordTable:
    """Rank (0 = most frequent) of a language's RANKED_TOP most frequent words; empty if
    unknown."""
    ranked = enumerate(_iter_top_words(language, RANKED_TOP))
    table = WordTable(((word, i) for i, word in ranked), size_hint=RANKED_TOP)
    _give_back_freed_memory()
    return table


@cache
def frequent_words(language: str | None) -> frozenset[str]:
    """The language's GENERIC_TOP most frequent words plus English's ENGLISH_TOP."""
    return frozenset(word_ranks("en").below(ENGLISH_TOP)) | frozenset(
        word_ranks(language).below(GENERIC_TOP)
    )


@cache
def frequent_keys(language: str | None) -> frozenset[str]:
    """frequent_words() folded and singular, so "imágenes" is caught by "imagen"."""
    return frozenset(singular(fold(word)) for word in frequent_words(language))


@cache
def file_extensions() -> frozenset[str]:
    """Extensions of the standard library's built-in MIME table (jpg, png, pdf…)."""
    table = mimetypes.MimeTypes()  # built-in table only: /etc/mime.types differs per machine
    found = {ext for strict in (True, False) for ext in table.types_map[strict]}
    return frozenset(ext.lstrip(".") for ext in found)


@lru_cache(maxsize=_CACHED_WORDS)
def is_generic(word: str, language: str | None) -> bool:
    """A word that says nothing as a tag: too short, a number, an extension, a function
    word of any common language, or one of its language's (or English's) most frequent."""
    word = word.lower()
    letters = len(word) if word.isalpha() else sum(ch.isalpha() for ch in word)
    if letters < MIN_LETTERS and not _is_cjk(word):
        return True
    return (
        word in function_words()
        or word in stopwords(language)
        or word in frequent_words(language)
        or word in file_extensions()
        or singular(word if word.isascii() else fold(word)) in frequent_keys(language)
    )


def is_generic_tag(tag: str, languages: tuple[str | None, ...] = ()) -> bool:
    """A tag that cannot head a digest group: one generic word, or only function words."""
    words = tag.lower().split()
    if len(words) == 1:
        return any(is_generic(words[0], language) for language in languages or (None,))
    return all(word in function_words() or not any(ch.isalpha() for ch in word) for word in words)


@lru_cache(maxsize=_CACHED_WORDS)
def is_foreign(word: str, language: str | None) -> bool:
    """A common word of another language that the article's language does not use: it
    comes from a quotation or a snippet, not from what the article is about."""
    own = word_ranks(language)
    if not own or word in own:
        return False
    # Whether it is among another FOREIGN_LANGUAGES' FOREIGN_TOP words.
    elsewhere = _common_words().get(word) or 0
    return bool(elsewhere & ~_language_bit(language))


@cache
def _common_words() -> WordTable:
    """Each FOREIGN_LANGUAGES' FOREIGN_TOP most frequent words, with a bit per language
    that has it (_language_bit); English's from word_ranks."""
    table = WordTable((), size_hint=len(FOREIGN_LANGUAGES) * FOREIGN_TOP)
    for language in FOREIGN_LANGUAGES:
        if language == "en":
            words = word_ranks("en").below(FOREIGN_TOP)
        else:
            words = _iter_top_words(language, FOREIGN_TOP)
        for word in words:
            table.mark(word, _language_bit(language))
    _give_back_freed_memory()
    return table


def _give_back_freed_memory() -> None:
    """Return the heap freed after building a table to the system (glibc's malloc_trim).

    Reading a list allocates ~5 MiB a language of short-lived words and tuples that the
    allocator otherwise keeps; on the daemon's main process that was ~8 MiB for three
    languages, for good. Tables are built once a language, so the trim is rare."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return
    trim(0)


def _language_bit(language: str | None) -> int:
    return 1 << FOREIGN_LANGUAGES.index(language) if language in FOREIGN_LANGUAGES else 0


# wordfreq.top_n_list leaves out what its number handling covers (wordfreq.numbers).
_DIGIT_SEQUENCE = re.compile(r"\d[\d.,]+")


def _top_words(language: str | None, n: int) -> list[str]:
    """A language's n most frequent words, as wordfreq.top_n_list(language, n) gives them;
    [] for a language wordfreq has no list of."""
    return list(_iter_top_words(language, n))


def _iter_top_words(language: str | None, n: int) -> Iterator[str]:
    """_top_words, one word at a time."""
    path = _wordlist_file(language) if language else None
    if path is None:
        return
    import msgpack  # wordfreq's own dependency; imported here to keep `readerd --help` fast

    found = 0
    # A cBpack file: a gzipped msgpack array of a header, then one list of words per
    # frequency band (centibels), most frequent first. Only the bands needed are decoded.
    with gzip.open(path, "rb") as infile:
        unpacker = msgpack.Unpacker(infile, raw=False)
        bands = unpacker.read_array_header() - 1
        header = unpacker.unpack()
        if header != {"format": "cB", "version": 1}:
            raise ValueError(f"unexpected wordfreq file header in {path}: {header!r}")
        for _ in range(bands):
            for word in unpacker.unpack():
                if not _DIGIT_SEQUENCE.match(word):
                    yield word
                    found += 1
                    if found >= n:
                        return


def _wordlist_file(language: str) -> Path | None:
    """wordfreq's best list of the language (large, else small), as its "best" wordlist;
    found without importing wordfreq."""
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("wordfreq is not installed")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    for size in ("large", "small"):
        path = data / f"{size}_{language}.msgpack.gz"
        if "_" not in language and "/" not in language and path.is_file():
            return path
    return None


@lru_cache(maxsize=_CACHED_WORDS)
def specificity(word: str, language: str | None) -> float:
    """0.2 for the most frequent words up to 1.0 for rare ones, by wordfreq rank."""
    rank = word_ranks(language).get(word)
    if rank is None:
        return 1.0
    return 0.2 + 0.8 * min(1.0, rank / RANKED_TOP) ** 0.5


def _is_cjk(word: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" for ch in word)
