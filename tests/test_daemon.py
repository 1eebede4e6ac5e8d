"""The real daemon (`python -m readerd run`) in a subprocess: processing, CLI, status, lock."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ReaderdCLI
from tests.daemon_process import Daemon

pytestmark = pytest.mark.timeout(90)
VOCABULARY = (
    "garden soil water light seed compost planning patience harvest tomato basil bicycle "
    "commute route city traffic weather rain helmet lane bridge"
)


def write_articles(folder: Path, count: int) -> None:
    """`count` distinct HTML articles in `folder` (a few KB each, so extraction takes a moment)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        vocabulary = VOCABULARY.split()
        words = [vocabulary[(n * 7 + i * 3) % len(vocabulary)] for i in range(60)]
        paragraphs = "".join(f"<p>Article {n}, part {p}: {' '.join(words)}.</p>" for p in range(12))
        (folder / f"article-{n:03d}.html").write_text(
            f"<html><head><title>Article number {n}</title></head><body><article>"
            f"<h1>Article number {n}</h1>{paragraphs}</article></body></html>",
            encoding="utf-8",
        )


@pytest.fixture
def daemon_env(readerd_cli: ReaderdCLI, tmp_path: Path) -> dict[str, str]:
    """Settings of a fast daemon over a folder source and the offline analyser."""
    readerd_cli.env.update(
        READERD_SOURCE="folder",
        READERD_FOLDER=str(tmp_path / "inbox"),
        READERD_ANALYZER="offline",
        READERD_SYNC_INTERVAL="1",
        READERD_PROCESS_INTERVAL="1",
        READERD_STOP_TIMEOUT="6",
        READERD_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "inbox").mkdir()
    return {**readerd_cli.base_env(), **readerd_cli.env}


@pytest.fixture
def start(readerd_cli: ReaderdCLI, daemon_env: dict[str, str]) -> Iterator[Callable[..., Daemon]]:
    """Start daemons; any still running at the end is killed."""
    started: list[Daemon] = []

    def _start(**extra: str) -> Daemon:
        started.append(Daemon(readerd_cli, {**daemon_env, **extra}))
        return started[-1]

    yield _start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(timeout=10)


def query(db: Path, sql: str) -> list[tuple]:
    """A read on the daemon's database, as another process would do it."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:  # tables not created yet
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def count(db: Path, sql: str) -> int:
    rows = query(db, sql)
    return int(rows[0][0]) if rows else 0


def wait_for(condition: Callable[[], bool], what: str, daemon: Daemon, timeout: float = 30) -> None:
    """Poll `condition` until true; fail with the daemon's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if daemon.proc.poll() is not None:
            pytest.fail(f"daemon exited {daemon.proc.returncode} waiting for {what}\n{daemon.log}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{daemon.log}")


def state(cli: ReaderdCLI) -> dict:
    """The daemon's state file (what `readerd status` reads), without starting a CLI."""
    from readerd.daemon.state import StateFile

    return StateFile(cli.data_dir).load()


def done(db: Path) -> int:
    return count(db, "SELECT count(*) FROM link WHERE status = 'done'")


def integrity(db: Path) -> str:
    return query(db, "PRAGMA integrity_check")[0][0]


def test_daemon_processes_while_cli_reads_then_status_lock_and_sigterm(
    readerd_cli: ReaderdCLI, daemon_env: dict[str, str], start: Callable[..., Daemon]
) -> None:
    files = 16
    write_articles(Path(daemon_env["READERD_FOLDER"]), files)
    daemon = start(READERD_FETCH_CONCURRENCY="1", READERD_LLM_CONCURRENCY="1")
    db = readerd_cli.db_path
    wait_for(lambda: count(db, "SELECT count(*) FROM link") > 0, "the first sync", daemon)
    overlapped = []
    for _round in range(2):  # CLI readers while the daemon writes
        overlapped.append(done(db) < files)
        for command in (["list", "--json", "--limit", "5"], ["stats", "--json"]):
            result = readerd_cli(*command, check=False)
            assert result.returncode == 0, result.stderr
            assert "locked" not in result.stderr
            json.loads(result.stdout)
    assert overlapped[0], "processing ended before the CLI could read alongside it"
    wait_for(lambda: done(db) == files, "every link done", daemon)
    status = json.loads(readerd_cli("status", "--json").stdout)
    assert status["daemon"]["running"] and status["daemon"]["pid"] == daemon.proc.pid
    assert status["items"]["by_status"] == {"done": files}
    assert status["sources"][0]["ok"] and status["sources"][0]["source"] == "folder"
    assert status["daemon"]["jobs"]["sync"]["next_run"] is not None

    second = readerd_cli("run", check=False, timeout=30)
    assert second.returncode != 0
    assert f"already running (pid {daemon.proc.pid})" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr

    assert daemon.stop() == 0, daemon.log
    after = json.loads(readerd_cli("status", "--json").stdout)
    assert not after["daemon"]["running"] and after["daemon"]["state"] == "stopped"
    assert all(job["next_run"] is None for job in after["daemon"]["jobs"].values())
    assert "readerd.daemon: daemon: stopped" in daemon.log
    assert "Traceback" not in daemon.log
    assert integrity(db) == "ok"


