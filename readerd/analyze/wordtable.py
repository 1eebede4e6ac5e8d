"""A read-only word -> small number table, packed for lists a process keeps for good.

A dict of 30,000 words costs ~150 bytes a word (the str objects, the int objects, the
hash table); this keeps the words in one UTF-8 string (a str would take 4 bytes a
character as soon as one word holds an emoji) and their hashes, offsets and numbers in
arrays, ~35 bytes a word, with an open-addressing index over the hashes that checks the
word itself, so it answers exactly as the dict would. It is filled one word at a time,
so building it leaves no crowd of short-lived objects behind in the allocator's arenas.
Lookups cost ~1 µs: fine behind the analyser's per-word caches, not for a hot loop.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

_EMPTY = -1


class WordTable:
    """Words and a non-negative number each, as dict(items) would hold them; read-only
    once built (mark() builds one word by word)."""

    __slots__ = ("_hashes", "_mask", "_offsets", "_slots", "_text", "_values")

    def __init__(self, items: Iterable[tuple[str, int]], size_hint: int = 1024) -> None:
        self._hashes = array("q")
        self._values = array("I")
        self._offsets = array("I", [0])
        self._text = bytearray()
        self._mask = _capacity(size_hint) - 1
        self._slots = array("i", [_EMPTY]) * (self._mask + 1)
        for word, value in items:
            self._put(word, value)
        self._text = bytearray(self._text)  # drops the growth's spare room

    def __len__(self) -> int:
        return len(self._hashes)

    def get(self, word: str) -> int | None:
        """The word's number, None when it is not in the table."""
        index = self._find(word, hash(word))
        return None if index < 0 else self._values[index]

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None

    def below(self, limit: int) -> Iterator[str]:
        """The words whose number is below `limit`, in the order they were put."""
        for i, value in enumerate(self._values):
            if value < limit:
                yield self._word(i)

    def _find(self, word: str, key: int) -> int:
        """The word's row, or -1."""
        slots, hashes, offsets = self._slots, self._hashes, self._offsets
        slot = key & self._mask
        encoded: bytes | None = None
        while (row := slots[slot]) != _EMPTY:
            if hashes[row] == key:
                encoded = word.encode() if encoded is None else encoded
                if self._text[offsets[row] : offsets[row + 1]] == encoded:
                    return row
            slot = (slot + 1) & self._mask
        return -1

    def mark(self, word: str, bits: int) -> None:
        """Set these bits of the word's number (0 for a new word): to build bit sets."""
        row = self._find(word, hash(word))
        if row >= 0:
            self._values[row] |= bits
        else:
            self._put(word, bits)

    def _put(self, word: str, value: int) -> None:
        key = hash(word)
        row = self._find(word, key)
        if row >= 0:  # as in a dict, the last value given wins
            self._values[row] = value
            return
        if 2 * (len(self._hashes) + 1) > self._mask + 1:
            self._grow()
        row = len(self._hashes)
        self._hashes.append(key)
        self._values.append(value)
        self._text += word.encode()
        self._offsets.append(len(self._text))
        self._place(row)

    def _place(self, row: int) -> None:
        slot = self._hashes[row] & self._mask
        while self._slots[slot] != _EMPTY:
            slot = (slot + 1) & self._mask
        self._slots[slot] = row

    def _grow(self) -> None:
        self._mask = 2 * (self._mask + 1) - 1
        self._slots = array("i", [_EMPTY]) * (self._mask + 1)
        for row in range(len(self._hashes)):
            self._place(row)

    def _word(self, i: int) -> str:
        return self._text[self._offsets[i] : self._offsets[i + 1]].decode()


def _capacity(size_hint: int) -> int:
    """A power of two at least twice the expected number of words."""
    capacity = 8
    while capacity < 2 * size_hint:
        capacity *= 2
    return capacity
