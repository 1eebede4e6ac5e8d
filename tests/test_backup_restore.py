"""deploy/INSTALL.md's backup and restore, step by step, against a real library."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.conftest import REPO, ReaderdCLI

INSTALL = REPO / "deploy" / "INSTALL.md"


def _library(cli: ReaderdCLI) -> list[tuple[str, str | None]]:
    return [(row["url"], row["title"]) for row in json.loads(cli("list", "--json").stdout)]


def test_the_documented_steps_use_readerd_not_sqlite3() -> None:
    text = INSTALL.read_text(encoding="utf-8")
    section = text[text.index("## 6. Back up and restore") : text.index("## 7. Upgrade")]
    assert "readerctl db backup /var/lib/readerd/backup.db --force" in section
    assert "readerctl db restore /var/lib/readerd/restore.db --force" in section
    assert "sudo systemctl stop readerd" in section
    assert "sqlite3 " not in text  # a tool its apt line never installs
    assert re.search(r"readerctl import /srv/readerd/import/pocket\.zip", text)


def test_backup_then_restore_as_documented_gives_the_library_back(
    readerd_cli: ReaderdCLI, tmp_path: Path
) -> None:
    export = tmp_path / "pocket.csv"
    export.write_text(
        "url,title,tags\nhttps://example.org/a,Alpha,x\nhttps://example.org/b,Beta,\n",
        encoding="utf-8",
    )
    readerd_cli("import", str(export))
    before = _library(readerd_cli)
    state = readerd_cli.data_dir

    # readerctl db backup /var/lib/readerd/backup.db --force; copy it off the machine
    readerd_cli("db", "backup", str(state / "backup.db"), "--force")
    offsite = tmp_path / "backups" / "readerd-2026-12-01.db"
    offsite.parent.mkdir()
    shutil.copy(state / "backup.db", offsite)

    # disaster: the library is changed, then lost (its WAL files left behind)
    extra = tmp_path / "more.txt"
    extra.write_text("https://example.org/after-the-backup\n", encoding="utf-8")
    readerd_cli("import", str(extra))
    readerd_cli.db_path.write_bytes(b"garbage, not a database")

    # the service is stopped; install the copy, restore it, remove it, start again
    shutil.copy(offsite, state / "restore.db")
    restored = readerd_cli("db", "restore", str(state / "restore.db"), "--force")
    assert "integrity ok" in restored.stdout
    (state / "restore.db").unlink()
    assert _library(readerd_cli) == before
    assert readerd_cli.db_path.stat().st_mode & 0o077 == 0


def test_restore_refuses_what_is_not_a_backup_and_an_existing_library(
    readerd_cli: ReaderdCLI, tmp_path: Path
) -> None:
    readerd_cli("db", "upgrade")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite")
    refused = readerd_cli("db", "restore", str(junk), "--force", check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("error: restore: ")
    assert "Traceback" not in refused.stderr
    readerd_cli("db", "backup", str(tmp_path / "good.db"))
    kept = readerd_cli("db", "restore", str(tmp_path / "good.db"), check=False)
    assert kept.returncode == 1 and "use --force" in kept.stderr
