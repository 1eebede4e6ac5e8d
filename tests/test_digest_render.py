"""The digest's words, grouping and HTML, down to pixels drawn by headless Chromium."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from readerd.digest import preview_digest
from readerd.digest.build import DigestItem, group_items
from readerd.digest.render import html_content
from readerd.digest.strings import long_date, pick_language
from tests.digest_fixtures import ENGLISH, SPANISH, add_article, digest_settings

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
DAY = date(2026, 11, 22)


def find_chromium() -> str | None:
    """The headless browser the screenshot needs, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def screenshot(html: Path, png: Path, *, width: int = 800, height: int = 1200) -> None:
    """Render a local HTML file to a PNG with headless Chromium (no network of any kind)."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="readerd-chromium-") as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG into (width, height, rows of raw pixel bytes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    step = 3 if color == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * step, []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, step)
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, prev: bytearray, step: int) -> None:
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up, corner = prev[i], prev[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + guess) & 0xFF


def ink_fraction(png: bytes) -> tuple[float, int]:
    """(share of pixels that differ from the most common colour, number of distinct colours)."""
    width, _, rows = png_pixels(png)
    step = len(rows[0]) // width
    counts: dict[bytes, int] = {}
    for row in rows[::2]:
        for x in range(0, len(row), step * 2):
            pixel = row[x : x + 3]
            counts[pixel] = counts.get(pixel, 0) + 1
    total = sum(counts.values())
    return 1 - max(counts.values()) / total, len(counts)


def _item(item_id: int, tags: list[str], ai: list[str] | None = None) -> DigestItem:
    return DigestItem(
        item_id,
        f"https://x.example/{item_id}",
        f"T{item_id}",
        "x.example",
        3,
        "s",
        [],
        tags,
        tags if ai is None else ai,
        "en",
        None,
    )


def test_groups_by_the_tag_most_items_share_and_other_comes_last() -> None:
    items = [
        _item(1, ["solar", "gardening"]),
        _item(2, ["solar"]),
        _item(3, ["gardening", "diy"]),
        _item(4, ["cats"]),
        _item(5, ["gardening"]),
    ]
    groups = [(g.tag, [i.id for i in g.items]) for g in group_items(items)]
    assert groups == [("gardening", [1, 3, 5]), (None, [2, 4])]  # solar: one left, so Other


def test_a_generic_word_never_heads_a_group() -> None:
    items = [
        _item(1, ["year", "front", "bicycle"]),
        _item(2, ["year", "front", "railways"]),
        _item(3, ["year", "compost"]),
        _item(4, ["the", "compost"]),
    ]
    groups = [(g.tag, [i.id for i in g.items]) for g in group_items(items)]
    assert groups == [("compost", [3, 4]), (None, [1, 2])]


def test_ai_tags_win_over_source_tags() -> None:
    items = [
        _item(1, ["to-read", "solar"], ai=["solar"]),
        _item(2, ["to-read", "solar"], ai=["solar"]),
        _item(3, ["to-read", "wind"], ai=["wind"]),
        _item(4, ["to-read", "tides"], ai=["tides"]),
    ]
    groups = [(g.tag, [i.id for i in g.items]) for g in group_items(items)]
    assert groups == [("solar", [1, 2]), ("to-read", [3, 4])]


def test_spanish_strings_when_most_summaries_are_spanish() -> None:
    assert pick_language(["es", "es", "en"]) == "es"
    assert pick_language(["es", "en"]) == "en"
    assert pick_language([]) == "en"
    assert long_date(DAY, "es") == "domingo, 22 de noviembre de 2026"
    assert long_date(date(2026, 11, 18), "es") == "miércoles, 18 de noviembre de 2026"
    assert long_date(DAY, "en") == "Sunday, 22 November 2026"


def test_plain_text_reads_on_its_own(tmp_path: Path, digest_engine: Engine) -> None:
    for sample in ENGLISH:
        add_article(digest_engine, sample, tokens=(900, 100))
    text = preview_digest(digest_settings(tmp_path), digest_engine, day=DAY).text
    assert text.startswith("YOUR READING DIGEST\nSunday, 22 November 2026\n3 new articles · ")
    assert all(len(line) <= 76 or "://" in line for line in text.splitlines())
    assert "<" not in text.replace("<-", "")  # no markup leaks into the text part
    assert "LLM usage in the last 24 hours: 2,700 tokens in, 300 out." in text
    assert "Cost" not in text  # no prices configured: no made-up cost


def test_footer_shows_the_day_cost_at_configured_prices(
    tmp_path: Path, digest_engine: Engine
) -> None:
    add_article(digest_engine, ENGLISH[0], tokens=(900_000, 100_000))
    settings = digest_settings(tmp_path, llm_price_in=0.15, llm_price_out=0.60)
    text = preview_digest(settings, digest_engine, day=DAY).text
    assert "Cost: 0.1950 (at your configured prices)." in " ".join(text.split())


def test_html_is_self_contained_table_layout(tmp_path: Path, digest_engine: Engine) -> None:
    add_article(digest_engine, ENGLISH[0])
    html = preview_digest(digest_settings(tmp_path), digest_engine, day=DAY).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "prefers-color-scheme: dark" in html and 'role="presentation"' in html
    for forbidden in ("<script", "<img", "<link", "url(", "@import", "src="):
        assert forbidden not in html.lower()
    assert ENGLISH[0].title in html_content(html)


def test_html_renders_in_chromium(tmp_path: Path, digest_engine: Engine) -> None:
    if find_chromium() is None:
        pytest.skip("chromium is not installed; CI installs it (apt-get install chromium)")
    for sample in [*SPANISH[:2], ENGLISH[0]]:
        add_article(digest_engine, sample)
    page, png = tmp_path / "digest.html", tmp_path / "digest.png"
    page.write_text(preview_digest(digest_settings(tmp_path), digest_engine, day=DAY).html, "utf-8")
    screenshot(page, png, width=640, height=900)
    ink, colours = ink_fraction(png.read_bytes())
    assert ink > 0.05, f"the page looks blank ({ink:.0%} ink)"
    assert colours > 20, "expected text, a card and a background, not a flat image"
