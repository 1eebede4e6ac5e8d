"""Render the digest of the bundled samples to docs/digest.png for the README.

The samples (readerd/samples/, Spanish and English) go through the real pipeline
with the embedded offline analyser, as `readerd run --once` on a fresh data dir
does, so the picture shows what a new install produces: its tags, groups and
summaries. Run by hand from the repository root:
`.venv/bin/python bench/render_digest_screenshot.py`. Needs headless Chromium
(`apt-get install chromium`). Writes the HTML beside the PNG under bench/out/ too,
for a look in a real browser.
"""

from __future__ import annotations

import asyncio
import struct
import sys
import tempfile
import zlib
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from readerd.analyze import make_analyzer  # noqa: E402
from readerd.digest import preview_digest  # noqa: E402
from readerd.pipeline import process_due, sync_links  # noqa: E402
from tests.digest_fixtures import add_failure, digest_settings, new_engine  # noqa: E402
from tests.test_digest_render import png_pixels, screenshot  # noqa: E402

WIDTH, HEIGHT = 760, 4800
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
    """Read the bundled samples offline into a temporary library, render its digest, and
    screenshot it."""
    with tempfile.TemporaryDirectory(prefix="readerd-screenshot-") as tmp:
        settings = digest_settings(Path(tmp), analyzer="offline")
        engine = new_engine(settings)
        asyncio.run(sync_links(settings, engine))
        report = asyncio.run(process_due(settings, engine, make_analyzer(settings)))
        assert report.done and not report.failed, report
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
