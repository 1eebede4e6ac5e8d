"""Hostile pages through the real CLI: each costs its own item a clear error, never the run.

One `readerd run --once` reads every page below from a local server, under small
limits (2 MiB, a 2 s fetch deadline, a 2 s extraction limit); each test then
checks the one row its page produced, and that the well-behaved pages were read.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.hostile.helpers import folder_env, links_by_url, module_cli, spin_page
from tests.servers.web import ARTICLE_SAMPLE, PDF_SAMPLE, PNG, WebServer, _sample, start_web_server

MiB = 1024 * 1024
FRENCH_TITLE = "Crème brûlée à la maison"
MARKUP_TITLE = "Crème [/] [link=http://127.0.0.2/]brûlée[/link]"  # rich markup, from a page
FRENCH = (
    "<html lang='fr'><head><title>Crème brûlée à la maison</title></head><body><article>"
    "<h1>Crème brûlée à la maison</h1>"
    + "<p>La crème brûlée est un dessert français très apprécié. Préparez la crème, versez-la "
    "dans des ramequins et faites-la cuire doucement au bain-marie. Après une nuit au "
    "réfrigérateur, saupoudrez de sucre et caramélisez au chalumeau juste avant de servir.</p>"
    * 6
    + "</article></body></html>"
)


def _drip() -> Iterator[bytes]:
    """One byte a second for a minute (the client must give up long before)."""
    for _ in range(60):
        yield b"<"
        time.sleep(1)


def _nested(depth: int) -> bytes:
    text = "<p>A sentence about gardens, compost and the patience they need.</p>" * 5
    return f"<html><body>{'<div>' * depth}{text}{'</div>' * depth}</body></html>".encode()


def _routes(web: WebServer) -> dict[str, str]:
    """Serve every case; case -> URL."""
    article = _sample(ARTICLE_SAMPLE)
    bomb = gzip.compress(b"\0" * (32 * MiB), compresslevel=9)
    add = web.add
    return {
        "over cap, Content-Length": web.url("/big"),
        "over cap, no Content-Length": web.url("/big-stream"),
        "gzip bomb": web.url("/bomb"),
        "stacked gzip bomb": add(
            "/stacked-bomb", gzip.compress(bomb), headers={"Content-Encoding": "gzip, gzip"}
        ),
        "stacked gzip page": add(
            "/stacked-page",
            gzip.compress(gzip.compress(article)),
            headers={"Content-Encoding": "gzip, gzip"},
        ),
        "unknown encoding in a stack": add(
            "/stacked-br", gzip.compress(article), headers={"Content-Encoding": "br, gzip"}
        ),
        "one byte a second": add("/drip", _drip, headers={"Content-Length": "60"}),
        "redirect loop": web.url("/loop-a"),
        "missing content type": add("/no-type", article, content_type=None),
        "html as text/plain": add("/as-text", article, "text/plain"),
        "html as octet-stream": add("/as-octets", article, "application/octet-stream"),
        "html as image/jpeg": add("/as-jpeg", article, "image/jpeg"),
        "pdf as text/html": add("/pdf-as-html", _sample(PDF_SAMPLE), "text/html"),
        "png as text/html": add("/png-as-html", PNG, "text/html"),
        "utf-16 with BOM": add("/utf16", FRENCH.encode("utf-16"), "text/html; charset=utf-8"),
        "cp1252 labelled utf-8": add(
            "/mislabelled", FRENCH.encode("cp1252"), "text/html; charset=utf-8"
        ),
        "invalid utf-8": add(
            "/invalid-utf8",
            FRENCH.encode("utf-8").replace(b"dessert", b"dess\xff\xfert", 1),
            "text/html; charset=utf-8",
        ),
        "unknown charset": add(
            "/bogus-charset", FRENCH.encode("utf-8"), "text/html; charset=x-no-such-charset"
        ),
        "10,000 nested elements": add("/nested", _nested(10_000)),
        "extractor spins": add("/spin", spin_page()),
        "empty 200": add("/empty", b""),
        "blank 200": add("/blank", b" \r\n\t " * 100),
        "markup in the title": add("/markup", FRENCH.replace(FRENCH_TITLE, MARKUP_TITLE)),
        "control": web.url("/article.html"),
    }


@dataclass
class Run:
    web: WebServer
    urls: dict[str, str]
    links: dict[str, dict[str, Any]]
    output: str
    seconds: float

    def row(self, case: str) -> dict[str, Any]:
        """The stored row of one case."""
        return self.links[self.urls[case]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Serve every hostile page and run readerd once over all of them."""
    web, stop = start_web_server("127.0.0.1")
    try:
        urls = _routes(web)
        cli = module_cli(tmp_path_factory.mktemp("content"))
        folder_env(cli, list(urls.values()))
        cli.env.update(
            READERD_FETCH_ALLOW="127.0.0.1",
            READERD_FETCH_MAX_BYTES=str(2 * MiB),
            READERD_FETCH_TIMEOUT="2",
            # 4 s: a 10,000-deep page takes over 2 s to parse on a slow two-core machine
            READERD_EXTRACT_TIMEOUT="4",
            READERD_ANALYZER="offline",
        )
        started = time.monotonic()
        result = cli("run", "--once", timeout=90, check=False)
        assert result.returncode == 1, result.stderr  # hostile pages are failed items
        seconds = time.monotonic() - started
        yield Run(web, urls, links_by_url(cli), result.stdout + result.stderr, seconds)
    finally:
        stop()


