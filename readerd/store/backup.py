"""`readerd db backup PATH`: a consistent copy of the SQLite database, taken while it is in use.

SQLite's online backup API copies a snapshot inside one read transaction, so the
daemon keeps writing (WAL) while the copy is made and the copy never holds half a
transaction. The copy is written beside PATH, checked, switched to a plain rollback
journal (one self-contained file) and only then renamed into place, mode 600.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine.url import make_url

from readerd.config import Settings
from readerd.errors import StoreError

BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Backup:
    """What was written."""

    path: Path
    size: int
    revision: str | None


def database_path(settings: Settings) -> Path:
    """The SQLite file of the configured database; StoreError for any other database."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise StoreError(
            f"backup: only a SQLite file can be backed up this way, not {url.get_backend_name()}"
        )
    return Path(url.database)


def backup_database(settings: Settings, target: Path, *, force: bool = False) -> Backup:
    """Copy the database to target, refusing to overwrite it unless force."""
    source = database_path(settings)
    if not source.is_file():
        raise StoreError(f"backup: no database at {source}")
    target = target.expanduser().absolute()
    if target.exists() and not force:
        raise StoreError(f"backup: {target} already exists; use --force to overwrite it")
    if target.exists() and target.resolve() == source.resolve():
        raise StoreError(f"backup: {target} is the database itself")
    if not target.parent.is_dir():
        raise StoreError(f"backup: directory {target.parent} does not exist")
    revision = _place(source, target, unreadable=f"backup: copying {source} failed")
    return Backup(target, target.stat().st_size, revision)


def _place(source: Path, target: Path, *, unreadable: str, replaces: bool = False) -> str | None:
    """Copy source to a partial file beside target, check it, rename it into place.

    With `replaces`, the `-wal`/`-shm` files of the database replaced go first: they
    belong to the old file and would be applied to the new one.
    """
    action = unreadable.split(":")[0]
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        revision = _copy(source, partial)
        for suffix in ("-wal", "-shm") if replaces else ():
            with contextlib.suppress(FileNotFoundError):
                Path(f"{target}{suffix}").unlink()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StoreError(f"{unreadable}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"{action}: cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return revision


def _copy(source: Path, partial: Path) -> str | None:
    """Snapshot source into partial (mode 600), check it; returns its schema revision."""
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.chmod(partial, 0o600)  # O_CREAT's mode is cut by the umask only, never widened
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # one step: the whole database as of one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # a single file, no -wal beside it
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"backup: the copy failed its integrity check: {check}")
        row = dst.execute("SELECT version_num FROM alembic_version").fetchone()
        dst.commit()
    finally:
        dst.close()
        src.close()
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    return str(row[0]) if row else None


def restore_database(settings: Settings, backup: Path, *, force: bool = False) -> Backup:
    """Put a `readerd db backup` copy back as the database (the daemon must be stopped).

    The copy is checked first, written beside the database and renamed into place; the
    old database's `-wal`/`-shm` files go, since they belong to the file replaced.
    """
    from readerd.store.lock import probe_lock

    target = database_path(settings)
    backup = backup.expanduser().absolute()
    if not backup.is_file():
        raise StoreError(f"restore: no backup at {backup}")
    if probe_lock(settings.data_dir).held:
        raise StoreError("restore: the daemon is running; stop it first (systemctl stop readerd)")
    if target.exists() and not force:
        raise StoreError(f"restore: {target} exists; use --force to replace it with the backup")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    revision = _place(
        backup,
        target,
        unreadable=f"restore: {backup} is not a readable readerd backup",
        replaces=True,
    )
    return Backup(target, target.stat().st_size, revision)
