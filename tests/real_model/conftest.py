"""Fixtures of the real-model suite: one llama.cpp server per session, a recording proxy per test.

Run with `bash .ci/real-model-setup && .venv/bin/pytest -n 0 -m real_model tests/real_model`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.llama import LlamaServer, RecordingProxy, require_real_model


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    require_real_model()
    with LlamaServer() as server:
        yield server


@pytest.fixture
def llama(llama_server: LlamaServer) -> Iterator[RecordingProxy]:
    """The real server behind a proxy that records every request and answer of this test."""
    with RecordingProxy(llama_server.base_url) as proxy:
        yield proxy