FAILED = {
    "over cap, Content-Length": "fetch: too large: url={url} limit=2 MiB",
    "over cap, no Content-Length": "fetch: too large: url={url} limit=2 MiB",
    "gzip bomb": "fetch: too large: url={url} limit=2 MiB",
    "stacked gzip bomb": "fetch: too large: url={url} limit=2 MiB",
    "unknown encoding in a stack": "fetch: unsupported content encoding: url={url} encoding=br",
    "redirect loop": "fetch: redirect loop: url={url} at={url}",
    "png as text/html": "extract: no article text found: url={url}",
    "10,000 nested elements": "extract: no article text found: url={url}",
    "extractor spins": "extract: gave up after 4 s: url={url}",
    "empty 200": "extract: empty body: url={url}",
    "blank 200": "extract: empty body: url={url}",
}


@pytest.mark.parametrize("case", FAILED)
def test_hostile_page_fails_with_a_clear_error(run: Run, case: str) -> None:
    row = run.row(case)
    assert (row["status"], row["attempts"]) == ("failed", 1), row["last_error"]
    assert row["last_error"] == FAILED[case].format(url=run.urls[case])


def test_a_drip_hits_the_deadline_and_is_retried_later(run: Run) -> None:
    row = run.row("one byte a second")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == f"fetch: timed out: url={run.urls['one byte a second']} after=2s"


def test_wrong_content_type_is_refused_as_unsupported(run: Run) -> None:
    row = run.row("html as image/jpeg")
    assert (row["status"], row["attempts"]) == ("unsupported", 1)
    assert row["last_error"] == (
        f"extract: unsupported content type: image/jpeg url={run.urls['html as image/jpeg']}"
    )


@pytest.mark.parametrize(
    "case",
    ["missing content type", "html as text/plain", "html as octet-stream", "pdf as text/html",
     "stacked gzip page", "control"],
)  # fmt: skip
def test_mislabelled_but_readable_pages_are_read(run: Run, case: str) -> None:
    row = run.row(case)
    assert (row["status"], row["last_error"]) == ("done", None), row["last_error"]
    assert row["word_count"] > 100 and row["summary"]


@pytest.mark.parametrize(
    "case", ["utf-16 with BOM", "cp1252 labelled utf-8", "invalid utf-8", "unknown charset"]
)
def test_broken_charsets_still_give_readable_text(run: Run, case: str) -> None:
    row = run.row(case)
    assert (row["status"], row["language"]) == ("done", "fr")
    assert row["title"] == "Crème brûlée à la maison"
    assert "réfrigérateur" in row["summary"] or "réfrigérateur" in " ".join(row["key_points"])
    assert "\x00" not in row["summary"]


def test_markup_in_a_page_title_is_shown_as_text(run: Run) -> None:
    row = run.row("markup in the title")
    assert (row["status"], row["title"]) == (
        "done",
        "Crème [/] [link=http://127.0.0.2/]brûlée[/link]",
    )
    assert "[/]" in run.output  # the links table printed it instead of crashing on it


def test_the_run_is_bounded_and_says_what_happened(run: Run) -> None:
    # The drip alone would take a minute, the spinning page several seconds.
    assert run.seconds < 45, run.output
    assert "Traceback" not in run.output, run.output[run.output.find("Traceback") :]
    assert "processed:" in run.output
    assert run.web.routes["/spin"]  # served whole: the limit was the extraction's, not fetch's
