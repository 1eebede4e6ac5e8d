"""In-process pieces of the daemon: lock, sd_notify, state file, duration settings, scheduling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from pydantic import ValidationError

from readerd.config import load_settings
from readerd.daemon import Daemon
from readerd.daemon.sdnotify import Notifier, run_watchdog, watchdog_interval
from readerd.daemon.state import StateFile, daemon_summary
from readerd.store.lock import InstanceLock, LockHeldError, probe_lock


def test_lock_is_exclusive_and_names_the_holder(tmp_path: Path) -> None:
    with InstanceLock(tmp_path):
        state = probe_lock(tmp_path)
        assert state.held and state.pid == os.getpid()
        with pytest.raises(LockHeldError, match=rf"already running \(pid {os.getpid()}\)"):
            InstanceLock(tmp_path).acquire(attempts=1)
    assert not probe_lock(tmp_path).held


def test_stale_lock_file_from_a_dead_process_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "readerd.lock").write_text("999999\n")
    assert not probe_lock(tmp_path).held
    with InstanceLock(tmp_path):
        assert (tmp_path / "readerd.lock").read_text().strip() == str(os.getpid())


def test_probe_never_creates_the_lock_file(tmp_path: Path) -> None:
    assert not probe_lock(tmp_path).held
    assert not (tmp_path / "readerd.lock").exists()


def test_notifier_sends_datagrams_to_a_path_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "n.sock"))
        notifier = Notifier(str(tmp_path / "n.sock"))
        assert notifier.notify("READY=1", "STATUS=up")
        assert notifier.status("multi\nline   status")
        assert sock.recv(100) == b"READY=1\nSTATUS=up"
        assert sock.recv(100) == b"STATUS=multi line status"


def test_notifier_supports_abstract_sockets() -> None:
    name = f"readerd-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        assert Notifier("@" + name).notify("WATCHDOG=1")
        assert sock.recv(100) == b"WATCHDOG=1"


def test_notifier_without_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled
    assert Notifier().notify("READY=1") is False


def test_notifier_survives_a_vanished_socket(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "nobody.sock")).notify("READY=1") is False


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "500000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 0.25
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 0.25
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None


def test_state_file_roundtrip_and_corruption(tmp_path: Path) -> None:
    state = StateFile(tmp_path)
    assert state.load() == {}
    state.save({"jobs": {"sync": {"next_run": "x"}}})
    assert state.load()["jobs"]["sync"]["next_run"] == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["daemon-state.json"]  # no temp file left
    state.path.write_text("{not json")
    assert state.load() == {}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90", 90), ("1.5", 1.5), ("30m", 1800), ("1h30m", 5400), ("45s", 45), ("2h", 7200)],
)
def test_intervals_accept_seconds_or_durations(
    value: str, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READERD_SYNC_INTERVAL", value)
    assert load_settings().sync_interval == seconds


@pytest.mark.parametrize("value", ["soon", "30x", "m30", "0", "-5"])
def test_intervals_reject_nonsense(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READERD_PROCESS_INTERVAL", value)
    with pytest.raises(ValidationError):
        load_settings()


def test_defaults_suit_a_home_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SYNC_INTERVAL", "PROCESS_INTERVAL", "STOP_TIMEOUT"):
        monkeypatch.delenv(f"READERD_{name}", raising=False)
    settings = load_settings()
    assert (settings.sync_interval, settings.process_interval) == (1800, 600)
    assert settings.stop_timeout == 20  # below TimeoutStopSec=30s in deploy/readerd.service


def test_status_of_a_never_started_daemon(tmp_path: Path) -> None:
    summary = daemon_summary(load_settings(data_dir=tmp_path))
    assert summary["running"] is False and summary["pid"] is None
    assert summary["jobs"] == {} and summary["state"] == "stopped"


@pytest.fixture
def madrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TZ=Europe/Madrid, with tzlocal's cached zone reloaded before and after."""
    import tzlocal

    monkeypatch.setenv("TZ", "Europe/Madrid")
    tzlocal.reload_localzone()
    yield
    monkeypatch.undo()
    tzlocal.reload_localzone()


def test_jobs_have_fixed_ids_single_instances_and_coalesce(tmp_path: Path, madrid: None) -> None:
    settings = load_settings(data_dir=tmp_path, digest_to=["me@example.org"], digest_at="06:45")
    from readerd.store.database import make_engine

    daemon = Daemon(settings, make_engine(settings), Notifier(""))

    async def scheduled() -> dict[str, object]:
        daemon._add_jobs()
        daemon.scheduler.start(paused=True)
        try:
            return {job.id: job for job in daemon.scheduler.get_jobs()}
        finally:
            daemon.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)

    jobs = asyncio.run(scheduled())
    assert set(jobs) == {"sync", "process", "digest"}
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True  # type: ignore[attr-defined]
    digest = jobs["digest"]
    assert digest.misfire_grace_time >= 3600  # type: ignore[attr-defined]
    cron = next(t for t in digest.trigger.triggers if isinstance(t, CronTrigger))  # type: ignore[attr-defined]
    fields = {f.name: str(f) for f in cron.fields}
    assert (fields["hour"], fields["minute"]) == ("6", "45")
    assert str(cron.timezone) == "Europe/Madrid"
    assert json.dumps(daemon.record.data)  # the state file stays plain JSON


def test_no_digest_job_without_recipients(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, digest_to=[])
    from readerd.store.database import make_engine

    daemon = Daemon(settings, make_engine(settings), Notifier(""))
    daemon._add_jobs()
    assert {job.id for job in daemon.scheduler.get_jobs()} == {"sync", "process"}


def watchdog_pings(healthy: Callable[[], bool], seconds: float = 0.35) -> list[bytes]:
    """Datagrams run_watchdog sends in `seconds` with a 0.05 s interval."""
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "w.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.setblocking(False)

            async def run() -> None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run_watchdog(Notifier(path), 0.05, healthy), seconds)

            asyncio.run(run())
            received = []
            with contextlib.suppress(BlockingIOError):
                while True:
                    received.append(sock.recv(100))
            return received


def test_watchdog_pings_while_healthy() -> None:
    pings = watchdog_pings(lambda: True)
    assert len(pings) >= 3 and set(pings) == {b"WATCHDOG=1"}


def test_watchdog_is_silent_when_the_database_check_fails() -> None:
    assert watchdog_pings(lambda: False) == []


def test_watchdog_is_silent_while_a_check_hangs_and_never_stacks_checks() -> None:
    calls = []
    release = threading.Event()

    def hanging() -> bool:
        calls.append(1)
        release.wait(2)
        return True

    try:
        assert watchdog_pings(hanging) == []
        assert len(calls) == 1
    finally:
        release.set()


def test_a_failing_digest_is_logged_and_recorded_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from readerd.daemon import open_database

    settings = load_settings(
        data_dir=tmp_path, digest_to=["me@example.org"], digest_from="readerd@example.org",
        digest_at="00:00", digest_empty="note", smtp_host="127.0.0.1", smtp_port=9,
        smtp_security="none", smtp_timeout=2,
    )  # fmt: skip
    daemon = Daemon(settings, open_database(settings), Notifier(""))
    asyncio.run(daemon._digest_job())
    job = daemon.record.data["jobs"]["digest"]
    assert job["ok"] is False and job["last_result"].startswith("error: digest: ")
    assert "digest failed: digest: " in caplog.text
    assert json.loads((tmp_path / "daemon-state.json").read_text())["jobs"]["digest"]["ok"] is False
