"""The offline analyser's word lists: read as wordfreq gives them, kept without wordfreq."""

from __future__ import annotations

import subprocess
import sys

import wordfreq

from readerd.analyze import wordlists
from readerd.analyze.wordtable import WordTable


def test_word_lists_are_wordfreqs_own() -> None:
    for language in ("en", "es", "ja"):
        expected = wordfreq.top_n_list(language, wordlists.RANKED_TOP)
        ranks = wordlists.word_ranks(language)
        assert len(ranks) == len(expected)
        assert all(ranks.get(word) == i for i, word in enumerate(expected[:3000]))
        assert ranks.get(expected[-1]) == len(expected) - 1
    assert len(wordlists.word_ranks("xx")) == 0
    assert not wordlists.is_foreign("the", None)


def test_word_table_answers_as_a_dict() -> None:
    words = {"casa": 3, "house": 0, "maison": 7, "ĉambro": 1, "家": 2}
    table = WordTable(words.items())
    assert all(table.get(w) == n for w, n in words.items())
    assert table.get("casas") is None and "casas" not in table and "casa" in table
    assert sorted(table.below(3)) == sorted(w for w, n in words.items() if n < 3)


def test_analysing_imports_neither_wordfreq_nor_stopwordsiso() -> None:
    script = (
        "import sys\n"
        "from readerd.analyze.offline import analyze_offline\n"
        "from readerd.results import ArticleInput\n"
        "text = 'Solar panels on the roof turn sunlight into power. ' * 20\n"
        "a = analyze_offline(ArticleInput('https://example.org/', 'Solar power', text, 'en'))\n"
        "assert a.tags, a\n"
        "heavy = ('wordfreq', 'stopwordsiso', 'ftfy', 'regex')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
