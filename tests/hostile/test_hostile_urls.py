"""Hostile saved links: credentials in a URL, and schemes readerd must never open.

A trap listens where the credentialed link points (and is allowed past the SSRF
guard), so the only thing keeping readerd away is the credential refusal. Every
byte readerd printed or stored is then searched for the password.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ReaderdCLI
from tests.hostile.helpers import folder_env, links_by_url, trap

SECRET = "S3cretPassw0rd-7f1e"


def _all_bytes(cli: ReaderdCLI) -> bytes:
    return b"".join(p.read_bytes() for p in cli.data_dir.rglob("*") if p.is_file())


def test_credentials_in_a_saved_url_are_masked_everywhere_and_never_fetched(
    readerd_cli: ReaderdCLI,
) -> None:
    with trap("127.0.0.1") as listener:
        url = f"http://user:{SECRET}@127.0.0.1:{listener.port}/f"
        folder_env(readerd_cli, [url])
        run = readerd_cli("run", "--once", check=False, READERD_FETCH_ALLOW="127.0.0.1")
        listing = readerd_cli("list", "--json")
        shown = readerd_cli("show", "1")
    assert listener.connections == []  # refused before any connection
    masked = f"http://user:***@127.0.0.1:{listener.port}/f"
    assert masked in links_by_url(readerd_cli)
    assert links_by_url(readerd_cli)[masked]["status"] == "failed"
    assert masked in listing.stdout and masked in shown.stdout
    for text in (run.stdout, run.stderr, listing.stdout, shown.stdout, shown.stderr):
        assert SECRET not in text
    assert SECRET.encode() not in _all_bytes(readerd_cli)


def test_other_schemes_are_kept_as_failed_items_and_import_says_what_it_skipped(
    readerd_cli: ReaderdCLI, tmp_path: Path
) -> None:
    listing = tmp_path / "links.txt"
    listing.write_text(
        "https://example.org/fine\n"
        "file:///etc/passwd\n"
        "javascript:alert(1)\n"
        f"ftp://anon:{SECRET}@files.example.org/x\n"
        "mailto:someone@example.org\n"
        "just some words\n",
        encoding="utf-8",
    )
    imported = readerd_cli("import", str(listing))
    assert "skipped 5 lines" in imported.stdout
    assert "4 unsupported scheme (file, ftp, javascript, mailto)" in imported.stdout
    assert "1 not a URL" in imported.stdout
    links = links_by_url(readerd_cli)
    for url in (
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://anon:***@files.example.org/x",
        "mailto:someone@example.org",
    ):
        assert links[url]["status"] == "failed", url
        assert links[url]["last_error"].startswith("unsupported scheme")
    assert links["https://example.org/fine"]["status"] == "pending"
    failed = readerd_cli("list", "--status", "failed")
    assert "file:///etc/passwd" in failed.stdout
    assert SECRET not in imported.stdout + failed.stdout
    assert SECRET.encode() not in _all_bytes(readerd_cli)


def test_a_folder_list_keeps_a_file_url_as_failed_and_never_reads_it(
    readerd_cli: ReaderdCLI, tmp_path: Path
) -> None:
    secret_file = tmp_path / "private.txt"
    secret_file.write_text("the content of a private file", encoding="utf-8")
    folder_env(readerd_cli, [secret_file.as_uri()])
    readerd_cli("run", "--once", check=False)
    link = links_by_url(readerd_cli)[secret_file.as_uri()]
    assert link["status"] == "failed" and "unsupported scheme: file" in link["last_error"]
    assert b"the content of a private file" not in _all_bytes(readerd_cli)
