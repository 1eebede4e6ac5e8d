"""Tag vocabulary: normalised matching keys, near-duplicates, and relevance to an article.

A tag has two forms. Its *display* form is what people read and what is stored
("energía", "machine learning"). Its *key* is for matching only: accents folded
(NFKD), lower-case, separators (space, "-", "_", "/") dropped and every word
reduced by simple English and Spanish plural rules, so "Machine-Learning",
"machine_learning" and "machine learning" share one key, as do "Recetas" and
"receta", "energía" and "energia", "cities" and "city". A typo in a long tag is
matched too (TagIndex), against the tag and every spelling once filed under it.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

MAX_TAG_CHARS = 40
VOCABULARY_SIZE = 40  # tags offered to the model per article

# Automatic matching merges a spelling into an existing tag, so it is strict: a typo
# (one edit, transpositions included) in a key of 7+ letters, two edits from 12, and
# never at the first letter. Flags shown to people (`readerd tags`) are looser.
MATCH_DISTANCES = ((12, 2), (7, 1))
FLAG_DISTANCES = ((8, 2), (5, 1))

_EDGES = "#\"'`“”‘’«».,;:!?()[]{}<>*-_ "
_SPACES = re.compile(r"[\s_]+")
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# A final "e" left after dropping "s" is dropped too after these letters, so that
# "boxes"/"box", "ciudades"/"ciudad" and "canciones"/"canción" meet. The same rule
# applies to the singular ("machine" -> "machin"), so keys stay consistent.
_E_AFTER = set("xzsdlnrjy")


def display_tag(raw: str) -> str:
    """The readable form: lower-case, '_' and runs of spaces as one space, edges trimmed."""
    text = unicodedata.normalize("NFC", raw)
    return _SPACES.sub(" ", text).strip(_EDGES).lower()[:MAX_TAG_CHARS].strip()


def fold(text: str) -> str:
    """Lower-case ASCII-ish text: accents removed (NFKD), 'ß' as 'ss'."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered.replace("ß", "ss"))
    return _NON_ASCII.sub(_without_combining, decomposed)


def _without_combining(match: re.Match[str]) -> str:
    """Only characters outside ASCII can be combining marks: most text skips this call."""
    return "" if unicodedata.combining(match[0]) else match[0]


def singular(word: str) -> str:
    """A folded word with a simple English/Spanish plural (-s, -es, -ies) removed."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("s"):
        word = word[:-1]
    if word.endswith("ie"):
        return word[:-2] + "y"
    if len(word) > 3 and word.endswith("e") and word[-2] in _E_AFTER:
        return word[:-1]
    return word


def key_words(tag: str) -> list[str]:
    """The tag's words, folded and singular: 'Machine-Learning' -> ['machin', 'learning']."""
    return [singular(w) for w in _WORD.findall(fold(tag))]


def tag_key(tag: str) -> str:
    """The matching key: key words joined without separators."""
    return "".join(key_words(tag))


def edit_distance(a: str, b: str, cap: int = 2) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit); cap+1 if over."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > cap:
            return cap + 1
        prev2, prev = prev, row
    return prev[-1]


def flat_form(tag: str) -> str:
    """The tag folded, without separators, words as written: a typo may hide a plural."""
    return "".join(_WORD.findall(fold(tag)))


def _allowed(a: str, b: str, distances: tuple[tuple[int, int], ...]) -> int:
    """Edits allowed between two forms, by the longer one's length; 0 if first letters differ."""
    if not a or not b or a[0] != b[0]:
        return 0
    longer = max(len(a), len(b))
    return next((edits for length, edits in distances if longer >= length), 0)


def _deletions(form: str) -> set[str]:
    """The form and every variant with one letter removed: one-edit neighbours share one."""
    return {form} | {form[:i] + form[i + 1 :] for i in range(len(form))}


