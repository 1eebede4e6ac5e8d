"""Key phrases of an article: names, multi-word terms and repeated concepts, never generic.

Candidates are the runs of words between function words and punctuation (the idea
of RAKE), one to three words long, with a "de" allowed inside in Romance languages
("aceite de oliva"). Forms are merged by readerd.text.tags' matching key, so "modelo" and
"modelos" are one candidate, exactly as the tag store would merge them. Each is
scored like TF-IDF with wordfreq's corpus as the background (how often the article
says it, times how rare it is in the language), with bonuses for the title, the
opening and names. Generic words never qualify (see wordlists.is_generic).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from readerd.analyze import wordlists
from readerd.text.tags import TagIndex, fold, key_words, singular

MAX_WORDS = 3
OPENING = 3  # sentences that count as the article's opening
# A word, or "" for a number or a mark (which cut runs).
_TOKEN = re.compile(r"([^\W\d_]+(?:['’\-][^\W\d_]+)*)|\d[\d.,:]*|[^\w\s]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}|[\u30a0-\u30ff]{2,}")
_URL_HINT = re.compile(r"\w[.@/]\w|://")
_URL = re.compile(r"\S+://\S+|www\.\S+|\S+@\S+\.\S+|\S+\.(?:[a-z]{2,4})\b(?=\s|$)")
_CONNECTORS = {
    "es": frozenset({"de", "del"}),
    "ca": frozenset({"de", "del"}),
    "pt": frozenset({"de", "do", "da", "dos", "das"}),
    "fr": frozenset({"de", "du", "des"}),
    "it": frozenset({"di", "del", "della", "dei"}),
}
_ELIDING = frozenset({"fr", "it", "ca"})


class _Term:
    """What the text says about one candidate while it is read."""

    __slots__ = ("capitalised", "count", "first", "forms", "inside", "key")

    def __init__(self, key: tuple[str, ...], first: int) -> None:
        self.key = key
        self.first = first  # index of the first sentence holding it; -1 for the title
        self.count = 0
        self.capitalised = 0  # occurrences written with a capital inside a sentence
        self.inside = 0  # occurrences not at the start of a sentence
        self.forms: dict[str, int] = {}  # lower-case written forms, counted


@dataclass(frozen=True)
class KeyPhrase:
    """A scored candidate tag."""

    text: str  # as it is most often written, lower-case
    key: tuple[str, ...]  # matching key of each word (readerd.text.tags.key_words)
    score: float
    count: int
    filler: bool = False  # said once and no name: a tag only when too few others qualify


@dataclass(frozen=True)
class KeyPhrases:
    """The candidates of one article, best first, and where each sentence mentions them."""

    ranked: tuple[KeyPhrase, ...]
    in_sentence: tuple[frozenset[tuple[str, ...]], ...]  # candidate keys per sentence
    scores: dict[tuple[str, ...], float]  # score of each candidate, by key

    def score_of(self, key: tuple[str, ...]) -> float:
        """The score of a candidate, 0 when it is not one."""
        return self.scores.get(key, 0.0)


_CONTENT, _STOP, _LINK = 0, 1, 2
_kinds: dict[str | None, dict[str, tuple[int, str]]] = {}  # language -> word -> kind, key
# A content word of a run: (lower-case form, matching key, written with a capital,
# position in the run's lower-case forms, which hold the connectors too).
_Word = tuple[str, str, bool, int]
# A run of words between breaks: (starts inside its sentence, content words, every word
# lower-case, connectors such as "de" included).
_Run = tuple[bool, list[_Word], list[str]]


class _Reader:
    """Counts candidates across the title and the sentences of one article."""

    def __init__(self, language: str | None) -> None:
        self.language = language
        self.stop = _stopwords(language)
        self.connectors = _CONNECTORS.get(language or "", frozenset())
        self.terms: dict[tuple[str, ...], _Term] = {}
        # A daemon reads on and on: ~200 bytes a word, so at most ~10 MiB of them.
        if sum(len(words) for words in _kinds.values()) > 50_000:
            _kinds.clear()
        self.kinds = _kinds.setdefault(language, {})

    def read(self, sentence: str, index: int) -> frozenset[tuple[str, ...]]:
        """Count the 1..MAX_WORDS-word candidates of one sentence; returns their keys."""
        seen: set[tuple[str, ...]] = set()
        see = seen.add
        terms = self.terms
        in_text = index >= 0  # not the title
        for run_inside, words, lowers in self._runs(sentence):
            size = len(words)
            for start in range(size):
                lower, word_key, capitalised, position = words[start]
                inside = in_text and (start > 0 or run_inside)
                key: tuple[str, ...] = (word_key,)
                term = terms.get(key)
                if term is None:
                    term = terms[key] = _Term(key, index)
                term.count += 1
                forms = term.forms
                forms[lower] = forms.get(lower, 0) + 1
                if inside:
                    term.inside += 1
                    term.capitalised += capitalised
                see(key)
                if start + 1 == size:
                    break
                for end in range(start + 1, min(size, start + MAX_WORDS)):
                    _, word_key, capital, last = words[end]
                    key += (word_key,)
                    capitalised = capitalised and capital
                    term = terms.get(key)
                    if term is None:  # a phrase shows as first written; most are said once
                        term = terms[key] = _Term(key, index)
                        term.forms[" ".join(lowers[position : last + 1])] = 1
                    term.count += 1
                    if inside:
                        term.inside += 1
                        term.capitalised += capitalised
                    see(key)
        return frozenset(seen)

    def _runs(self, sentence: str) -> list[_Run]:
        """Runs of content words, cut at function words, numbers and punctuation."""
        if _URL_HINT.search(sentence):
            sentence = _URL.sub(" . ", sentence)
        split = bool(_CJK.search(sentence)) or "'" in sentence or "’" in sentence
        kinds = self.kinds
        runs: list[_Run] = []
        words: list[_Word] = []
        lowers: list[str] = []
        inside = linked = False  # linked: the last word is a connector
        first_word = True
        for token in _TOKEN.findall(sentence):
            for surface in (self._pieces(token) if split else (token,)) if token else ():
                lower = surface.lower()
                kind, key = kinds.get(lower) or self._kind(surface)
                if kind == _CONTENT:
                    if not words:
                        inside = not first_word
                    words.append((lower, key, surface[:1].isupper(), len(lowers)))
                    lowers.append(lower)
                    linked = False
                elif kind == _LINK and words and not linked:
                    lowers.append(lower)
                    linked = True
                elif words:  # a dangling connector is in no phrase's span
                    runs.append((inside, words, lowers))
                    words, lowers, linked = [], [], False
                first_word = False
            if not token and words:  # a number or a mark
                runs.append((inside, words, lowers))
                words, lowers, linked = [], [], False
        if words:
            runs.append((inside, words, lowers))
        return runs

    def _kind(self, surface: str) -> tuple[int, str]:
        """Whether a word is content, a stopword or a connector, and its matching key."""
        lower = surface.lower()
        cached = self.kinds.get(lower)
        if cached is None:
            if lower in self.connectors:
                cached = (_LINK, "")
            elif lower in self.stop or len(lower) < 2:
                cached = (_STOP, "")
            else:
                cached = (_CONTENT, singular(_fold(lower)))
            self.kinds[lower] = cached
        return cached

    def _pieces(self, word: str) -> list[str]:
        """A token as words: CJK as runs of ideographs or katakana, elisions and 's dropped."""
        if _CJK.search(word):
            return _CJK_RUN.findall(word)
        word = word.replace("’", "'")
        if "'" not in word:
            return [word]
        head, tail = word.rsplit("'", 1)
        if self.language in _ELIDING:
            return [tail]
        return [head] if tail.lower() == "s" else [word]


