"""The extraction pool: workers exist while there are pages and are gone when there are none."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

from readerd.analyze.offline import analyze_offline
from readerd.errors import AnalysisError
from readerd.results import Analysis, ArticleInput, FetchedPage
from readerd.workers.pool import WorkerPool
from tests.conftest import ReaderdCLI

EN_HTML = resources.files("readerd.samples").joinpath("en-home-composting.html").read_bytes()
TITLE = "Home Composting Without the Smell"


def _page() -> FetchedPage:
    return FetchedPage("https://example.org/a", 200, "text/html", EN_HTML, None)


def _extraction_processes() -> list[int]:
    """Our forkserver and the workers it forked (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if b"multiprocessing.forkserver" in cmdline and ppid in (os.getpid(), *found):
            found.append(int(entry.name))
    return found


def _wait_until_gone(seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _extraction_processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_no_worker_outlives_an_idle_spell_and_the_next_page_brings_them_back() -> None:
    async def scenario() -> None:
        pool = WorkerPool(workers=2, idle_seconds=0.2)
        try:
            assert not _extraction_processes()  # nothing runs before the first page
            first = await asyncio.gather(*(pool.extract(_page()) for _ in range(3)))
            assert [got.title for got in first] == [TITLE] * 3
            assert _extraction_processes()
            await asyncio.sleep(0.5)  # idle: the pool stops its workers and the forkserver
            assert await asyncio.to_thread(_wait_until_gone) == []
            again = await pool.extract(_page())
            assert again.title == TITLE and again.language == "en"
        finally:
            pool.close()

    asyncio.run(scenario())
    assert _wait_until_gone() == []  # and close() leaves nothing behind


def test_the_main_process_of_a_run_never_loads_the_extractor_or_the_analysers_lists(
    readerd_cli: ReaderdCLI,
) -> None:
    """Extraction and offline analysis run in the workers: lxml, trafilatura or the word
    lists in the main process would be memory the daemon keeps for nothing (lxml alone
    is 6 MiB), and analysis there would queue behind the pipeline's GIL."""
    probe = (
        "import sys, runpy; sys.argv = ['readerd', 'run', '--once']\n"
        "try:\n    runpy.run_module('readerd', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('loaded', sorted(m for m in ('lxml', 'trafilatura', 'pypdf') if m in sys.modules),"
        " file=sys.stderr)\n"
        "from readerd.analyze import wordlists\n"
        "print('word lists', wordlists.stopwords.cache_info().currsize,"
        " wordlists.word_ranks.cache_info().currsize, file=sys.stderr)"
    )
    env = {**readerd_cli.base_env(), **readerd_cli.env}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert "7 analysed" in result.stdout, result.stdout + result.stderr
    assert "loaded []" in result.stderr, result.stderr
    assert "word lists 0 0" in result.stderr, result.stderr


def test_an_offline_analysis_that_overruns_costs_only_its_article() -> None:
    # a 3-million-character text takes the offline analyser seconds, not the 0.5 s allowed
    words = ("solar", "panel", "casa", "energía", "precio", "house", "grid", "power", "year")
    huge = ". ".join(" ".join(words[(i + j) % 9] for j in range(12)) for i in range(40000))
    small = "Solar panels on a house pay for themselves in a few years. Prices keep falling."

    async def scenario() -> tuple[BaseException | Analysis, Analysis]:
        pool = WorkerPool(workers=1, timeout=0.5)
        try:
            overrun = await asyncio.gather(
                pool.analyze_offline(ArticleInput("https://example.org/huge", None, huge, "en")),
                return_exceptions=True,
            )
            after = await pool.analyze_offline(
                ArticleInput("https://example.org/small", "Solar at home", small, None)
            )
            return overrun[0], after
        finally:
            pool.close()

    overrun, after = asyncio.run(scenario())
    assert isinstance(overrun, AnalysisError)
    assert str(overrun) == "analyze: gave up after 0.5 s: url=https://example.org/huge"
    assert overrun.retryable  # analysis errors are retried later, like the LLM's
    assert after.language == "en" and after.analyzer == "offline" and after.tags
    assert after == analyze_offline(
        ArticleInput("https://example.org/small", "Solar at home", small, None)
    )  # the same analysis as in this process


def test_a_pass_of_a_few_pages_starts_one_worker_and_a_big_one_several() -> None:
    """Each worker costs tens of MiB: seven new links do not need one per core."""

    async def workers_for(pages: int) -> int:
        pool = WorkerPool(workers=3)
        pool.expect(pages)
        try:
            await asyncio.gather(*(pool.extract(_page()) for _ in range(3)))
            return len(_extraction_processes()) - 1  # the forkserver is not a worker
        finally:
            pool.close()
            await asyncio.to_thread(_wait_until_gone)

    assert asyncio.run(workers_for(7)) == 1
    assert asyncio.run(workers_for(500)) == 3


def test_workers_do_not_rerun_the_parents_main_script(tmp_path: Path) -> None:
    # multiprocessing re-runs the parent's main script in every worker it forks (a
    # second of imports each, for the readerd script); the extractor needs none of it.
    marker = tmp_path / "imports.txt"
    script = tmp_path / "main_script.py"
    script.write_text(
        "import asyncio, os, sys\n"
        f"with open({str(marker)!r}, 'a') as f:\n"
        "    f.write(f'{__name__} {os.getpid()}\\n')\n"
        "from readerd.workers.pool import WorkerPool\n"
        "from readerd.results import FetchedPage\n"
        "from importlib import resources\n"
        "html = resources.files('readerd.samples').joinpath('en-home-composting.html')"
        ".read_bytes()\n"
        "async def main():\n"
        "    pool = WorkerPool(workers=2)\n"
        "    page = FetchedPage('https://example.org/a', 200, 'text/html', html, None)\n"
        "    try:\n"
        "        done = await asyncio.gather(*(pool.extract(page) for _ in range(6)))\n"
        "    finally:\n"
        "        pool.close()\n"
        "    print(done[0].title)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    ran = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == TITLE  # the workers extracted the pages
    runs = marker.read_text().splitlines()
    assert runs == [f"__main__ {runs[0].split()[1]}"]  # the parent's own run, no worker's
