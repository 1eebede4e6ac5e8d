"""The first hour of a self-hoster, in-process: search, list, show, retries, version, db.

One library of the bundled samples is read once for the module on each backend (SQLite,
then PostgreSQL); each test then asks it what a user would ask and checks the answer they
would see.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from readerd import __version__
from readerd.cli import app
from tests.cli_backends import PASSWORD, add_password, is_postgresql, shown_location
from tests.conftest import BACKENDS, ReaderdCLI, cli_on


class Library:
    """The real CLI on one data dir and database, each call checked for its exit code."""

    def __init__(self, cli: ReaderdCLI, **env: str) -> None:
        self.cli = cli
        cli.env.update(env)

    def __call__(self, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
        result = ReaderdCLI(self.cli.data_dir, {**self.cli.env, **env})(*args, check=False)
        assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(scope="module", params=BACKENDS)
def samples(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The quick start: the bundled samples, read offline, on SQLite then on PostgreSQL."""
    root = tmp_path_factory.mktemp("first-hour")
    library = Library(cli_on(request.param, root / "data", request))  # run there: no stray .env
    assert "7 new" in library("run", "--once").stdout
    return library


def _titles(rows: list[dict[str, Any]]) -> list[str]:
    return [row["title"] for row in rows]


def test_search_understands_and_or_not_phrases_and_prefixes(samples: Library) -> None:
    both = samples.json("search", "solar AND placas")
    assert both and both[0]["title"].startswith("Energía solar en casa")
    assert "[placas]" in both[0]["snippet"].lower()  # why it matched
    assert samples.json("search", '"placas solares"')[0]["title"].startswith("Energía solar")
    assert samples.json("search", "energ*")[0]["title"].startswith("Energía solar")
    without = _titles(samples.json("search", "solar -placas"))
    assert not any(t.startswith("Energía solar") for t in without)
    assert _titles(samples.json("search", "NOT placas solar")) == without
    either = _titles(samples.json("search", "compost OR ferrocarril"))
    assert any("Compost" in t for t in either) and any("ferrocarril" in t.lower() for t in either)
    assert samples.json("search", "energia")[0]["title"].startswith("Energía")  # accents fold


def test_search_table_shows_why_each_row_matched(samples: Library) -> None:
    out = samples("search", "placas").stdout
    assert "why it matched" in out and "[placas]" in out.lower()


def test_an_empty_search_says_no_matches_and_a_malformed_one_gives_a_hint(
    samples: Library,
) -> None:
    assert samples("search", "zzzqqq").stdout.strip() == "No matches for 'zzzqqq'."
    bad = samples("search", "solar AND", code=2)
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "error: search: AND needs a word on each side (e.g. `solar AND casa`); "
        "see `readerd search --help`"
    ]
    assert "not closed" in samples("search", '"placas solares', code=2).stderr
    helped = " ".join(samples("search", "--help").stdout.split())
    for word in ("OR", "NOT", "-coche", '"placas solares"', "ener*"):
        assert word in helped


def test_list_status_accepts_what_the_table_shows_and_refuses_the_rest(samples: Library) -> None:
    bogus = samples("list", "--status", "bogus", code=2)
    output = bogus.stdout + bogus.stderr
    assert "'bogus' is not one of" in output and "'retry'" in output
    assert samples("list", "--status", "retry").stdout.strip() == "No links with status retry."
    assert len(samples.json("list", "--status", "done")) == 7
    assert samples("list", "--tag", "no-such-tag").stdout.strip() == (
        "No links with tag 'no-such-tag'."
    )


def test_show_labels_summary_and_key_points_with_indented_wrapped_bullets(
    samples: Library,
) -> None:
    row = samples.json("search", "placas")[0]
    lines = samples("show", str(row["id"]), COLUMNS="60").stdout.splitlines()
    assert "Summary" in lines and "Key points" in lines
    points = lines[lines.index("Key points") + 1 :]
    bullets = [line for line in points if line.startswith("  • ")]
    assert len(bullets) == len(row["key_points"])
    continued = [line for line in points if line.startswith("    ") and line.strip()]
    assert continued, "a long key point wraps under its bullet"
    assert all(len(line) <= 60 for line in points if not line.startswith("analysed by"))


def test_version_and_exit_codes_in_the_help() -> None:
    assert CliRunner().invoke(app, ["--version"]).stdout.strip() == f"readerd {__version__}"
    helped = " ".join(CliRunner().invoke(app, ["--help"]).stdout.split())
    assert "Exit codes: 0 all fine or nothing to do; 1 some items failed; 2 configuration" in (
        helped
    )
    assert "3 a stage stopped" in helped


def test_db_upgrade_says_it_created_the_database(backend_cli: ReaderdCLI) -> None:
    if is_postgresql(backend_cli):
        add_password(backend_cli)  # named in the message with its password hidden
    library = Library(backend_cli)
    created = library("db", "upgrade").stdout
    assert created.startswith(f"created the database at {shown_location(backend_cli)} (schema ")
    assert "is up to date" in library("db", "upgrade").stdout
    assert PASSWORD not in created


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_waiting_retry_shows_when_and_process_now_retries_it(
    backend_cli: ReaderdCLI, tmp_path: Path
) -> None:
    urls = tmp_path / "links.txt"
    urls.write_text(f"http://127.0.0.1:{_closed_port()}/gone\n", encoding="utf-8")
    library = Library(backend_cli, READERD_SOURCE="none", READERD_FETCH_ALLOW="127.0.0.1")
    library("import", str(urls))
    first = library("process", code=1)  # the one item failed: exit 1
    assert "1 to retry" in first.stdout
    (row,) = library.json("list", "--status", "retry")
    assert row["attempts"] == 1 and row["next_attempt_at"].endswith("Z")
    assert "retry (1) next " in library("list").stdout
    assert "next attempt: " in library("show", str(row["id"])).stdout
    assert "retry (1) next" in library("list", "--status", "retry").stdout
    status = library("status").stdout
    assert "(attempt 1, next try " in status
    later = library("process", code=0)
    assert "0 to retry" in later.stdout  # not due yet: nothing was tried
    now = library("process", "--now", code=1)
    assert "retrying now: 1 waiting link(s)" in now.stdout
    assert library.json("list")[0]["attempts"] == 2


def test_imports_only_and_samples_never_join_an_imported_library(
    backend_cli: ReaderdCLI, tmp_path: Path
) -> None:
    export = tmp_path / "pocket.csv"
    export.write_text("url,title\nhttps://example.org/one,One\n", encoding="utf-8")
    library = Library(backend_cli)
    library("import", str(export))
    synced = library("sync").stdout
    assert "the bundled samples go only into an empty library" in synced
    assert "READERD_SOURCE=none" in synced
    assert [row["url"] for row in library.json("list")] == ["https://example.org/one"]
    quiet = library("sync", READERD_SOURCE="none").stdout
    assert quiet.strip() == "sync: READERD_SOURCE=none: imports only, nothing to sync"
    assert len(library.json("list")) == 1
