"""Shared fixtures: real local servers (see tests/servers/) and a readerd CLI in a temp data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.servers.pocket_api",
    "tests.servers.web",
    "tests.servers.openai_compat",
    "tests.servers.smtp",
    "tests.digest_fixtures",
]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@dataclass
class ReaderdCLI:
    """Runs the real `readerd` command in a subprocess with its own data dir and settings."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.base_env(), **self.env, **extra_env}
        result = subprocess.run(
            [sys.executable, "-m", "readerd", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.data_dir,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"readerd {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def base_env(self) -> dict[str, str]:
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("READERD_", "OPENAI_")) and "PROXY" not in k.upper()
        }
        return {
            **keep,
            "READERD_DATA_DIR": str(self.data_dir),
            "HOME": str(self.data_dir),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }

    @property
    def db_path(self) -> Path:
        return self.data_dir / "readerd.db"


@pytest.fixture
def readerd_cli(tmp_path: Path) -> Iterator[ReaderdCLI]:
    """The real CLI, isolated in a temp data dir with no inherited READERD_* settings."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    yield ReaderdCLI(data_dir)


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the checkout (real-world fixtures); skips when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared fixtures not found at {SHARED}")
    return SHARED


@pytest.fixture
def sqlite_rows() -> Callable[[Path, str], list[tuple]]:
    """Run a read query against a readerd database file."""
    import sqlite3

    def query(db: Path, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql, params).fetchall()

    return query  # type: ignore[return-value]
