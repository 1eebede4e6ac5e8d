"""The embedded default analyser: extractive summary and keyword tags, no network.

Deterministic and fast: sentences are scored by the frequency of the content words
they hold (stopwords removed where a list exists for the language), the best ones
become the summary and key points in their original order, the most frequent
words and word pairs become the tags.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from readerd.analyze.tools import MAX_SUMMARY_CHARS, MAX_TAGS, normalize_tag, normalize_tags
from readerd.language import detect_language
from readerd.results import Analysis, ArticleInput

OFFLINE_MODEL = "offline-v1"
OFFLINE_PROMPT_VERSION = "offline-1"
MAX_KEY_POINT_CHARS = 200

_STOPWORDS_TEXT = {
    "en": """a about above after again against all also am an and any are aren't as at be
        because been before being below between both but by can can't could did didn't do does
        doesn't doing don't down during each even ever every few for from further get gets got had
        has have having he her here hers herself him himself his how however i i'm i've if in into
        is isn't it it's its itself just least less let's like made make many may me might more
        most much must my myself new no nor not now of off often on once one only or other our
        ours ourselves out over own per quite rather really said same say says see seen she should
        since so some still such than that that's the their theirs them themselves then there
        there's these they they're this those though through thus to too two under until up upon
        us use used using very via was wasn't way we we're well were weren't what when where
        whether which while who whom whose why will with within without won't would yet you
        you're your yours yourself also around back first last three take takes per cent""",
    "es": """a al algo algunas algunos ante antes como con contra cual cuales cuando de del desde
        donde durante e el ella ellas ellos en entre era eran es esa esas ese eso esos esta estaba
        estaban estado estamos estan están estar este esto estos fue fueron fui ha había habían han
        hasta hay la las le les lo los mas más me mi mis mucho muchos muy nada ni no nos nosotros
        o os otra otras otro otros para pero poco por porque que qué quien quienes se sea sean según
        ser si sí sido siempre sin sino sobre son su sus también tan tanto te tiene tienen todo
        todos tras tu tus un una unas uno unos y ya yo cada dos tres puede pueden hacer hace hecho
        ese aunque así además bien cómo dónde cuándo sólo solo ahora donde mientras está
        estas ser será serán sería han haber hemos he has tener tenía ello cual vez veces año años
        dijo según parte uno mismo misma mismos tiempo otro luego menos""",
    "fr": """au aux avec ce ces cette dans de des du elle en et eux il ils je la le les leur lui
        ma mais me même mes moi mon ne nos notre nous on ou où par pas pour qu que qui sa se ses son
        sur ta te tes toi ton tu un une vos votre vous est sont été être avoir ont fait plus comme
        aussi tout tous très bien sans entre deux""",
    "pt": """a ao aos as com como da das de do dos e é ela elas ele eles em entre era essa esse
        esta este eu foi foram há isso isto já lhe mais mas me mesmo muito na não nas nem no nos
        nós o os ou para pela pelas pelo pelos por qual quando que se sem ser seu seus sua suas
        também te tem têm um uma umas uns são está estão dois""",
    "de": """aber alle als also am an auch auf aus bei bin bis bist da damit dann das dass dem
        den der des die dies diese dieser dieses doch dort du durch ein eine einem einen einer
        eines er es für gegen hat hatte haben hier ich ihr ihre im in ist ja jede jedem jeden jeder
        kann kein keine man mehr mit muss nach nicht noch nur ob oder ohne sehr sein seine sich
        sie sind so über um und uns unter vom von vor war waren was weil wenn werden wie wir wird
        wurde wurden zu zum zur zwei""",
    "it": """a ad al alla alle agli ai anche che chi ci come con da dal dalla dei del della delle
        di e è ed gli ha hanno il in io la le lei lo loro lui ma mi nei nel nella non noi o per
        più questa queste questo questi se si sono su sua sue suo suoi tra un una uno anche
        essere stato molto""",
}
STOPWORDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in _STOPWORDS_TEXT.items()}
_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

_ABBREVIATIONS_TEXT = """mr mrs ms dr drs dra dras prof profa sr sra sras srta sres jr st vs
    etc fig no nos vol approx dept est inc ltd co corp jan feb mar apr jun jul aug sep sept
    oct nov dec ud uds vd vds dña pág págs núm art cap aprox tel av avda gral lic ing arq
    ej cf ca pp"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+|[。！？]+[」』”’)]*")
_OPENERS = "¿¡\"'“‘«([—–-"
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}|[\u30a0-\u30ff]{2,}")


def split_sentences(text: str) -> list[str]:
    """Sentences of the text: paragraphs split at . ! ? … 。 ignoring abbreviations and initials."""
    sentences: list[str] = []
    for paragraph in text.splitlines():
        paragraph = " ".join(paragraph.split())
        if paragraph:
            sentences += _split_paragraph(paragraph)
    return sentences


def _split_paragraph(paragraph: str) -> list[str]:
    """Sentences of one paragraph."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end()
        following = paragraph[end : end + 1]
        if not following:
            break
        if match.group(0)[0] not in "。！？":
            if not (following.isupper() or following.isdigit() or following in _OPENERS):
                continue
            if match.group(0)[0] == "." and _ends_with_abbreviation(
                paragraph[start : match.start()]
            ):
                continue
        out.append(paragraph[start:end].strip())
        start = end
    if tail := paragraph[start:].strip():
        out.append(tail)
    return out


