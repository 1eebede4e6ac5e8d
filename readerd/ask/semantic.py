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

from readerd.ask.embeddings import EmbeddingClient
from readerd.ask.fusion import fuse
from readerd.config import Settings
from readerd.results import LinkView
from readerd.store.search import QueryError
from readerd.store.vectors import VectorStore, embedding_inputs

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from readerd.store.lite import Reader

CANDIDATES = 50  # taken from each ranking before fusing


@dataclass
class EmbedReport:
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0


_STORES: dict[Path, VectorStore] = {}


def vector_store(settings: Settings) -> VectorStore:
    """The data directory's vector store, one per process: its matrix stays loaded."""
    return _STORES.setdefault(settings.data_dir, VectorStore(settings.data_dir))


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
    store = vector_store(settings)
    report = EmbedReport(removed=store.keep_only({i.link_id for i in inputs}))
    todo = inputs if everything else store.stale(inputs, model)
    report.unchanged = len(inputs) - len(todo)
    if not todo:
        return report
    client = EmbeddingClient(settings)
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


def nearest_ids(settings: Settings, query: str, limit: int) -> list[int]:
    """The links whose vectors are closest to the query's, closest first."""
    client = EmbeddingClient(settings)
    try:
        vector = client.embed_query(query)
    finally:
        client.close()
    return [i for i, _ in vector_store(settings).nearest(settings.embed_model or "", vector, limit)]


def hybrid_search(
    settings: Settings, library: Reader, query: str, limit: int, *, text_query: str | None = None
) -> list[LinkView]:
    """The `limit` best links for the query by fused full-text and vector ranks.

    The full-text side reads `text_query` (default: the query) as the search box does; a
    query it cannot read (a stray quote) still searches by meaning. Links found only by
    meaning have their summary as snippet.
    """
    try:
        text_hits = library.search(text_query or query, limit=CANDIDATES)
    except QueryError:
        text_hits = []
    near = nearest_ids(settings, query, CANDIDATES)
    order = fuse([[v["id"] for v in text_hits], near])[:limit]
    snippets = {v["id"]: v.get("snippet", "") for v in text_hits}
    found = library.link_views(order)
    for view in found:
        view["snippet"] = snippets.get(view["id"]) or " ".join((view["summary"] or "").split())
    return [v for v in found if not v["deleted"]]
