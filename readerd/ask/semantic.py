"""Embeddings as a stage, and hybrid search: FTS5 bm25 and vector ranks fused (RRF, k = 60).

Full-text is always one of the two rankings, so an exact word is never lost to the
vectors; the vectors find what shares no word with the query (a Spanish article for
an English question, "battery" for "storage").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from readerd.ask.embeddings import EmbeddingClient, EmbeddingConfig
from readerd.ask.fusion import fuse
from readerd.results import LinkView
from readerd.store.search import QueryError
from readerd.store.vectors import VectorStore, embedding_inputs

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from readerd.config import Settings
    from readerd.store.lite import Reader

CANDIDATES = 50  # taken from each ranking before fusing


@dataclass
class EmbedReport:
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0


_STORES: dict[Path, VectorStore] = {}


def vector_store(directory: Path) -> VectorStore:
    """The data directory's vector store, one per process: its matrix stays loaded."""
    return _STORES.setdefault(directory, VectorStore(directory))


def embed_library(
    settings: Settings,
    engine: Engine,
    *,
    everything: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> EmbedReport:
    """Embed every analysed article whose vector is missing or stale (all with everything)."""
    model = settings.embed_model or ""
    inputs = embedding_inputs(
        engine,
        model=model,
        prefix=settings.embed_document_prefix,
        max_chars=settings.embed_max_chars,
    )
    store = vector_store(settings.data_dir)
    report = EmbedReport(removed=store.keep_only({i.link_id for i in inputs}))
    todo = inputs if everything else store.stale(inputs, model)
    report.unchanged = len(inputs) - len(todo)
    if not todo:
        return report
    client = EmbeddingClient(EmbeddingConfig.of(settings))
    try:
        step = 32
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            store.put(model, list(zip(batch, client.embed([i.text for i in batch]), strict=True)))
            report.embedded += len(batch)
            if on_progress:
                on_progress(report.embedded, len(todo))
    finally:
        client.close()
    return report


_CLIENTS: dict[EmbeddingConfig, EmbeddingClient] = {}


def query_client(config: EmbeddingConfig) -> EmbeddingClient:
    """One client per configuration, kept for the process: a search embeds only its query,
    and a new client (its connection pool, its TLS set-up) costs more than that."""
    if config not in _CLIENTS:
        _CLIENTS[config] = EmbeddingClient(config)
    return _CLIENTS[config]


def nearest_ids(config: EmbeddingConfig, query: str, limit: int) -> list[int]:
    """The links whose vectors are closest to the query's, closest first."""
    vector = query_client(config).embed_query(query)
    return [i for i, _ in vector_store(config.vectors_dir).nearest(config.model, vector, limit)]


def hybrid_search(
    config: EmbeddingConfig,
    library: Reader,
    query: str,
    limit: int,
    *,
    text_query: str | None = None,
) -> list[LinkView]:
    """The `limit` best links for the query by fused full-text and vector ranks.

    The full-text side reads `text_query` (default: the query) as the search box does; a
    query it cannot read (a stray quote) still searches by meaning. Links found only by
    meaning have their summary as snippet.
    """
    words = text_query or query
    try:
        by_text = library.match_ids(words, CANDIDATES)
    except QueryError:
        words, by_text = "", []
    near = nearest_ids(config, query, CANDIDATES)
    order = fuse([by_text, near])
    found = [v for v in library.link_views(order[: 2 * limit]) if not v["deleted"]]
    if len(found) < limit:  # many of the best were deleted: look further down
        found += [v for v in library.link_views(order[2 * limit :]) if not v["deleted"]]
    found = found[:limit]
    matched = set(by_text)
    snippets = library.snippets(words, [v["id"] for v in found if v["id"] in matched])
    for view in found:
        view["snippet"] = snippets.get(view["id"]) or " ".join((view["summary"] or "").split())
    return found
