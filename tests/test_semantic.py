"""Embeddings and hybrid search against a local /v1/embeddings server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ReaderdCLI
from tests.servers.embeddings import MODEL, EmbeddingsServer, embeddings_server

RAILWAY = "es-ferrocarril-en-espana.html"


@pytest.fixture
def embedder() -> Iterator[EmbeddingsServer]:
    with embeddings_server() as server:
        yield server


@pytest.fixture
def semantic(backend_cli: ReaderdCLI, embedder: EmbeddingsServer) -> ReaderdCLI:
    """Embeddings configured; the library on SQLite, then on PostgreSQL."""
    readerd_cli = backend_cli
    readerd_cli.env.update(
        READERD_EMBED_BASE_URL=embedder.base_url,
        READERD_EMBED_MODEL=MODEL,
        READERD_EMBED_DOCUMENT_PREFIX="search_document: ",
        READERD_EMBED_QUERY_PREFIX="search_query: ",
        READERD_EMBED_MAX_CHARS="600",
    )
    return readerd_cli


def urls(result_stdout: str) -> list[str]:
    return [row["url"].rsplit("/", 1)[-1] for row in json.loads(result_stdout)]


def test_run_embeds_each_article_once_capped_and_prefixed(
    semantic: ReaderdCLI, embedder: EmbeddingsServer
) -> None:
    result = semantic("run", "--once")
    assert "embedded: 7 articles" in result.stdout
    documents = [text for request in embedder.inputs for text in request]
    assert len(documents) == 7
    assert all(t.startswith("search_document: ") and len(t) <= 600 for t in documents)
    sent = len(embedder.inputs)
    again = semantic("embed")
    assert "embedded: 0, unchanged: 7" in again.stdout
    assert len(embedder.inputs) == sent  # nothing embedded twice unchanged
    everything = semantic("embed", "--all")
    assert "embedded: 7" in everything.stdout


def test_semantic_search_finds_by_meaning_what_words_miss(semantic: ReaderdCLI) -> None:
    semantic("run", "--once")
    plain = semantic("search", "railway", "--json")
    assert RAILWAY not in urls(plain.stdout)
    hybrid = semantic("search", "railway", "--semantic", "--json")
    assert urls(hybrid.stdout)[0] == RAILWAY
    exact = semantic("search", "compost", "--semantic", "--json")
    assert urls(exact.stdout)[0] == "en-home-composting.html"  # an exact word still wins


def test_semantic_search_without_an_endpoint_says_what_to_set(readerd_cli: ReaderdCLI) -> None:
    readerd_cli("run", "--once")
    result = readerd_cli("search", "railway", "--semantic", check=False)
    assert result.returncode == 2
    assert "READERD_EMBED_BASE_URL" in result.stderr and result.stderr.count("\n") == 1


def test_ask_uses_meaning_for_its_first_search(semantic: ReaderdCLI) -> None:
    semantic("run", "--once")
    result = semantic("ask", "railway history", "--json")  # no model: the best passages
    document = json.loads(result.stdout)
    assert document["passages"][0]["url"].endswith(RAILWAY)


def test_an_embeddings_endpoint_that_refuses_is_one_error_line(
    semantic: ReaderdCLI, embedder: EmbeddingsServer
) -> None:
    embedder.status = 401
    result = semantic("run", "--once", check=False)
    assert result.returncode == 1
    assert "embed: status=401" in result.stderr and "Traceback" not in result.stderr
    assert "analysed" in result.stdout or "processed" in result.stdout  # the rest went on


def test_the_search_snapshot_follows_every_change(tmp_path: Path) -> None:
    """A process that searched keeps its mapped matrix only while no vector changed."""
    from readerd.store.vectors import EmbeddingInput, VectorStore

    def item(link_id: int) -> EmbeddingInput:
        return EmbeddingInput(link_id, f"text {link_id}", f"hash {link_id}")

    writer, reader = VectorStore(tmp_path), VectorStore(tmp_path)
    writer.put("m", [(item(1), [1.0, 0.0]), (item(2), [0.0, 1.0])])
    assert reader.nearest("m", [0.1, 1.0], 1) == [(2, pytest.approx(0.995, abs=1e-3))]
    writer.put("m", [(item(3), [0.0, 2.0])])  # same direction as 2, newer
    assert {i for i, _ in reader.nearest("m", [0.0, 1.0], 2)} == {2, 3}
    assert writer.keep_only({1}) == 2
    assert [i for i, _ in reader.nearest("m", [0.0, 1.0], 5)] == [1]
    assert reader.stale([item(1), item(4)], "m") == [item(4)]


def test_semantic_search_starts_without_the_openai_sdk(semantic: ReaderdCLI, backend: str) -> None:
    """Embedding one query is a small POST: the SDK would cost the command ~0.5 s, and a
    SQLite library is read on sqlite3, as `search` reads it: SQLAlchemy would cost ~0.3 s
    more (PostgreSQL is read through SQLAlchemy)."""
    import subprocess
    import sys

    semantic("run", "--once")
    probe = (
        "import sys, runpy; sys.argv = ['readerd', 'search', 'railway', '--semantic', '--json']\n"
        "try:\n    runpy.run_module('readerd', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('SDK', 'openai' in sys.modules, file=sys.stderr)\n"
        "print('SQLAlchemy', 'sqlalchemy' in sys.modules, file=sys.stderr)"
    )
    env = {**semantic.base_env(), **semantic.env}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert "SDK False" in result.stderr, result.stderr
    assert f"SQLAlchemy {backend == 'postgresql'}" in result.stderr, result.stderr
    assert RAILWAY in result.stdout
