"""kill -9 at random points, 200 times: the database stays intact and no link is lost or doubled.

Each cycle starts `readerd run --once` and SIGKILLs its whole process group (extraction
workers too) after a random delay: mostly 0.05-1.5 s (start-up, migration, sync), and in
three cycles of ten anywhere within what an undisturbed run takes (extraction and
analysis writes). Whenever every link is done the articles get new texts, so every
cycle has work to interrupt.

Slow (about eight minutes): marked `slow`, run by CI in its own step with
`.venv/bin/pytest -n 0 -m slow tests/hostile`. READERD_KILL_SEED replays one sequence.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ReaderdCLI
from tests.hostile.helpers import article_html, folder_env, integrity, rows

CYCLES = 200
FILES = 30


def _write_articles(inbox: Path, version: int) -> None:
    """FILES articles; a new version changes every text, so every link is read again."""
    for n in range(FILES):
        html = article_html(n).replace(
            b"</article>", f"<p>Version {version}.</p></article>".encode()
        )
        (inbox / f"article-{n:02d}.html").write_bytes(html)


def _check(db: Path, cycle: int) -> int:
    """The invariants after a kill; returns how many links are done."""
    if not db.exists():
        return 0
    assert integrity(db) == "ok", f"cycle {cycle}"
    tables = {name for (name,) in rows(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    if "link" not in tables or "source_state" not in tables:
        return 0  # killed before the first migration committed: nothing half-made remains
    links = rows(db, "SELECT source_id, status FROM link")
    assert len(links) in (0, FILES), f"cycle {cycle}: a sync committed partly: {len(links)}"
    assert len({source_id for source_id, _ in links}) == len(links), f"cycle {cycle}: duplicates"
    assert {status for _, status in links} <= {"done", "pending"}, f"cycle {cycle}: {links}"
    cursor = rows(db, "SELECT cursor FROM source_state WHERE source = 'folder'")
    if cursor and cursor[0][0] is not None:
        assert len(links) == FILES, f"cycle {cycle}: the cursor moved past uncommitted links"
    done_without_analysis = rows(
        db,
        "SELECT count(*) FROM link l LEFT JOIN analysis a ON a.link_id = l.id "
        "WHERE l.status = 'done' AND a.link_id IS NULL",
    )[0][0]
    assert done_without_analysis == 0, f"cycle {cycle}"
    indexed = rows(db, "SELECT count(*), count(DISTINCT rowid) FROM link_search")[0]
    assert indexed[0] == indexed[1] <= FILES, f"cycle {cycle}: search index rows {indexed}"
    return sum(status == "done" for _, status in links)


def _run_and_kill(cli: ReaderdCLI, after: float) -> None:
    """`readerd run --once` in its own process group, SIGKILLed (workers too) after `after` s."""
    env = {**cli.base_env(), **cli.env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "readerd", "run", "--once"],
        env=env,
        cwd=cli.data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=after)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10  # the forkserver and workers go with the group
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"processes of group {proc.pid} outlived SIGKILL")


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_kill_9_at_random_points_over_200_cycles(readerd_cli: ReaderdCLI) -> None:
    seed = int(os.environ.get("READERD_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    inbox = folder_env(readerd_cli, [])
    readerd_cli.env.update(READERD_ANALYZER="offline", READERD_LOG_LEVEL="ERROR")
    version = 0
    _write_articles(inbox, version)
    started = time.monotonic()
    readerd_cli("run", "--once")  # how long a whole run takes here: kills fall inside it
    whole = min(time.monotonic() - started, 8.0)
    assert _check(readerd_cli.db_path, -1) == FILES
    version = 1
    _write_articles(inbox, version)
    for cycle in range(CYCLES):
        late = rng.random() < 0.3
        _run_and_kill(readerd_cli, rng.uniform(0.05, whole if late else 1.5))
        try:
            done = _check(readerd_cli.db_path, cycle)
        except AssertionError as exc:
            raise AssertionError(f"{exc} (READERD_KILL_SEED={seed})") from None
        if done == FILES:  # keep every cycle busy: new texts requeue every link
            version += 1
            _write_articles(inbox, version)
    readerd_cli("run", "--once")  # undisturbed, it finishes the work
    assert _check(readerd_cli.db_path, CYCLES) == FILES
    versions = rows(readerd_cli.db_path, "SELECT count(*) FROM article WHERE text LIKE ?",
                    f"%Version {version}.%")  # fmt: skip
    assert versions == [(FILES,)], f"READERD_KILL_SEED={seed}"
