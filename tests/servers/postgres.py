"""A throwaway PostgreSQL cluster from the installed binaries, for the PostgreSQL tests.

`initdb --no-sync -A trust` into a temporary directory and `pg_ctl start` on a Unix
socket there (no TCP port, fsync off): nothing of the machine's own server is used.
initdb refuses to run as root, so as root the cluster belongs to the `postgres` user
(Debian's package creates it). The schema is migrated once into a template database,
and each test gets a fresh copy of it (`CREATE DATABASE … TEMPLATE`, milliseconds).

Without PostgreSQL's binaries the tests skip with a reason naming the package; under
CI=true they fail instead, so a green CI means a real server was there.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE_HINT = "install Debian's `postgresql` package (apt-get install -y postgresql)"
_names = itertools.count()


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return versions[-1].parent if versions else None


@dataclass
class PostgresCluster:
    """A running throwaway cluster; `url(name)` is a SQLAlchemy URL for one database."""

    socket_dir: Path
    user: str
    _template: str | None = field(default=None, init=False)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), user=self.user, dbname=database, autocommit=True
        ) as connection:
            connection.execute(statement.encode())

    def fresh_database(self, template: str | None = None) -> str:
        """A new, empty (or template-copied) database's name."""
        name = f"readerd_test_{os.getpid()}_{next(_names)}"
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def migrated_database(self) -> str:
        """A new database with readerd's schema: a copy of a template migrated once."""
        if self._template is None:
            from readerd.config import load_settings
            from readerd.store.database import make_engine, upgrade_database

            template = self.fresh_database()
            settings = load_settings(
                data_dir=Path(tempfile.mkdtemp()), database_url=self.url(template), _env_file=None
            )
            engine = make_engine(settings)
            upgrade_database(engine)
            engine.dispose()
            self._template = template
        return self.fresh_database(self._template)


def _as_cluster_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_cluster(binaries: Path) -> Iterator[PostgresCluster]:
    """initdb into a temporary directory, start it on a Unix socket there, remove it after."""
    root = Path(tempfile.mkdtemp(prefix="readerd-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(
        _as_cluster_owner(
            [str(binaries / "initdb"), "--no-sync", "-A", "trust", "-U", user, "-D", str(data)]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses='' -k {sockets} -c fsync=off -c full_page_writes=off"
    pg_ctl = str(binaries / "pg_ctl")
    start = [pg_ctl, "-D", str(data), "-o", options, "-w", "-s", "-l", str(root / "log"), "start"]
    subprocess.run(_as_cluster_owner(start), check=True, capture_output=True)
    try:
        yield PostgresCluster(sockets, user)
    finally:
        subprocess.run(
            _as_cluster_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-s", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def binaries_or_skip() -> Path:
    """PostgreSQL's binaries; a skip naming the package (a failure under CI=true) if absent."""
    binaries = find_binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL binaries missing under CI=true: {PACKAGE_HINT}")
        pytest.skip(f"no PostgreSQL binaries: {PACKAGE_HINT}")
    return binaries


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    with throwaway_cluster(binaries_or_skip()) as cluster:
        yield cluster
