"""Every command of readerd on a processed library, on SQLite and on PostgreSQL alike.

The other two-backend tests pin what each command answers; this one makes sure no
command is left that only works on one backend: each runs on the bundled samples and
says what a user expects of it.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ReaderdCLI


@pytest.fixture
def library(backend_cli: ReaderdCLI) -> ReaderdCLI:
    backend_cli("run", "--once")
    return backend_cli


def test_every_command_answers_on_either_backend(library: ReaderdCLI, backend: str) -> None:
    cli = library
    links = json.loads(cli("list", "--json").stdout)
    assert len(links) == 7 and {row["status"] for row in links} == {"done"}
    solar = next(row["id"] for row in links if "Energía solar" in (row["title"] or ""))

    assert "Energía solar" in cli("show", str(solar)).stdout
    assert str(solar) in cli("search", "energia solar").stdout
    assert json.loads(cli("stats", "--json").stdout)["links"] == 7
    assert "items: 7 (done 7)" in cli("status").stdout

    doctor = cli("doctor").stdout
    where = "postgresql+psycopg://" if backend == "postgresql" else "readerd.db"
    [database_line] = [line for line in doctor.splitlines() if "database (" in line]
    assert database_line.startswith("OK") and where in database_line, doctor

    assert "Energía solar" in cli("digest", "--preview").stdout
    assert "No LLM requests logged." in cli("llm-log").stdout
    assert "up to date" in cli("db", "upgrade").stdout
    assert "bicycle" in cli("tags").stdout

    queued = cli("reprocess", "--all").stdout
    assert queued.startswith("reprocess: 7 links queued for analysis")
    assert "processed: 7 analysed" in cli("process").stdout
    assert "0 analysed" in cli("worker", "--once").stdout  # nothing left due

    answer = cli("ask", "¿Cuánto cuesta poner placas solares?").stdout
    assert "Energía solar" in answer  # no model: the best passages, cited

    refused = cli("writeback", check=False)  # the bundled samples are a folder source
    assert refused.returncode == 2 and "not available for READERD_SOURCE=folder" in refused.stderr
