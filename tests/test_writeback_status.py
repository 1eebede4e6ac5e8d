"""`readerd status` and `readerd doctor` show write-back's state per source."""

from __future__ import annotations

import json

from tests.conftest import ReaderdCLI
from tests.servers.read_later import LinkdingFake
from tests.test_writeback import backend_fake, pages, tagging_llm  # noqa: F401


def test_status_and_doctor_show_writeback_per_source(
    backend_cli: ReaderdCLI,
    backend_fake: LinkdingFake,  # noqa: F811
) -> None:
    readerd_cli = backend_cli
    readerd_cli("writeback", check=False, READERD_LINKDING_TOKEN="wrong-token-123")
    paused = readerd_cli("status").stdout
    assert "write-back linkding: 2 pending, 0 done" in paused and "paused:" in paused
    assert "wrong-token-123" not in paused
    doctor = readerd_cli("doctor", check=False)
    assert doctor.returncode == 1
    assert any(
        line.startswith("FAIL") and "writeback" in line for line in doctor.stdout.splitlines()
    )
    readerd_cli("writeback")
    report = json.loads(readerd_cli("status", "--json").stdout)
    [row] = report["writeback"]
    assert (row["source"], row["pending"], row["paused"]) == ("linkding", 0, None)
    assert row["done"] >= 2
    doctor = readerd_cli("doctor", check=False).stdout
    assert any(line.startswith("OK") and "writeback" in line for line in doctor.splitlines())


def test_doctor_says_writeback_is_off_by_default(readerd_cli: ReaderdCLI) -> None:
    doctor = readerd_cli("doctor", check=False).stdout
    assert "off (READERD_WRITEBACK=tags" in doctor