def _fold(lower: str) -> str:
    """fold() of a lower-case word; plain ASCII is its own fold, and most words are."""
    return lower if lower.isascii() else fold(lower)


@cache
def _stopwords(language: str | None) -> frozenset[str]:
    """What cuts a run: the language's stopwords and every common language's function words."""
    return wordlists.function_words() | wordlists.stopwords(language)


def key_phrases(
    sentences: Sequence[str], language: str | None, title: str | None = None
) -> KeyPhrases:
    """The article's candidate tags, best first, with their mentions per sentence."""
    reader = _Reader(language)
    reader.read(title or "", -1)
    in_sentence = tuple(reader.read(s, i) for i, s in enumerate(sentences))
    terms = reader.terms
    ranked = _rank(terms, language, frozenset(key_words(title or "")))
    scores = {phrase.key: phrase.score for phrase in ranked}
    return KeyPhrases(tuple(ranked), tuple(keys & scores.keys() for keys in in_sentence), scores)


def _rank(
    terms: dict[tuple[str, ...], _Term], language: str | None, title: frozenset[str]
) -> list[KeyPhrase]:
    scored: dict[tuple[str, ...], float] = {}
    shown: dict[tuple[str, ...], str] = {}
    for key, term in terms.items():
        if term.count >= 2 or len(key) == 1 or term.capitalised:
            text = _display(term)
            if _eligible(term, text, terms, language):
                scored[key] = _score(term, text, language, title)
                shown[key] = text
    _absorb_parts(scored, terms)
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        KeyPhrase(shown[key], key, score, terms[key].count, _is_filler(terms[key]))
        for key, score in ranked
    ]


def _is_filler(term: _Term) -> bool:
    return term.count == 1 and not (term.inside and term.capitalised == term.inside)


