"""Storage under stress: readers beside the writing daemon, backups, full disks, migrations.

The kill -9 soak (200 cycles) is marked `slow` and runs in its own CI step.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event

from readerd import store
from readerd.config import Settings
from readerd.errors import SourceError, StoreError
from readerd.pipeline import process_due, sync_links
from readerd.results import SavedLink
from readerd.store.database import make_engine, upgrade_database
from tests.conftest import ReaderdCLI
from tests.hostile.helpers import (
    article_html,
    count,
    daemon,
    folder_env,
    integrity,
    rows,
    spin_page,
)
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer

FINISHED = "SELECT count(*) FROM link WHERE status IN ('done', 'failed')"


def _head() -> str:
    """The schema revision this readerd expects."""
    config = Config()
    config.set_main_option("script_location", str(files("readerd.migrations")))
    return ScriptDirectory.from_config(config).get_current_head() or ""


# --- the daemon writes; the CLI reads, backs up; a page makes the extractor spin


def test_cli_reads_and_backs_up_while_the_daemon_writes_and_survives_a_spinning_page(
    readerd_cli: ReaderdCLI, tmp_path: Path
) -> None:
    # Enough articles that processing is still going when the four commands have run.
    articles = {f"article-{n:02d}.html": article_html(n) for n in range(80)}
    # "a-spin" sorts first: the rest is read by the worker that replaces the killed one.
    inbox = folder_env(readerd_cli, [], {"a-spin.html": spin_page(), **articles})
    readerd_cli.env.update(
        READERD_ANALYZER="offline",
        READERD_EXTRACT_TIMEOUT="2",
        READERD_FETCH_CONCURRENCY="1",
        READERD_LLM_CONCURRENCY="1",
        READERD_SYNC_INTERVAL="1",
        READERD_PROCESS_INTERVAL="1",
        READERD_LOG_LEVEL="INFO",
    )
    db, total = readerd_cli.db_path, len(articles) + 1
    backup = tmp_path / "backup.db"
    with daemon(readerd_cli) as running:
        running.wait_for(lambda: count(db, "SELECT count(*) FROM link") == total, "the sync")
        overlapped = []
        for command_line in (["list", "--json"], ["search", "compost", "--json"],
                             ["stats", "--json"], ["db", "backup", str(backup)]):  # fmt: skip
            overlapped.append(count(db, FINISHED) < total)
            result = readerd_cli(*command_line, check=False)
            assert result.returncode == 0, result.stderr
            assert "locked" not in result.stderr and "Traceback" not in result.stderr
            if "--json" in command_line:
                json.loads(result.stdout)
        assert overlapped[0] and overlapped[-1], "processing ended before the CLI could overlap"
        running.wait_for(lambda: count(db, FINISHED) == total, "every link finished", timeout=60)
        assert running.stop() == 0, running.log
    stored = dict(rows(db, "SELECT url, last_error FROM link WHERE status = 'failed'"))
    spin = (inbox / "a-spin.html").resolve().as_uri()
    assert stored == {spin: f"extract: gave up after 2 s: url={spin}"}
    assert count(db, "SELECT count(*) FROM link WHERE status = 'done'") == total - 1
    assert "Traceback" not in running.log and integrity(db) == "ok"
    _check_backup(readerd_cli, backup, tmp_path)


def _check_backup(cli: ReaderdCLI, backup: Path, tmp_path: Path) -> None:
    """The copy is one intact file at the current schema, private, and restores."""
    assert backup.stat().st_mode & 0o077 == 0
    assert not Path(f"{backup}-wal").exists()
    assert integrity(backup) == "ok"
    assert rows(backup, "SELECT version_num FROM alembic_version") == [(_head(),)]
    copied = count(backup, "SELECT count(*) FROM link")
    assert 0 < copied <= count(cli.db_path, "SELECT count(*) FROM link")
    restored = ReaderdCLI(tmp_path / "restored")
    restored.data_dir.mkdir()
    shutil.copy(backup, restored.db_path)
    listed = json.loads(restored("list", "--json", "--limit", "500").stdout)
    assert len(listed) == copied
    again = cli("db", "backup", str(backup), check=False)
    assert again.returncode == 1 and "already exists; use --force" in again.stderr
    assert "backup written" in cli("db", "backup", str(backup), "--force").stdout


# --- transactions


def _settings(tmp_path: Path, **values: Any) -> Settings:
    values = {"data_dir": tmp_path / "data", **values}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _traced(engine: Engine) -> list[str]:
    """Every SQL statement the engine's connections run, as SQLite sees it."""
    seen: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    return seen


