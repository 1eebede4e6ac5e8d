"""Render a realistic digest (Spanish and English articles) to docs/digest.png for the README.

Run by hand from the repository root: `.venv/bin/python bench/render_digest_screenshot.py`.
Needs headless Chromium (`apt-get install chromium`). Writes the HTML beside the PNG
under bench/out/ too, for a look in a real browser.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import zlib
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from readerd.digest import preview_digest  # noqa: E402
from tests.digest_fixtures import (  # noqa: E402
    ENGLISH,
    SPANISH,
    add_article,
    add_failure,
    digest_settings,
    new_engine,
)
from tests.test_digest_render import png_pixels, screenshot  # noqa: E402

WIDTH, HEIGHT = 760, 2400
MARGIN = 28  # background kept under the card after cropping


def crop_to_content(data: bytes) -> bytes:
    """Cut the plain background below the content (the window is taller than the page)."""
    width, height, rows = png_pixels(data)
    background = rows[-1]
    last = max((y for y, row in enumerate(rows) if row != background), default=height - 1)
    return encode_png(width, rows[: min(height, last + 1 + MARGIN)])


def encode_png(width: int, rows: list[bytes]) -> bytes:
    """A minimal PNG encoder (filter 0 on every row), RGB or RGBA by row length."""
    color = 2 if len(rows[0]) == width * 3 else 6

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, len(rows), 8, color, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + row for row in rows), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def main() -> None:
    """Seed a temporary library, render its digest, and screenshot it."""
    with tempfile.TemporaryDirectory(prefix="readerd-screenshot-") as tmp:
        settings = digest_settings(Path(tmp))
        engine = new_engine(settings)
        for sample in [SPANISH[0], SPANISH[3], ENGLISH[0], SPANISH[1], ENGLISH[2]]:
            add_article(engine, sample, tokens=(2400, 380))
        add_failure(
            engine,
            "https://muro-de-pago.example/reportaje",
            "Reportaje exclusivo",
            "fetch: status=403: url=https://muro-de-pago.example/reportaje",
        )
        rendered = preview_digest(settings, engine, day=date(2026, 11, 22))
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    page = out / "digest.html"
    page.write_text(rendered.html, encoding="utf-8")
    png = REPO / "docs" / "digest.png"
    png.parent.mkdir(exist_ok=True)
    screenshot(page, png, width=WIDTH, height=HEIGHT)
    png.write_bytes(crop_to_content(png.read_bytes()))
    print(f"{png} ({rendered.subject})")


if __name__ == "__main__":
    main()
