"""`readerd digest` as a user runs it: the real CLI over a real database and SMTP server.

Each test that reads the database runs on SQLite and on PostgreSQL (`backend_cli`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from readerd.config import Settings
from readerd.store.outbox import list_digests
from tests.conftest import ReaderdCLI
from tests.digest_fixtures import ENGLISH, SPANISH, add_article, digest_settings, new_engine

if TYPE_CHECKING:
    from tests.servers.smtp import StartServer


def settings_of(cli: ReaderdCLI) -> Settings:
    """The digest settings on the CLI's data dir and database, either backend."""
    return digest_settings(cli.data_dir.parent, database_url=cli.database_url)


def seed(cli: ReaderdCLI, *samples: object) -> None:
    """Write analysed articles into the database the CLI will open."""
    engine = new_engine(settings_of(cli))
    for sample in samples:
        add_article(engine, sample)  # type: ignore[arg-type]
    engine.dispose()


def invoke(cli: ReaderdCLI, *args: str, **env: str) -> tuple[int, str]:
    """Run the CLI; its exit code and its output, stdout then stderr."""
    result = ReaderdCLI(cli.data_dir, {**cli.env, **env})(*args, check=False)
    return result.returncode, result.stdout + result.stderr


def test_preview_writes_html_and_text_without_touching_the_outbox(
    tmp_path: Path, backend_cli: ReaderdCLI
) -> None:
    seed(backend_cli, *ENGLISH)
    out = tmp_path / "preview"
    result = backend_cli("digest", "--preview", "--out", str(out))
    assert "3 new to read" in result.stdout
    html, text = (out / "digest.html").read_text("utf-8"), (out / "digest.txt").read_text("utf-8")
    assert all(s.title in html and s.title in text for s in ENGLISH)
    engine = new_engine(settings_of(backend_cli))
    assert list_digests(engine) == []
    engine.dispose()


def test_preview_prints_the_text_part(backend_cli: ReaderdCLI) -> None:
    seed(backend_cli, *SPANISH[:2])
    code, output = invoke(backend_cli, "digest", "--preview")
    assert code == 0 and output.startswith("Subject: 2 para leer · ")
    assert "TU RESUMEN DE LECTURAS" in output and SPANISH[1].title in output


def test_send_without_smtp_settings_says_which_are_missing(readerd_cli: ReaderdCLI) -> None:
    # Refused before the database is opened: the same on both backends, so SQLite only.
    seed(readerd_cli, ENGLISH[0])
    result = readerd_cli("digest", "--send", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: digest: to send e-mail, set READERD_SMTP_HOST, "
        "READERD_DIGEST_FROM, READERD_DIGEST_TO"
    )


def test_send_then_list(backend_cli: ReaderdCLI, start_smtp: StartServer) -> None:
    server = start_smtp()
    seed(backend_cli, ENGLISH[0])
    env = {
        "READERD_SMTP_HOST": server.host,
        "READERD_SMTP_PORT": str(server.port),
        "READERD_SMTP_SECURITY": "none",
        "READERD_DIGEST_FROM": "digest@example.org",
        "READERD_DIGEST_TO": "me@example.org",
    }
    code, output = invoke(backend_cli, "digest", "--send", "--date", "2026-11-22", **env)
    assert (code, output.strip()) == (0, "digest 2026-11-22: 1 queued, 1 sent")
    assert server.messages[0].rcpt_tos == ["me@example.org"]
    [row] = json.loads(backend_cli("digest", "--list", "--json").stdout)
    assert (row["date"], row["recipient"], row["status"], row["items"]) == (
        "2026-11-22",
        "me@example.org",
        "sent",
        1,
    )
    assert datetime.fromisoformat(row["sent_at"].removesuffix("Z"))
    code, table = invoke(backend_cli, "digest", "--list")
    assert code == 0 and "2026-11-22" in table and "sent" in table


def test_usage_errors_and_help(readerd_cli: ReaderdCLI) -> None:
    # Refused before any database is opened: the same on both backends, so SQLite only.
    code, output = invoke(readerd_cli, "digest", "--preview", "--send")
    assert code == 2 and "choose exactly one of --preview, --send, --list" in output
    code, output = invoke(readerd_cli, "digest", "--send", "--date", "22/11/2026")
    assert code == 2 and "--date must be YYYY-MM-DD" in output
    code, output = invoke(readerd_cli, "digest", "--help")
    assert code == 0 and "READERD_SMTP_HOST" in output
    assert "readerd digest --preview --out" in output
