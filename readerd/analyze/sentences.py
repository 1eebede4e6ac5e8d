"""Sentences of an article: split, and told apart from the debris around them.

Debris is what extraction leaves between paragraphs and no summary should quote:
captions, bylines, "Read more" links, list fragments and code. A continuation is a
sentence that leans on the one before it ("But…", "Esto…") and cannot open a summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS_TEXT = """mr mrs ms dr drs dra dras prof profa sr sra sras srta sres jr st vs
    etc fig no nos vol approx dept est inc ltd co corp jan feb mar apr jun jul aug sep sept
    oct nov dec ud uds vd vds dña pág págs núm art cap aprox tel av avda gral lic ing arq
    ej cf ca pp"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+|[。！？]+[」』”’)]*")
_OPENERS = "¿¡\"'“‘«([—–-"

# Words that make a sentence lean on the previous one. Discourse connectives are a
# closed class that no stopword list separates from the rest, hence a short list here.
_CONTINUATIONS = {
    "en": """but|however|this|these|that|those|it|its|they|them|also|and|so|yet|still|
        instead|meanwhile|moreover|furthermore|besides|then|thus|therefore|hence|otherwise|
        nevertheless|nonetheless|or|nor|such|both|either|plus|indeed|in fact|as a result|
        on the other hand|even so|after that""",
    "es": """pero|sin embargo|esto|esta|este|estos|estas|eso|esa|ese|esos|esas|así|además|
        también|aunque|entonces|por eso|por tanto|por lo tanto|por ello|en cambio|incluso|y|
        e|o|u|ni|ello|ella|él|ellos|ellas|allí|ahí|luego|asimismo|no obstante|es decir|
        de hecho|a su vez|lo mismo|dicho esto|tal vez|aun así|con todo|de ahí""",
}
_CONTINUATION_PHRASES = frozenset(
    " ".join(phrase.split()) for words in _CONTINUATIONS.values() for phrase in words.split("|")
)
_LONGEST_CONTINUATION = max(len(phrase.split()) for phrase in _CONTINUATION_PHRASES)
_LEADING_WORDS = re.compile(r"[^\W\d_]+")

# Lines that are not prose: credits, bylines, calls to action, list bullets.
_CAPTION = re.compile(
    r"(?:foto|fotos|imagen|imágenes|fotografía|vídeo|video|photo|photograph|image|picture|"
    r"credit|credits|source|fuente|ilustración|illustration|caption)s?\b\s*[:|/©]",
    re.IGNORECASE,
)
_CREDITS = ("©", "getty images", "shutterstock", "(efe)", "(ap)", "(reuters)", "(afp)")
_BYLINE = re.compile(
    r"(?:por|by|de|written by|escrito por|redacción|updated|actualizado|published|publicado)"
    r"\b[^.!?]{0,60}$",
    re.IGNORECASE,
)
_CALLS_TO_ACTION = (
    "seguir leyendo", "leer más", "read more", "continue reading", "keep reading", "sign up",
    "suscríbete", "suscribete", "subscribe", "newsletter", "comparte este", "share this",
    "click here", "haz clic",
)  # fmt: skip
_LABELS = _CREDITS + _CALLS_TO_ACTION
_BULLET = re.compile(r"(?:[-*•·▪►✓]|\d{1,2}[.)]\s)")
_CODE = re.compile(r"[{}\[\]<>=$\\`]|\w\(|^\s*(?:import|from|def|class|return|#include)\b")
_ENDS = ".!?…。！？"
_CLOSERS = "\"'”’»)]"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_MIN_WORDS, _MAX_WORDS = 6, 60
_MAX_LABEL_WORDS = 15  # credits and calls to action are short lines


PROSE, FRAGMENT, NOISE = "prose", "fragment", "noise"


@dataclass(frozen=True)
class Sentence:
    """One sentence and what kind of text it is."""

    text: str
    paragraph: int  # index of its paragraph in the text
    # prose: a sentence a summary may quote; fragment: a heading, label or list item,
    # no sentence but still the article's words; noise: code, a caption, a byline or
    # "Read more", which say nothing about the article.
    kind: str

    @property
    def debris(self) -> bool:
        """Whether a summary must not quote it."""
        return self.kind != PROSE


def split_sentences(text: str) -> list[str]:
    """Sentences of the text: paragraphs split at . ! ? … 。 ignoring abbreviations and initials."""
    return [sentence.text for sentence in read_sentences(text)]


def read_sentences(text: str) -> list[Sentence]:
    """Every sentence of the text, each marked as prose or debris."""
    sentences: list[Sentence] = []
    for number, paragraph in enumerate(text.splitlines()):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        code = _looks_like_code(paragraph)
        for part in _split_paragraph(paragraph):
            sentences.append(Sentence(part, number, NOISE if code else _kind(part)))
    return sentences


def is_continuation(sentence: str) -> bool:
    """Whether the sentence opens with a word that refers back ("But", "Pero", "Esto")."""
    words = [w.lower() for w in _LEADING_WORDS.findall(sentence[:60])][:_LONGEST_CONTINUATION]
    return any(" ".join(words[:n]) in _CONTINUATION_PHRASES for n in range(1, len(words) + 1))


def _kind(sentence: str) -> str:
    words = word_count(sentence)
    if _CAPTION.match(sentence) or (words <= _MAX_LABEL_WORDS and _is_label(sentence.lower())):
        return NOISE
    if _BYLINE.match(sentence) and words <= 8:
        return NOISE
    # A short line without closing punctuation is a heading, a label or a list item.
    if words < _MIN_WORDS or words > _MAX_WORDS * 2 or sentence.rstrip(_CLOSERS)[-1:] not in _ENDS:
        return FRAGMENT
    return FRAGMENT if _BULLET.match(sentence) and words < 12 else PROSE


def _is_label(lowered: str) -> bool:
    """A credit line or a call to action ("Foto: EFE", "Seguir leyendo")."""
    return any(mark in lowered for mark in _LABELS)


def word_count(sentence: str) -> int:
    """Words of a sentence; CJK text, written without spaces, counts two characters a word."""
    cjk = 0 if sentence.isascii() else len(_CJK.findall(sentence))
    return len(sentence.split()) + cjk // 2


def _looks_like_code(paragraph: str) -> bool:
    symbols = len(_CODE.findall(paragraph))
    return symbols >= 2 and symbols * 12 >= len(paragraph.split())


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