def test_sync_failure_is_logged_and_processing_still_runs(
    readerd_cli: ReaderdCLI,
    daemon_env: dict[str, str],
    start: Callable[..., Daemon],
    tmp_path: Path,
) -> None:
    inbox = Path(daemon_env["READERD_FOLDER"])
    write_articles(inbox, 2)
    daemon = start()
    db = readerd_cli.db_path
    wait_for(lambda: done(db) == 2, "the first links", daemon)
    inbox.rename(tmp_path / "gone")  # the source disappears under the running daemon

    def process_ran_after_failed_sync() -> bool:
        jobs = state(readerd_cli).get("jobs", {})
        sync, process = jobs.get("sync", {}), jobs.get("process", {})
        return (
            sync.get("ok") is False
            and "is not a directory" in sync["last_result"]
            and process.get("last_started", "") >= sync["last_finished"]
        )

    wait_for(process_ran_after_failed_sync, "a processing pass after a failed sync", daemon)
    assert "ERROR readerd.daemon: sync failed: folder:" in daemon.log
    assert daemon.stop() == 0, daemon.log


def test_refuses_to_start_on_a_schema_from_the_future(
    readerd_cli: ReaderdCLI, daemon_env: dict[str, str]
) -> None:
    from readerd.config import load_settings
    from readerd.store.database import make_engine, upgrade_database

    upgrade_database(make_engine(load_settings(data_dir=readerd_cli.data_dir)))
    with sqlite3.connect(readerd_cli.db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    result = readerd_cli("run", check=False, timeout=30)
    assert result.returncode == 1
    assert "store: cannot upgrade the database" in result.stderr
    assert "9999_future" in result.stderr


def test_refuses_to_start_on_a_config_error(
    readerd_cli: ReaderdCLI, daemon_env: dict[str, str], tmp_path: Path
) -> None:
    result = readerd_cli("run", check=False, timeout=30, READERD_FOLDER=str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "is not a directory" in result.stderr
    assert not (readerd_cli.data_dir / "readerd.lock").exists()


def test_logs_never_show_secrets(
    readerd_cli: ReaderdCLI,
    daemon_env: dict[str, str],
    start: Callable[..., Daemon],
    tmp_path: Path,
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class EchoingPocket(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # a broken server that echoes the credentials back
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(401)
            self.send_header("X-Error", f"bad {body['consumer_key']} {body['access_token']}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingPocket)
    Thread(target=server.serve_forever, daemon=True).start()
    secrets = {
        "READERD_POCKET_CONSUMER_KEY": "ck-Zq81-consumer-secret",
        "READERD_POCKET_ACCESS_TOKEN": "at-Wm27-access-secret",
        "READERD_LLM_API_KEY": "sk-llm-Pk44-secret",
    }
    try:
        daemon = start(
            READERD_SOURCE="pocket",
            READERD_LOG_LEVEL="DEBUG",
            READERD_POCKET_URL=f"http://127.0.0.1:{server.server_address[1]}",
            **secrets,
        )
        wait_for(lambda: "sync failed" in daemon.log, "the sync failure", daemon)
        status = readerd_cli("status", "--json", **secrets).stdout
        assert daemon.stop() == 0
    finally:
        server.shutdown()
    log = daemon.log
    assert "status=401" in log and "***" in log
    for value in secrets.values():
        assert value not in log
        assert value not in status
    assert "DEBUG " in log