def _eligible(
    term: _Term, word: str, terms: dict[tuple[str, ...], _Term], language: str | None
) -> bool:
    """A name, a word said twice that is not generic, or a phrase that recurs as a unit;
    `word` is how the candidate is shown (_display)."""
    name = term.inside > 0 and term.capitalised == term.inside
    if len(term.key) == 1:
        return (
            (term.count >= 2 or name or term.first >= 0)  # a word only in the title is no topic
            and not wordlists.is_generic(word, language)
            and not wordlists.is_foreign(word, language)
        )
    if name:
        return True
    if term.count < 2:
        return False
    parts = [terms[(k,)].count for k in term.key if (k,) in terms]
    # A collocation: the words occur together in a good share of their uses.
    return term.count >= 0.25 * min(parts, default=term.count)


def _score(term: _Term, text: str, language: str | None, title: frozenset[str]) -> float:
    words = text.split()
    content = [w for w, k in zip(words, term.key, strict=False) if k]
    specificity = wordlists.specificity
    rarity = sum([specificity(w, language) for w in content]) / max(1, len(content))
    position = 1.0
    if title and set(term.key) <= title:
        position += 0.8
    if 0 <= term.first < OPENING or term.first == -1:
        position += 0.4
    name = 1.4 if term.inside and term.capitalised * 2 >= term.inside else 1.0
    length = 1.0 + 0.3 * (len(term.key) - 1)
    once = 0.5 if _is_filler(term) else 1.0
    return term.count**0.6 * rarity * position * name * length * once


def _absorb_parts(
    scored: dict[tuple[str, ...], float], terms: dict[tuple[str, ...], _Term]
) -> None:
    """A word used mostly inside a phrase gives way to it ("oliva" to "aceite de oliva")."""
    phrases = sorted((k for k in scored if len(k) > 1), key=lambda k: (-scored[k], k))
    for phrase in phrases:
        for part in {(k,) for k in phrase}:
            if part in scored and terms[phrase].count * 2 >= terms[part].count:
                scored[phrase] = max(scored[phrase], scored.pop(part))


def _display(term: _Term) -> str:
    """The most frequent written form; on a tie the shorter (the singular), then A-Z."""
    if len(term.forms) == 1:
        return next(iter(term.forms))
    return min(term.forms.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]


def choose_tags(
    phrases: KeyPhrases,
    language: str | None,
    vocabulary: Sequence[str] = (),
    *,
    limit: int = 5,
    least: int = 3,
) -> list[str]:
    """Up to `limit` tags: existing vocabulary the article names first, then the best
    candidates; a candidate that contains or is contained in a chosen one is skipped."""
    pool = _with_vocabulary(phrases, language, vocabulary)
    chosen: list[tuple[float, str, tuple[str, ...]]] = []
    top = pool[0][0] if pool else 0.0
    for score, text, key, filler in pool:
        if len(chosen) >= limit or (len(chosen) >= least and score < 0.2 * top):
            break
        if filler and len(chosen) >= least:
            continue
        words = _concepts(key)
        if any(words <= _concepts(k) or _variant(key, k) for _, _, k in chosen):
            continue
        # A phrase holding a chosen word says it better ("mezcla de expertos", "expertos").
        inside = [
            i for i, (s, _, k) in enumerate(chosen) if _concepts(k) < words and score >= 0.4 * s
        ]
        if inside:
            chosen[inside[0]] = (score, text, key)
            chosen = [c for i, c in enumerate(chosen) if i not in inside[1:]]
        elif not any(_concepts(k) < words for _, _, k in chosen):
            chosen.append((score, text, key))
    return [text for _, text, _ in chosen]


def _concepts(key: tuple[str, ...]) -> set[str]:
    """The words of a key, compounds split: "non-rem" holds "rem"."""
    return {part for word in key for part in word.split("-") if part}


def _variant(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two single words that are one stem with a short ending ("compost", "composting")."""
    if len(a) != 1 or len(b) != 1:
        return False
    short, long = sorted((a[0], b[0]), key=len)
    return len(short) >= 5 and long.startswith(short) and len(long) - len(short) <= 3


def _with_vocabulary(
    phrases: KeyPhrases, language: str | None, vocabulary: Sequence[str]
) -> list[tuple[float, str, tuple[str, ...], bool]]:
    """Candidates as (score, text, key, filler), best first; an existing tag's name replaces the
    candidate it matches (same key, or a typo away) and is preferred."""
    index = TagIndex((name, len(vocabulary) - i) for i, name in enumerate(vocabulary))
    by_key = {tuple(key_words(name)): name for name in vocabulary}
    pool = []
    for phrase in phrases.ranked:
        name = by_key.get(phrase.key) or (index.match(phrase.text) if vocabulary else None)
        if name and not wordlists.is_generic_tag(name, (language,)):
            pool.append((phrase.score * 1.5 + 1.0, name.lower(), phrase.key, False))
        else:
            pool.append((phrase.score, phrase.text, phrase.key, phrase.filler))
    pool.sort(key=lambda item: (-item[0], item[1]))
    return pool
