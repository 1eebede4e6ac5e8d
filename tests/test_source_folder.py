"""FolderSource over real files in a temp directory."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from readerd.config import Settings
from readerd.errors import ConfigError
from readerd.results import SyncBatch
from readerd.sources import FolderSource, make_source

HTML = b"<html><head><title>Hola</title></head><body><p>Art\xc3\xadculo</p></body></html>"


def sync(root: Path, since: str | None = None, **kwargs: int) -> SyncBatch:
    return asyncio.run(FolderSource(root, **kwargs).changes(since))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a.html").write_bytes(HTML)
    (root / "sub" / "b.PDF").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (root / "links.txt").write_text("# mine\nhttps://example.org/uno\n\nnot a url\n", "utf-8")
    (root / "sub" / "atajo.url").write_text("[InternetShortcut]\nURL=https://example.org/dos\n")
    (root / "notes.md").write_text("https://example.org/ignored\n")
    (root / ".hidden.html").write_bytes(HTML)
    (root / ".git" / "x.html").write_bytes(HTML)
    return root


def test_articles_and_link_lists_become_saved_links(folder: Path) -> None:
    by_id = {link.source_id: link for link in sync(folder).links}
    assert set(by_id) == {
        "a.html",
        "sub/b.PDF",
        "https://example.org/uno",
        "https://example.org/dos",
    }
    article = by_id["a.html"]
    assert (article.source, article.content, article.content_type) == ("folder", HTML, "text/html")
    assert article.url == (folder / "a.html").resolve().as_uri() and article.title is None
    assert by_id["sub/b.PDF"].content_type == "application/pdf"
    listed = by_id["https://example.org/uno"]
    assert listed.url == "https://example.org/uno" and listed.content is None


def test_second_scan_returns_only_files_changed_after_the_cursor(folder: Path) -> None:
    first = sync(folder)
    assert first.cursor is not None
    unchanged = sync(folder, first.cursor)
    assert unchanged == SyncBatch(links=[], cursor=first.cursor)
    later = float(first.cursor) + 10
    os.utime(folder / "a.html", (later, later))
    second = sync(folder, first.cursor)
    assert [link.source_id for link in second.links] == ["a.html"]
    assert second.cursor == repr(later)


def test_file_moved_in_with_an_old_mtime_is_still_new(tmp_path: Path) -> None:
    since = repr(time.time() - 60)
    old = tmp_path / "old.html"
    old.write_bytes(HTML)
    os.utime(old, (1e9, 1e9))  # 2001, as `mv` or `cp -p` would keep it
    assert [link.source_id for link in sync(tmp_path, since).links] == ["old.html"]


def test_unreadable_and_oversized_files_are_skipped_with_a_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "broken.html").symlink_to(folder / "missing.html")
    (folder / "big.html").write_bytes(b"x" * 5000)
    with caplog.at_level(logging.WARNING, logger="readerd.sources.folder"):
        links = sync(folder, max_bytes=1000).links
    assert "a.html" in {link.source_id for link in links}
    assert not {"broken.html", "big.html"} & {link.source_id for link in links}
    assert "broken.html" in caplog.text and "big.html" in caplog.text
    assert "1 lines are not http(s) URLs" in caplog.text


def test_a_cursor_that_is_not_a_time_reads_everything(folder: Path) -> None:
    assert len(sync(folder, "7187623980abc").links) == 4


def test_empty_folder_keeps_the_cursor(tmp_path: Path) -> None:
    assert sync(tmp_path, "123.5") == SyncBatch(links=[], cursor="123.5")


def test_make_source_refuses_a_missing_folder(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, source="folder", folder=tmp_path / "nope")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="READERD_FOLDER"):
        make_source(settings)


def test_quick_start_reads_the_bundled_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("READERD_FOLDER", raising=False)
    monkeypatch.delenv("READERD_SOURCE", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.quick_start
    source = make_source(settings)
    links = asyncio.run(source.changes(None)).links
    assert source.name == "folder" and links
    assert all(link.content or link.url.startswith("http") for link in links)


def test_a_folder_source_without_a_folder_is_refused_not_the_samples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("READERD_FOLDER", raising=False)
    with pytest.raises(ConfigError, match="READERD_SOURCE=folder needs READERD_FOLDER"):
        make_source(Settings(_env_file=None, source="folder"))  # type: ignore[call-arg]
