"""Shared fixtures: real local servers (see tests/servers/) and a readerd CLI in a temp data dir."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = [
    "tests.servers.pocket_api",
    "tests.servers.web",
    "tests.servers.openai_compat",
    "tests.servers.smtp",
    "tests.servers.postgres",
    "tests.digest_fixtures",
]

# pytest-xdist's workers set COLUMNS=80 and LINES=24; rich fixes a console's width when it
# is made under COLUMNS, so a module importing readerd's console early would wrap every
# in-process command at 80 columns. Each ReaderdCLI call sets its own COLUMNS instead.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


#: Commands whose process is the subject (a daemon, its signals, its lock): always a real one.
SUBPROCESS_ONLY = ("run",)


@dataclass
class ReaderdCLI:
    """Runs the real `readerd` command with its own data dir and settings.

    Most commands run in this process (`readerd.cli.main()` with the environment, working
    directory, argv and output of a fresh process): a subprocess costs a second of
    imports. `readerd run` without --once (the daemon) and calls with `real_process=True` run
    `python -m readerd` for real, for tests where the process itself is the subject.
    """

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        real_process: bool = False,
        **extra_env: str,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.base_env(), **self.env, **extra_env}
        daemon = args[:1] == SUBPROCESS_ONLY and "--once" not in args
        if real_process or daemon:
            result = _run_subprocess(args, env, self.data_dir, timeout)
        else:
            result = run_in_process(args, env, self.data_dir)
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

    @property
    def database_url(self) -> str:
        return self.env.get("READERD_DATABASE_URL") or f"sqlite:///{self.db_path}"

    def rows(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        """A read query (named `:params`) on this CLI's database, SQLite or PostgreSQL."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()


def _run_subprocess(
    args: tuple[str, ...], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "readerd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def run_in_process(
    args: tuple[str, ...], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`readerd ARGS` through readerd.cli.main() here, as a fresh process would see it.

    The environment, working directory, argv, umask, root logger, redactor and learnt LLM
    profiles are the process's own for the call and put back after it; stdout and stderr
    are captured; the exit code is main()'s; an escaping exception prints its traceback
    on stderr and exits 1, as Python does.
    """
    from readerd import logs
    from readerd.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    saved_umask = os.umask(0o022)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_redactor = logs.REDACTOR
    profiles = sys.modules.get("readerd.analyze.openai.profiles")
    saved_profiles = profiles.PROFILES.snapshot() if profiles else None
    code: int | str | None = 0
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = ["readerd", *args]
        logs.REDACTOR = logs.Redactor()  # a new process knows no secrets yet
        if profiles:
            profiles.PROFILES.__init__()  # nor any learnt rung
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
            except BaseException:
                traceback.print_exc()
                code = 1
        gc.collect()  # as at a process's exit: engines and their SQLite connections close
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.umask(saved_umask)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logs.REDACTOR = saved_redactor
        if profiles and saved_profiles is not None:
            profiles.PROFILES.__init__()
            profiles.PROFILES.restore(saved_profiles)
    if code is None:
        returncode = 0
    elif isinstance(code, int):
        returncode = code
    else:
        err.write(f"{code}\n")  # sys.exit("message") prints it and exits 1
        returncode = 1
    return subprocess.CompletedProcess(
        ["readerd", *args], returncode, out.getvalue(), err.getvalue()
    )


@pytest.fixture
def readerd_cli(tmp_path: Path) -> Iterator[ReaderdCLI]:
    """The real CLI, isolated in a temp data dir with no inherited READERD_* settings."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    yield ReaderdCLI(data_dir)


#: The two backends the store, queue, search, migration and CLI tests run on. The
#: PostgreSQL half is marked `postgres`: its own CI step, on a throwaway cluster.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def cli_on(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> ReaderdCLI:
    """The real CLI in `data_dir` (made here): its SQLite file, or an empty database of a
    throwaway PostgreSQL cluster, as an administrator creates it: readerd builds its
    schema there on first use, as it creates its SQLite file."""
    data_dir.mkdir(parents=True)
    cli = ReaderdCLI(data_dir)
    if backend == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        cli.env["READERD_DATABASE_URL"] = cluster.url(cluster.fresh_database())
    return cli


def migrated_url(backend: str, request: pytest.FixtureRequest, data_dir: Path) -> str:
    """A database with readerd's schema on `backend`: a file in data_dir, or a copy of
    the cluster's migrated template."""
    if backend == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        return str(cluster.url(cluster.migrated_database()))
    from readerd.config import load_settings
    from readerd.store.database import make_engine, upgrade_database

    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'readerd.db'}"
    engine = make_engine(load_settings(data_dir=data_dir, database_url=url, _env_file=None))
    upgrade_database(engine)
    engine.dispose()
    return url


@pytest.fixture
def backend_cli(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> ReaderdCLI:
    """The real CLI on SQLite, then on an empty database of a throwaway PostgreSQL cluster."""
    return cli_on(backend, tmp_path / "data", request)


@pytest.fixture
def backend_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL with readerd's schema in place, on SQLite or on PostgreSQL."""
    return migrated_url(backend, request, tmp_path)


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