def test_write_transactions_begin_immediate_and_writers_queue(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    engine = make_engine(settings)
    upgrade_database(engine)
    engine.dispose()
    writer, reader = make_engine(settings), make_engine(settings, write=False)
    written, read = _traced(writer), _traced(reader)
    link = SavedLink(source="t", source_id="1", url="https://example.org/a")
    store.commit_sync(writer, "t", [link], "c1", "ok")
    store.record_sync_failure(writer, "t", "boom")
    store.due_links(reader, 10)
    begins = [s for s in written if s.upper().startswith("BEGIN")]
    assert begins and set(begins) == {"BEGIN IMMEDIATE"}
    assert {s for s in read if s.upper().startswith("BEGIN")} == {"BEGIN"}

    errors: list[BaseException] = []

    def hammer(name: str) -> None:
        engine = make_engine(settings)
        try:
            for n in range(40):
                saved = SavedLink(source=name, source_id=str(n), url=f"https://example.org/{n}")
                store.commit_sync(engine, name, [saved], str(n), "ok")
        except BaseException as exc:  # collected: "database is locked" would land here
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(settings.data_dir / "readerd.db", "SELECT count(*) FROM link") == 121


# --- the sync cursor


def test_the_cursor_never_passes_links_that_were_not_committed(
    pocket_server: PocketServer, tmp_path: Path
) -> None:
    for n in range(45):  # two pages of 30
        pocket_server.add_item(f"https://example.org/{n}", f"item {n}")
    answer, calls = pocket_server.answer, []

    def second_page_fails(body: Any) -> Any:
        calls.append(body)
        if len(calls) >= 2:
            return 400, {"X-Error": "Invalid request", "X-Error-Code": "130"}, None
        return answer(body)

    pocket_server.answer = second_page_fails  # type: ignore[method-assign]
    settings = _settings(
        tmp_path,
        source="pocket",
        pocket_url=pocket_server.url,
        pocket_consumer_key=CONSUMER_KEY,
        pocket_access_token=ACCESS_TOKEN,
    )
    engine = make_engine(settings)
    upgrade_database(engine)
    with pytest.raises(SourceError):
        asyncio.run(sync_links(settings, engine))
    assert store.get_cursor(engine, "pocket") is None  # page one alone is never committed
    assert count(settings.data_dir / "readerd.db", "SELECT count(*) FROM link") == 0
    pocket_server.answer = answer  # type: ignore[method-assign]
    report = asyncio.run(sync_links(settings, engine))
    assert report.new == 45 and store.get_cursor(engine, "pocket") == str(pocket_server.now)


# --- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs (root can mount one); skipped, saying why, where that is impossible."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"full-disk case needs a small filesystem (mount as root): {done.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Write a file until the filesystem has no byte left; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


def test_full_disk_rolls_back_stops_the_run_and_the_database_still_opens(
    small_disk: Path, tmp_path: Path, readerd_cli: ReaderdCLI
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(3):
        (inbox / f"a{n}.html").write_bytes(article_html(n))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=small_disk, source="folder", folder=inbox, analyzer="offline",
        fetch_concurrency=1, llm_concurrency=1,
    )  # fmt: skip
    engine = make_engine(settings)
    upgrade_database(engine)
    asyncio.run(sync_links(settings, engine))
    db = small_disk / "readerd.db"
    cursor = store.get_cursor(engine, "folder")
    for n in range(3, 15):
        (inbox / f"a{n}.html").write_bytes(article_html(n, paragraphs=40))
    holder = engine.connect()  # like a running daemon: keeps the -wal and -shm files open
    filler = _fill(small_disk)

    with pytest.raises(StoreError, match="store: database error: database or disk is full"):
        asyncio.run(sync_links(settings, engine))
    assert store.get_cursor(engine, "folder") == cursor  # rolled back: cursor and links
    assert count(db, "SELECT count(*) FROM link") == 3
    listed = readerd_cli("list", "--json", READERD_DATA_DIR=str(small_disk))  # still opens
    assert len(json.loads(listed.stdout)) == 3

    filler.unlink()  # room for the links, but not for their articles
    asyncio.run(sync_links(settings, engine))
    _fill(small_disk)
    with pytest.raises(StoreError, match="database or disk is full"):
        asyncio.run(asyncio.wait_for(process_due(settings, engine), 60))  # stops, never hangs
    states = rows(db, "SELECT status, attempts, count(*) FROM link GROUP BY 1, 2")
    assert states == [("pending", 0, 15)]  # nothing lost, no attempt spent
    assert integrity(db) == "ok"

    (small_disk / "filler").unlink()
    holder.close()
    report = asyncio.run(process_due(settings, engine))
    assert report.done == 15 and integrity(db) == "ok"


# --- migrations


def _database_at(revision: str, settings: Settings) -> Engine:
    """A database migrated only up to `revision`, holding one link."""
    engine = make_engine(settings)
    config = Config()
    config.set_main_option("script_location", str(files("readerd.migrations")))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO link (source, source_id, url, state, deleted, created_at, stage, status, "
            "attempts) VALUES ('t', '1', 'https://example.org/kept', 'unread', 0, "
            "'2026-01-01 00:00:00', 'done', 'done', 0)"
        )
    return engine


def test_a_migration_failing_midway_leaves_the_old_schema_and_run_refuses(
    readerd_cli: ReaderdCLI,
) -> None:
    settings = _settings(readerd_cli.data_dir.parent, data_dir=readerd_cli.data_dir)
    engine = _database_at("0001", settings)
    with engine.begin() as connection:  # 0002 creates its table, then this name collides
        connection.exec_driver_sql("CREATE INDEX ix_digest_due ON link (status)")
    engine.dispose()
    db = readerd_cli.db_path

    upgrade = readerd_cli("db", "upgrade", check=False)
    assert upgrade.returncode == 1
    assert (  # the line names the database it is about
        f"error: store: database error at {db}: index ix_digest_due already exists"
        in upgrade.stderr
    )
    assert "Traceback" not in upgrade.stderr
    assert rows(db, "SELECT version_num FROM alembic_version") == [("0001",)]
    assert count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'digest_outbox'") == 0
    assert rows(db, "SELECT url FROM link") == [("https://example.org/kept",)]
    assert integrity(db) == "ok"

    run = readerd_cli("run", check=False, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"error: store: cannot upgrade the database at sqlite:///{db}" in run.stderr
    listing = readerd_cli("list", check=False)
    assert listing.returncode == 1
    assert (
        f"error: store: database schema is at 0001, this readerd needs {_head()}; "
        "run `readerd db upgrade`"
    ) in listing.stderr


def test_the_daemon_refuses_a_database_from_a_newer_readerd(readerd_cli: ReaderdCLI) -> None:
    settings = _settings(readerd_cli.data_dir.parent, data_dir=readerd_cli.data_dir)
    engine = _database_at("head", settings)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    run = readerd_cli("run", check=False, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "error: store: cannot upgrade the database" in run.stderr and "9999" in run.stderr
    assert rows(readerd_cli.db_path, "SELECT version_num FROM alembic_version") == [("9999",)]
