"""The first hour, where the process is the subject: stderr lines, exit codes, mounts.

Unusable data directories, misspelt settings and an LLM endpoint without a model must
each give one clear line and a meaningful exit code, never a traceback or silence.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.openai_compat import MODEL, OpenAICompatServer


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["list"], ["run", "--once"], ["db", "upgrade"], ["import"]])
def test_a_file_in_the_data_dir_path_is_one_line_and_exit_2(
    readerd_cli: ReaderdCLI, tmp_path: Path, command: list[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    args = [*command, str(blocker)] if command == ["import"] else command
    result = readerd_cli(*args, check=False, READERD_DATA_DIR=str(blocker / "readerd"))
    assert result.returncode == 2
    assert _one_error_line(result) == (
        f"error: store: cannot use data directory {blocker / 'readerd'}: "
        f"{blocker} is not a directory"
    )


@pytest.fixture
def read_only_library(readerd_cli: ReaderdCLI, tmp_path: Path) -> Iterator[Path]:
    """A data dir with a library in it, then bind-mounted read-only over itself (root only)."""
    export = tmp_path / "links.txt"
    export.write_text("https://example.org/kept\n", encoding="utf-8")
    readerd_cli("import", str(export))
    data = readerd_cli.data_dir
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(data), str(data)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {mounted.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", str(data)], check=True)


def test_a_read_only_data_dir_reads_but_refuses_writes_in_one_line(
    readerd_cli: ReaderdCLI, read_only_library: Path
) -> None:
    listed = readerd_cli("list")
    assert "https://example.org/kept" in listed.stdout
    assert readerd_cli("search", "kept", check=False).returncode == 0
    for args in (["db", "upgrade"], ["run", "--once"], ["process"]):
        refused = readerd_cli(*args, check=False)
        assert refused.returncode == 2, args
        line = _one_error_line(refused)
        assert str(read_only_library) in line and "read-only file system" in line


def test_misspelt_and_ineffective_settings_are_warned_about_once(
    readerd_cli: ReaderdCLI,
) -> None:
    (readerd_cli.data_dir / ".env").write_text("READERD_SOURCES=none\n", encoding="utf-8")
    result = readerd_cli(
        "stats",
        READERD_LLM_MODLE="qwen2.5",
        READERD_DB="/tmp/x.db",
        READERD_SUMMARY_LANGUAGE="es",
    )
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4, result.stderr
    text = "\n".join(warnings)
    assert "READERD_LLM_MODLE (in the environment) is not a readerd setting" in text
    assert "did you mean READERD_LLM_MODEL?" in text
    assert "READERD_DB (in the environment)" in text and "READERD_DATABASE_URL?" in text
    assert "READERD_SOURCES (in the .env)" in text and "did you mean READERD_SOURCE?" in text
    assert "READERD_SUMMARY_LANGUAGE=es has no effect with the offline analyser" in text


def test_cli_is_quiet_at_info(readerd_cli: ReaderdCLI) -> None:
    result = readerd_cli("db", "upgrade", READERD_LOG_LEVEL="INFO")
    assert result.stderr == ""
    assert result.stdout.startswith("created the database at ")


def test_an_endpoint_with_one_model_is_used_and_said(readerd_cli: ReaderdCLI) -> None:
    with OpenAICompatServer() as server:
        result = readerd_cli("process", READERD_LLM_BASE_URL=server.base_url)
        host = server.base_url.split("//")[1].split("/")[0]
    assert (
        f"note: llm: READERD_LLM_MODEL is not set; using {MODEL}, the only model {host} serves"
        in result.stderr
    )
    doctor = readerd_cli("doctor", check=False, READERD_LLM_BASE_URL=server.base_url)
    assert "offline analyser" not in doctor.stdout


def test_an_endpoint_with_several_models_and_none_chosen_is_refused(
    readerd_cli: ReaderdCLI,
) -> None:
    with OpenAICompatServer(models=("qwen2.5:7b", "llama3.2", "mistral")) as server:
        result = readerd_cli("run", "--once", check=False, READERD_LLM_BASE_URL=server.base_url)
        doctor = readerd_cli("doctor", check=False, READERD_LLM_BASE_URL=server.base_url)
        host = server.base_url.split("//")[1].split("/")[0]
    assert result.returncode == 2
    assert _one_error_line(result) == (
        f"error: llm: set READERD_LLM_MODEL: {host} serves 3 models (qwen2.5:7b, llama3.2, mistral)"
    )
    assert not readerd_cli.db_path.exists() or "7 new" not in result.stdout  # nothing analysed
    assert f"FAIL llm: set READERD_LLM_MODEL: {host} serves 3 models" in doctor.stdout


def test_a_config_error_exits_2_and_a_usage_error_too(readerd_cli: ReaderdCLI) -> None:
    # a real process: the exit code is what the shell sees
    assert (
        readerd_cli("stats", check=False, real_process=True, READERD_SOURCE="nope").returncode == 2
    )
    assert readerd_cli("list", "--limit", "0", check=False).returncode == 2
