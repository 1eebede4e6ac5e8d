"""Shared pieces of the fault-and-attack suite: traps, module-wide servers, CLI runs, queries."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from readerd.store.views import list_links
from tests.conftest import ReaderdCLI
from tests.daemon_process import Daemon
from tests.servers.pocket_api import ACCESS_TOKEN, CONSUMER_KEY, PocketServer, running_pocket


@dataclass
class Trap:
    """A TCP listener that must never be reached: it records and drops every connection."""

    host: str
    port: int = 0
    connections: list[tuple[str, int]] = field(default_factory=list)
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Trap:
        """Listen on host (IPv4 or IPv6 loopback) in a background thread."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, address = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(tuple(address[:2]))  # type: ignore[arg-type]
            conn.close()

    def url(self, path: str = "/") -> str:
        """An http URL that points at this trap."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()


@contextmanager
def trap(host: str) -> Iterator[Trap]:
    """A running Trap on host."""
    running = Trap(host).start()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def pocket() -> Iterator[PocketServer]:
    """A Pocket-compatible server on 127.0.0.1 outside the function-scoped fixture."""
    with running_pocket() as state:
        yield state


def pocket_env(server: PocketServer) -> dict[str, str]:
    """Settings that sync from `server`."""
    return {
        "READERD_SOURCE": "pocket",
        "READERD_POCKET_URL": server.url,
        "READERD_POCKET_CONSUMER_KEY": CONSUMER_KEY,
        "READERD_POCKET_ACCESS_TOKEN": ACCESS_TOKEN,
    }


def folder_env(cli: ReaderdCLI, urls: list[str], files: dict[str, bytes] | None = None) -> Path:
    """A folder source whose links.txt lists `urls` (plus article files); returns the folder."""
    inbox = cli.data_dir.parent / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "links.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
    for name, data in (files or {}).items():
        (inbox / name).write_bytes(data)
    cli.env.update(READERD_SOURCE="folder", READERD_FOLDER=str(inbox))
    return inbox


def links_by_url(cli: ReaderdCLI) -> dict[str, dict[str, Any]]:
    """Every stored link as `readerd list --json` shows it, keyed by URL (read in-process)."""
    engine = create_engine(f"sqlite:///{cli.db_path}")
    try:
        found = list_links(engine, limit=10_000)
    finally:
        engine.dispose()
    return {row["url"]: json.loads(json.dumps(row, default=str)) for row in found}


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """A read query on a readerd database, as another process would run it."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def integrity(db: Path) -> str:
    """PRAGMA integrity_check of the database ('ok' when intact)."""
    return str(rows(db, "PRAGMA integrity_check")[0][0])


def module_cli(tmp: Path) -> ReaderdCLI:
    """A ReaderdCLI in a fresh data dir under tmp (for module-scoped runs)."""
    data = tmp / "data"
    data.mkdir(parents=True)
    return ReaderdCLI(data)


@contextmanager
def daemon(cli: ReaderdCLI, **extra_env: str) -> Iterator[Daemon]:
    """A running daemon, killed on the way out if the test did not stop it."""
    running = Daemon(cli, **extra_env)
    try:
        yield running
    finally:
        running.kill()


def count(db: Path, sql: str, *params: object) -> int:
    """The first column of the first row of a counting query (0 before the tables exist)."""
    if not db.exists():
        return 0
    try:
        return int(rows(db, sql, *params)[0][0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise


def article_html(n: int, paragraphs: int = 12) -> bytes:
    """A small, distinct English article page."""
    words = "garden soil water light seed compost planning patience harvest tomato basil"
    body = "".join(f"<p>Article {n}, part {p}: {words} {n}.</p>" for p in range(paragraphs))
    return (
        f"<html><head><title>Article {n}</title></head><body><article><h1>Article {n}</h1>"
        f"{body}</article></body></html>"
    ).encode()


def spin_page() -> bytes:
    """About 1.9 MB: under a 2 MiB cap, but tens of seconds of trafilatura on any machine.

    Paragraphs of links inside 250 nested divs: the extractor measures text and link
    density per element, so its work grows with size times depth. Plain flat
    paragraphs were tried first and took only ~2 s on a fast CI machine, too close to
    a 2 s limit to fail reliably; this shape takes ~40 s on a 2-core dev box.
    """
    words = "compost soil water garden harvest seed patience light"
    opening = "".join(f"<div><p>{words} {i}</p>" for i in range(250))
    links = "".join(
        f"<p>P {i}: {words} <a href='/x{i}'>{words}</a></p>" for i in range(13_000)
    )
    body = opening + links + "</div>" * 250
    return f"<html><body><article>{body}</article></body></html>".encode()