def _ends_with_abbreviation(left: str) -> bool:
    """Whether the word before a period is an abbreviation or an initial (Sr., e.g., J.)."""
    words = left.split()
    if not words:
        return False
    word = words[-1].lower().lstrip(_OPENERS)
    return (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS or "." in word


def tokenize(text: str, language: str | None = None) -> list[str]:
    """Lower-case words; CJK text becomes runs of two or more ideographs or katakana."""
    words: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        if _CJK.search(word):
            words += _CJK_RUN.findall(word)
        elif language in ("fr", "it", "ca") and "'" in word:
            words.append(word.rsplit("'", 1)[-1])
        else:
            words.append(word.removesuffix("'s"))
    return words


def stopwords_for(language: str | None) -> frozenset[str]:
    """The stopword list of a language; all lists when it is unknown; none for others."""
    if language is None:
        return _ALL_STOPWORDS
    return STOPWORDS.get(language, frozenset())


@dataclass
class _Doc:
    """The text cut into sentences and words, with content-word weights."""

    sentences: list[str]
    words: list[list[str]]  # content words per sentence
    weights: dict[str, float]
    counts: Counter[str]


def _is_content(word: str, stop: frozenset[str]) -> bool:
    """A word worth counting: not a stopword, long enough (CJK runs always are)."""
    return word not in stop and (len(word) >= 3 or bool(_CJK.match(word)))


def _read(text: str, language: str | None, title: str | None = None) -> _Doc:
    """Sentences, content words and word weights of a text."""
    sentences = split_sentences(text)
    stop = stopwords_for(language)
    words = [[w for w in tokenize(s, language) if _is_content(w, stop)] for s in sentences]
    counts: Counter[str] = Counter(w for ws in words for w in ws)
    if not stop and len(sentences) >= 6:  # no list: words in most sentences act as stopwords
        spread = Counter(w for ws in words for w in set(ws))
        for word, n in spread.items():
            if n > len(sentences) / 3:
                del counts[word]
    top = max(counts.values(), default=1)
    weights = {w: n / top for w, n in counts.items()}
    for word in tokenize(title or "", language):
        if word in weights:
            weights[word] += 0.5
    return _Doc(sentences, words, weights, counts)


def _ranked(doc: _Doc) -> list[int]:
    """Sentence indexes, best first: content-word weight, normalised for length, lead bonus."""
    scores = []
    for i, (sentence, words) in enumerate(zip(doc.sentences, doc.words, strict=True)):
        length = len(sentence.split())
        score = sum(doc.weights.get(w, 0.0) for w in set(words)) / (len(set(words)) or 1) ** 0.5
        if not 5 <= length <= 60:
            score *= 0.3
        if i == 0:
            score *= 1.25
        scores.append((-score, i))
    return [i for _, i in sorted(scores)]


def _trim(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most `limit` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def select_sentences(text: str, max_chars: int, language: str | None = None) -> str:
    """The most representative sentences, in original order, within max_chars."""
    doc = _read(text, language)
    chosen: list[int] = []
    used = 0
    for i in _ranked(doc):
        size = len(doc.sentences[i]) + 1
        if used + size <= max_chars:
            chosen.append(i)
            used += size
    return " ".join(doc.sentences[i] for i in sorted(chosen))


def _summary_and_points(doc: _Doc) -> tuple[str, tuple[str, ...]]:
    """2-4 best sentences as the summary, the next 3-5 as key points, each in text order."""
    ranked = _ranked(doc)
    n = len(ranked)
    want = 2 if n <= 8 else 3 if n <= 25 else 4
    summary_ids: list[int] = []
    used = 0
    for i in ranked:
        if len(summary_ids) == want:
            break
        size = len(doc.sentences[i]) + 1
        if used + size <= MAX_SUMMARY_CHARS or not summary_ids:
            summary_ids.append(i)
            used += size
    rest = [i for i in ranked if i not in summary_ids][: min(5, max(3, n // 6))]
    summary = _trim(" ".join(doc.sentences[i] for i in sorted(summary_ids)), MAX_SUMMARY_CHARS)
    points = tuple(_trim(doc.sentences[i], MAX_KEY_POINT_CHARS) for i in sorted(rest))
    return summary, points


def _phrase_counts(doc: _Doc, language: str | None, fold: dict[str, str]) -> dict[str, int]:
    """Counts of adjacent content-word pairs (e.g. 'machine learning'), plurals folded.

    Keyed by the pair's most common written form.
    """
    pairs: Counter[tuple[str, str]] = Counter()
    forms: dict[tuple[str, str], Counter[str]] = {}
    for sentence in doc.sentences:
        tokens = tokenize(sentence, language)
        for a, b in pairwise(tokens):
            if a in doc.counts and b in doc.counts and a != b:
                key = (fold.get(a, a), fold.get(b, b))
                pairs[key] += 1
                forms.setdefault(key, Counter())[f"{a} {b}"] += 1
    return {forms[key].most_common(1)[0][0]: n for key, n in pairs.items()}


def _merge_plurals(counts: Counter[str]) -> tuple[Counter[str], dict[str, str]]:
    """Counts with plural forms (-ies, -es, -s) folded into the singular when both occur."""
    merged = Counter(counts)
    fold: dict[str, str] = {}
    for word in sorted(counts, key=len, reverse=True):
        for suffix, ending in (("ies", "y"), ("es", ""), ("s", "")):
            stem = word[: -len(suffix)] + ending
            if word.endswith(suffix) and stem in merged and word in merged:
                merged[stem] += merged.pop(word)
                fold[word] = stem
                break
    return merged, fold


def _vocabulary_hits(text: str, title: str, vocabulary: tuple[str, ...]) -> list[str]:
    """Existing tags that occur in the text (twice, or once in the title), most frequent first."""
    lowered, title = text.lower(), title.lower()
    hits = []
    for i, tag in enumerate(dict.fromkeys(normalize_tag(t) for t in vocabulary)):
        if not tag:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(tag)}(?:e?s)?(?!\w)")
        count = len(pattern.findall(lowered))
        if count >= 2 or (count and pattern.search(title)):
            hits.append((-count, i, tag))
    return [tag for _, _, tag in sorted(hits)]


def keyword_tags(
    text: str,
    language: str | None,
    *,
    title: str | None = None,
    vocabulary: tuple[str, ...] = (),
    limit: int = MAX_TAGS,
) -> tuple[str, ...]:
    """3-5 keyword tags: existing vocabulary found in the text first, then frequent terms."""
    doc = _read(text, language, title)
    counts, fold = _merge_plurals(doc.counts)
    title_words = set(tokenize(title or "", language))
    scores = {w: n + (2 if w in title_words else 0) for w, n in counts.items()}
    for phrase, n in _phrase_counts(doc, language, fold).items():
        a, b = (fold.get(w, w) for w in phrase.split(" "))
        if n >= 2 and n >= 0.5 * min(counts.get(a, n), counts.get(b, n)):
            scores[phrase] = n * 1.5
            for part in (a, b):
                if counts.get(part, 0) <= n + 1:
                    scores.pop(part, None)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    frequent = [term for term, score in ranked if score >= 2]
    rare = [term for term, _ in ranked if term not in frequent]
    tags = _vocabulary_hits(text, title or "", vocabulary) + frequent
    tags = normalize_tags(tags, limit)
    if len(tags) < 3:
        tags = normalize_tags(tags + rare, 3)
    return tuple(tags)


def article_language(article: ArticleInput) -> str:
    """The article's language: as given, else detected, else English."""
    return article.language or detect_language(article.text[:20000]) or "en"


def analyze_offline(article: ArticleInput) -> Analysis:
    """Extractive summary, key points and keyword tags of one article."""
    language = article_language(article)
    doc = _read(article.text, language, article.title)
    summary, points = _summary_and_points(doc)
    if not summary:
        summary = _trim(article.title or article.url, MAX_SUMMARY_CHARS)
    tags = keyword_tags(article.text, language, title=article.title, vocabulary=article.vocabulary)
    return Analysis(
        tags=tags,
        summary=summary,
        key_points=points,
        language=language,
        analyzer="offline",
        model=OFFLINE_MODEL,
        prompt_version=OFFLINE_PROMPT_VERSION,
        coverage=1.0,
    )


class OfflineAnalyzer:
    """The embedded analyser: no network, same Analysis as the LLM one."""

    name = "offline"
    model = OFFLINE_MODEL
    prompt_version = OFFLINE_PROMPT_VERSION

    async def analyze(self, article: ArticleInput) -> Analysis:
        """Analyse one article offline."""
        return await asyncio.to_thread(analyze_offline, article)