class TagIndex:
    """Existing tags by key, with their use counts, for matching new spellings.

    Each tag is indexed under its key and its flat form, so that "startuss" (a typo
    that defeats the plural rule) still finds "startups"; and so is every alias (a
    spelling once matched to the tag), so a tag first spelt with a typo still draws
    the typos of its right spelling.
    """

    def __init__(self, tags: Iterable[tuple[str, int]] = ()) -> None:
        self.by_key: dict[str, tuple[str, int]] = {}
        self.names: set[str] = set()
        self.aliases: dict[str, str] = {}  # spelling -> tag name
        self._owner: dict[str, str] = {}  # key or flat form -> key
        self._one_edit: dict[str, set[str]] = {}  # deletion variant -> forms
        self._by_head: dict[tuple[str, int], set[str]] = {}  # (first letter, length) -> forms
        for name, uses in tags:
            self.add(name, uses)

    def add(self, name: str, uses: int = 1) -> None:
        """Index one tag; of two tags with one key, the more used one represents it."""
        key = tag_key(name)
        if not key:
            return
        self.names.add(name)
        current = self.by_key.get(key)
        if current is None or uses > current[1]:
            self.by_key[key] = (name, uses)
        self._owner[key] = key
        self._index(key, flat_form(name), owner=key)

    def add_alias(self, alias: str, name: str) -> None:
        """Index another spelling of an indexed tag: it matches, and so do its typos."""
        owner = tag_key(name)
        if owner not in self.by_key or not tag_key(alias):
            return
        self.aliases[alias] = name
        self._index(tag_key(alias), flat_form(alias), owner=owner)

    def _index(self, *forms: str, owner: str) -> None:
        for form in set(forms) - {""}:
            self._owner.setdefault(form, owner)
            for variant in _deletions(form):
                self._one_edit.setdefault(variant, set()).add(form)
            self._by_head.setdefault((form[0], len(form)), set()).add(form)

    def _near(self, form: str, distances: tuple[tuple[int, int], ...]) -> dict[str, int]:
        """Indexed forms within the allowed edits of `form`, with their distances."""
        found: set[str] = set()
        for variant in _deletions(form):
            found |= self._one_edit.get(variant, set())
        if len(form) + 2 >= distances[0][0]:  # two edits may be allowed: similar lengths
            for length in range(len(form) - 2, len(form) + 3):
                found |= self._by_head.get((form[0], length), set())
        near = {other: edit_distance(form, other) for other in found}
        return {o: d for o, d in near.items() if d <= _allowed(form, o, distances)}

    def close_keys(self, name: str, distances: tuple[tuple[int, int], ...]) -> dict[str, int]:
        """Keys of other tags a typo away from `name` (stemmed or as written), with distances."""
        key = tag_key(name)
        close: dict[str, int] = {}
        for form in {key, flat_form(name)} - {""}:
            for other, distance in self._near(form, distances).items():
                owner = self._owner[other]
                if owner != key:
                    close[owner] = min(distance, close.get(owner, distance))
        return close

    def match(
        self, proposed: str, distances: tuple[tuple[int, int], ...] = MATCH_DISTANCES
    ) -> str | None:
        """The existing tag a proposed spelling means: same key, else the nearest close key."""
        key = tag_key(proposed)
        if not key:
            return None
        if proposed in self.names:  # of several spellings with one key, the very same one
            return proposed
        if proposed in self.aliases:
            return self.aliases[proposed]
        if key in self._owner and self._owner[key] in self.by_key:
            return self.by_key[self._owner[key]][0]
        ranked = sorted(
            (distance, -self.by_key[other][1], self.by_key[other][0])
            for other, distance in self.close_keys(proposed, distances).items()
        )
        return ranked[0][2] if ranked else None


def similar_tags(names: Iterable[str]) -> dict[str, list[str]]:
    """For each tag, the other tags that look like spellings of it (same key or a typo away)."""
    names = list(dict.fromkeys(names))
    keys = {name: tag_key(name) for name in names}
    by_key: dict[str, list[str]] = {}
    for name, key in keys.items():
        by_key.setdefault(key, []).append(name)
    index = TagIndex((name, 1) for name in names)
    similar: dict[str, list[str]] = {}
    for name, key in keys.items():
        if not key:
            continue
        close = {other for near in index.close_keys(name, FLAG_DISTANCES) for other in by_key[near]}
        close |= {other for other in by_key[key] if other != name}
        if close:
            similar[name] = sorted(close)
    return similar


_LONGEST_MENTION = 3  # words; a longer tag is never looked for in the text


@lru_cache(maxsize=65536)
def _phrase(name: str) -> tuple[str, ...]:
    """A tag's key words, cached: the same vocabulary is matched against every article."""
    return tuple(key_words(name))


def _mentions(words: list[str], phrases: set[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    """How often each phrase occurs in `words` as consecutive words.

    Only positions whose word starts some phrase are looked at, so the cost follows
    the text's length and not the number of its n-grams.
    """
    lengths: dict[str, set[int]] = {}
    for phrase in phrases:
        lengths.setdefault(phrase[0], set()).add(len(phrase))
    counts: Counter[tuple[str, ...]] = Counter()
    for i, word in enumerate(words):
        for n in lengths.get(word, ()):
            candidate = tuple(words[i : i + n])
            if len(candidate) == n and candidate in phrases:  # a slice past the end is shorter
                counts[candidate] += 1
    return counts


def relevant_vocabulary(
    tags: Iterable[tuple[str, int]],
    title: str | None,
    text: str,
    limit: int = VOCABULARY_SIZE,
) -> list[str]:
    """Up to `limit` existing tags: those the article mentions first, then the most used."""
    phrased = [(name, uses, _phrase(name)) for name, uses in tags]
    wanted = {phrase for _, _, phrase in phrased if 0 < len(phrase) <= _LONGEST_MENTION}
    body = _mentions(key_words(text), wanted) if wanted else Counter()
    heading = _mentions(key_words(title or ""), wanted) if wanted else Counter()
    scored: list[tuple[int, int, str]] = []
    for name, uses, phrase in phrased:
        hits = body.get(phrase, 0) + 3 * heading.get(phrase, 0)
        scored.append((-hits, -uses, name))
    scored.sort()
    mentioned = [name for hits, _, name in scored if hits < 0]
    popular = sorted((s for s in scored if s[0] == 0), key=lambda s: (s[1], s[2]))
    return (mentioned + [name for _, _, name in popular])[:limit]
