"""The real daemon under signals: SIGTERM mid-run, kill -9 and restart, a hung item, sd_notify."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ReaderdCLI
from tests.daemon_process import Daemon
from tests.test_daemon import (
    count,
    daemon_env,
    done,
    integrity,
    query,
    start,
    wait_for,
    write_articles,
)

__all__ = ["daemon_env", "start"]  # fixtures used below
pytestmark = pytest.mark.timeout(90)


def test_sigterm_mid_run_exits_zero_within_stop_timeout(
    readerd_cli: ReaderdCLI, daemon_env: dict[str, str], start: Callable[..., Daemon]
) -> None:
    write_articles(Path(daemon_env["READERD_FOLDER"]), 10)
    daemon = start(READERD_FETCH_CONCURRENCY="1", READERD_LLM_CONCURRENCY="1")
    db = readerd_cli.db_path
    wait_for(lambda: done(db) >= 1, "the first processed link", daemon)
    began = time.monotonic()
    assert daemon.stop(timeout=15) == 0, daemon.log
    assert time.monotonic() - began < float(daemon_env["READERD_STOP_TIMEOUT"]) + 1
    assert integrity(db) == "ok"
    assert count(db, "SELECT count(*) FROM link") == 10


def test_kill_9_mid_run_then_restart_loses_and_duplicates_nothing(
    readerd_cli: ReaderdCLI, daemon_env: dict[str, str], start: Callable[..., Daemon]
) -> None:
    files = 16
    write_articles(Path(daemon_env["READERD_FOLDER"]), files)
    db = readerd_cli.db_path
    first = start(READERD_FETCH_CONCURRENCY="1", READERD_LLM_CONCURRENCY="1")
    wait_for(lambda: done(db) >= 2, "a few processed links", first)
    first.stop(signal.SIGKILL)
    assert integrity(db) == "ok"

    second = start()
    wait_for(lambda: done(db) == files, "every link done after the restart", second)
    assert second.stop() == 0, second.log
    assert count(db, "SELECT count(*) FROM link") == files
    assert count(db, "SELECT count(DISTINCT source_id) FROM link") == files
    assert count(db, "SELECT count(*) FROM analysis") == files
    assert count(db, "SELECT count(*) FROM article") == files
    assert count(db, "SELECT count(*) FROM link_search") == files
    assert integrity(db) == "ok"


def test_sd_notify_ready_status_watchdog_stopping(
    daemon_env: dict[str, str], start: Callable[..., Daemon], tmp_path: Path
) -> None:
    import socket

    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(0.2)
        write_articles(Path(daemon_env["READERD_FOLDER"]), 2)
        daemon = start(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="500000")
        seen: list[str] = []

        def receive_until(wanted: str, timeout: float = 30) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not any(wanted in m for m in seen):
                try:
                    seen.append(sock.recv(4096).decode())
                except TimeoutError:
                    assert daemon.proc.poll() is None, daemon.log
            assert any(wanted in m for m in seen), f"no {wanted!r} in {seen}\n{daemon.log}"

        receive_until("READY=1")
        receive_until("STATUS=")
        receive_until("WATCHDOG=1")
        daemon.proc.send_signal(signal.SIGTERM)
        receive_until("STOPPING=1")
        assert daemon.proc.wait(timeout=15) == 0
    ready = next(i for i, m in enumerate(seen) if "READY=1" in m)
    assert all("WATCHDOG=1" not in m for m in seen[:ready])


def test_stop_timeout_abandons_a_hung_item_which_stays_queued(
    readerd_cli: ReaderdCLI, daemon_env: dict[str, str], start: Callable[..., Daemon]
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Event, Thread

    release = Event()
    asked = Event()

    class Hanging(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a page that never finishes loading
            asked.set()
            release.wait(30)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/slow"
    (Path(daemon_env["READERD_FOLDER"]) / "links.txt").write_text(url + "\n")
    try:
        daemon = start(READERD_FETCH_ALLOW="127.0.0.1", READERD_STOP_TIMEOUT="2")
        wait_for(asked.is_set, "the fetch of the hanging page", daemon)
        began = time.monotonic()
        assert daemon.stop(timeout=10) == 0, daemon.log
        assert time.monotonic() - began < 3.0  # STOP_TIMEOUT plus process exit
    finally:
        release.set()
        server.shutdown()
    assert "still busy after" in daemon.log
    db = readerd_cli.db_path
    assert query(db, "SELECT status, attempts FROM link") == [("pending", 0)]
    assert integrity(db) == "ok"
