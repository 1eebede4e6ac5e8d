"""The text of a page's bytes, decoded the way browsers decode it."""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# What browsers do (WHATWG Encoding): these labels mean the wider Windows code pages.
_WEB_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
                "us-ascii": "cp1252", "iso-8859-9": "cp1254", "gb2312": "gbk", "euc-kr": "cp949",
                "shift_jis": "cp932", "sjis": "cp932", "tis-620": "cp874"}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def decode_body(body: bytes, charset: str | None) -> str:
    """Text of body: BOM, else the header charset, else the meta charset, else UTF-8/cp1252."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    meta = _META_CHARSET.search(body[:4096])
    labels = [charset, meta.group(1).decode("ascii", "ignore") if meta else None, "utf-8"]
    codecs_ = list(dict.fromkeys(c for c in map(_codec, labels) if c))
    for codec in codecs_:
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    # Nothing decodes cleanly: keep the closest fit and its few U+FFFD, unless nearly
    # every non-ASCII character failed; then the label lies and the bytes are cp1252.
    texts = [body.decode(codec, errors="replace") for codec in codecs_]
    text = min(texts, key=lambda t: t.count("\ufffd"))
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if text.count("\ufffd") * 2 > non_ascii:
        return body.decode("cp1252", errors="replace")
    return text


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().lower()
    try:
        codec = codecs.lookup(_WEB_ALIASES.get(label, label)).name
    except LookupError:
        return None
    return "utf-8" if codec in ("utf-16", "utf-32") else codec  # a BOM-less "utf-16" lies
