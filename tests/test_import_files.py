"""`read_import_file`: Pocket CSV/ZIP/legacy-HTML exports and URL lists, small and real files."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from readerd.errors import SourceError
from readerd.results import LinkState
from readerd.sources import read_import_file
from readerd.sources.pocket_export import ImportResult, parse_zip
from readerd.sources.urls import normalize_url

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sources"
CSV_ROWS = "title,url,time_added,tags,status\nUno,https://example.org/1,1700000000,a|b,unread\n"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared fixtures not found beside the checkout: {SHARED}")
    return path


def test_csv_with_shuffled_columns_bom_crlf_and_accents() -> None:
    links = read_import_file(FIXTURES / "pocket_shuffled_es.csv")
    first, second, third = links
    assert first.title == "Cómo llegué a León, ¡por fin!"
    assert first.tags == ("viajes", "España", "año nuevo")
    assert first.state is LinkState.ARCHIVED and first.source == "import"
    assert first.added_at == datetime(2023, 11, 14, 22, 13, 20)
    assert second.title == "El cañón del río"  # a newline inside the quoted title
    assert second.source_id == "https://example.org/cañón"
    assert (third.title, third.state, third.added_at) == ("Ñandú", LinkState.ARCHIVED, None)


def test_csv_skips_bad_and_repeated_urls_and_reports_them() -> None:
    result = read_import_file(FIXTURES / "pocket_shuffled_es.csv")
    assert isinstance(result, ImportResult) and isinstance(result, list)
    assert len(result.skipped) == 2
    assert "ftp://example.org/file" in result.skipped[0]
    assert "(no url)" in result.skipped[1]


def test_import_is_idempotent_by_normalised_url() -> None:
    once = read_import_file(FIXTURES / "pocket_shuffled_es.csv")
    again = read_import_file(FIXTURES / "pocket_shuffled_es.csv")
    assert [link.source_id for link in once] == [link.source_id for link in again]
    assert all(link.source_id == normalize_url(link.url) for link in once)


def test_real_pocket_csv_exports_parse() -> None:
    plain = read_import_file(shared("pocket_export_sample.csv"))
    assert len(plain) == 7 and not plain.skipped
    assert sum(link.state is LinkState.ARCHIVED for link in plain) == 2
    assert plain[6].title and "\n" not in plain[6].title and "élépha" in plain[6].title
    with_cursor = read_import_file(shared("pocket_export_sample_with_cursor.csv"))
    assert with_cursor[1].tags == ("opensource", "withÄumlaut", "with space")
    assert with_cursor[2].url == "https://somewebsite.com/with,commas,in,the,url"


def test_zip_reads_every_csv_member_and_ignores_the_rest(tmp_path: Path) -> None:
    archive = tmp_path / "pocket.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("part_000000.csv", CSV_ROWS)
        zf.writestr("part_000001.csv", CSV_ROWS.replace("/1,", "/2,").replace("Uno", "Dos"))
        zf.writestr("readme.txt", "https://example.org/not-imported\n")
        zf.writestr("__MACOSX/._part_000000.csv", b"\x00\x05\x16\x07")
    links = read_import_file(archive)
    assert [link.title for link in links] == ["Uno", "Dos"]
    assert links[0].tags == ("a", "b")


def test_zip_bomb_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("part_000000.csv", CSV_ROWS + "x" * 200_000)
    assert archive.stat().st_size < 2_000
    with pytest.raises(SourceError, match=r"ZIP member too large: part_000000.csv"):
        parse_zip(archive, max_member=100_000)


def test_zip_without_csv_is_a_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes.md", "hello")
    with pytest.raises(SourceError, match=r"ZIP holds no .csv file"):
        read_import_file(archive)


def test_legacy_html_export_with_sections_and_accents() -> None:
    result = read_import_file(FIXTURES / "ril_export_es.html")
    unread, archived = result
    assert (unread.title, unread.tags) == ("El pingüino & el oso", ("animales", "frío"))
    assert unread.state is LinkState.UNREAD
    assert (archived.title, archived.state) == ("Ya leído", LinkState.ARCHIVED)
    assert result.skipped == ["link: javascript:alert(1)"]


def test_real_legacy_html_export_parses() -> None:
    links = read_import_file(shared("pocket_export_legacy_sample.html"))
    assert len(links) == 2
    assert links[0].title == (
        "Tarn : Des lapins ravagent le terrain, le match de rugby doit être annulé"
    )
    assert links[0].tags == ("ifttt", "new_entry_simple")
    assert links[0].added_at == datetime(2023, 7, 6, 7, 31, 35)


def test_url_list_ignores_comments_and_blank_lines() -> None:
    result = read_import_file(FIXTURES / "urls.txt")
    assert [link.url for link in result] == [
        "https://example.org/uno",
        "https://example.org/dos",
        "http://example.org/tres",
    ]
    assert result.skipped == ["not a url", "mailto:someone@example.org"]


def test_windows_internet_shortcut() -> None:
    (link,) = read_import_file(FIXTURES / "shortcut.url")
    assert link.url == "https://example.org/atajo?q=1"


def test_json_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "bookmarks.json"
    path.write_text('{"results": []}', encoding="utf-8")
    with pytest.raises(SourceError, match=r"unknown format: bookmarks.json looks like JSON"):
        read_import_file(path)


def test_text_without_any_url_is_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\nnothing else\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"import: unknown format: notes.txt"):
        read_import_file(path)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None])
def test_binary_or_missing_file_is_a_source_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "export.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=r"^import: "):
        read_import_file(path)


def test_csv_without_url_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("name,link\nx,https://example.org\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no 'url' column"):
        read_import_file(path)


def test_windows_1252_file_keeps_its_accents(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("title,url\nCanción,https://example.org/c\n".encode("cp1252"))
    assert read_import_file(path)[0].title == "Canción"


def test_empty_file_gives_no_links(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert read_import_file(path) == []
