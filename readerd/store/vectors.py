"""Article vectors for semantic search: a derived store beside the database.

One vector per article, from its title, summary, tags and opening text (capped by
readerd). The store is derived: deleting `vectors.sqlite` loses nothing that
`readerd embed --all` cannot rebuild. Each row keeps the model and a hash of exactly
what was embedded, so an unchanged article is never embedded twice and a changed one
(or a new model) is embedded again. Search is a brute-force cosine over a float32
matrix with numpy: ~40 ms for 100k × 768 on a small machine, no SQLite extension needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy import Engine

FILE_NAME = "vectors.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vector (link_id INTEGER PRIMARY KEY, model TEXT NOT NULL, "
    "dimensions INTEGER NOT NULL, content_hash TEXT NOT NULL, vector BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS version (n INTEGER NOT NULL);"
    "INSERT INTO version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM version);"
)
_BUMP = "UPDATE version SET n = n + 1"


@dataclass(frozen=True)
class EmbeddingInput:
    """What one article's vector is made from, and the hash that says when to redo it."""

    link_id: int
    text: str
    content_hash: str


def embedding_inputs(
    engine: Engine, *, model: str, prefix: str = "", max_chars: int = 2000
) -> list[EmbeddingInput]:
    """The embedding input of every analysed, not deleted article: title, summary, tags, text."""
    # Here, not at the top: searching the vectors must not import SQLAlchemy (CLI start).
    from sqlmodel import Session, col, select

    from readerd.models import Analysis, Article, Link, LinkTag, Status, Tag

    with Session(engine) as session:
        rows = session.exec(
            select(Link.id, Article.title, Analysis.summary, Article.text)
            .join(Article, col(Article.link_id) == col(Link.id))
            .join(Analysis, col(Analysis.link_id) == col(Link.id), isouter=True)
            .where(Link.status == Status.DONE, col(Link.deleted).is_(False))
            .order_by(col(Link.id))
        ).all()
        tags: dict[int, list[str]] = defaultdict(list)
        for tagged, name in session.exec(
            select(LinkTag.link_id, Tag.name).join(Tag, col(Tag.id) == col(LinkTag.tag_id))
        ):
            tags[tagged].append(name)
    inputs = []
    for link_id, title, summary, text in rows:
        if link_id is None:
            continue
        parts = [title or "", summary or "", ", ".join(sorted(set(tags[link_id]))), text]
        body = prefix + "\n".join(p for p in parts if p)[: max_chars - len(prefix)]
        digest = hashlib.sha256(f"{model}\0{body}".encode()).hexdigest()
        inputs.append(EmbeddingInput(link_id, body, digest))
    return inputs


class VectorStore:
    """vectors.sqlite: (link_id, model, dimensions, content_hash, float32 vector).

    Searching reads a normalised matrix snapshot (`vectors-MODEL.npy`, memory-mapped),
    rebuilt from the rows when their version moved on: a fresh `readerd search
    --semantic` maps it instead of decoding 100k blobs.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self._matrix: tuple[int, np.ndarray, np.ndarray] | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        return connection

    def stale(self, inputs: list[EmbeddingInput], model: str) -> list[EmbeddingInput]:
        """The inputs whose stored vector is missing, of another model or of other content."""
        with self._connect() as db:
            stored = dict(
                db.execute("SELECT link_id, content_hash FROM vector WHERE model = ?", (model,))
            )
        return [i for i in inputs if stored.get(i.link_id) != i.content_hash]

    def put(self, model: str, rows: list[tuple[EmbeddingInput, list[float]]]) -> None:
        """Store the vectors of these inputs (one transaction)."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vector VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        item.link_id,
                        model,
                        len(vector),
                        item.content_hash,
                        np.asarray(vector, dtype=np.float32).tobytes(),
                    )
                    for item, vector in rows
                ],
            )
            db.execute(_BUMP)

    def keep_only(self, link_ids: set[int]) -> int:
        """Drop the vectors of articles that are gone; how many were dropped."""
        with self._connect() as db:
            stored = [row[0] for row in db.execute("SELECT link_id FROM vector")]
            gone = [(i,) for i in stored if i not in link_ids]
            db.executemany("DELETE FROM vector WHERE link_id = ?", gone)
            if gone:
                db.execute(_BUMP)
        return len(gone)

    def count(self, model: str) -> int:
        with self._connect() as db:
            return int(
                db.execute("SELECT count(*) FROM vector WHERE model = ?", (model,)).fetchone()[0]
            )

    def nearest(self, model: str, query: list[float], limit: int) -> list[tuple[int, float]]:
        """(link_id, cosine similarity) of the `limit` vectors closest to the query."""
        ids, matrix = self._load(model)
        if not len(ids):
            return []
        vector = np.asarray(query, dtype=np.float32)
        if vector.shape[0] != matrix.shape[1]:
            return []  # vectors of another dimension: `readerd embed --all` rebuilds them
        vector /= np.linalg.norm(vector) or 1.0
        scores = matrix @ vector
        if limit < len(scores):  # the best `limit` first, then only those sorted
            best = np.argpartition(-scores, limit)[:limit]
            top = best[np.argsort(-scores[best])]
        else:
            top = np.argsort(-scores)
        return [(int(ids[i]), float(scores[i])) for i in top]

    def _load(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.path.exists():
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        with self._connect() as db:
            version = int(db.execute("SELECT n FROM version").fetchone()[0])
        if self._matrix is None or self._matrix[0] != version:
            self._matrix = (version, *self._snapshot(model, version))
        return self._matrix[1], self._matrix[2]

    def _snapshot(self, model: str, version: int) -> tuple[np.ndarray, np.ndarray]:
        """The (ids, normalised matrix) of a model at this version, from disk if current."""
        stem = "vectors-" + re.sub(r"[^\w-]", "_", model)
        meta, ids_file, matrix_file = (
            self.directory / (stem + suffix) for suffix in (".json", ".ids.npy", ".npy")
        )
        try:
            if json.loads(meta.read_text())["version"] == version:
                return np.load(ids_file), np.load(matrix_file, mmap_mode="r")
        except (OSError, ValueError, KeyError):
            pass
        with self._connect() as db:
            rows = db.execute(
                "SELECT link_id, dimensions, vector FROM vector WHERE model = ? ORDER BY link_id",
                (model,),
            ).fetchall()
        dimensions = max((r[1] for r in rows), default=0)
        rows = [r for r in rows if r[1] == dimensions]
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
        matrix = matrix.reshape(len(rows), dimensions).copy()
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix /= np.where(norms == 0, 1.0, norms)
        for path, array in ((ids_file, ids), (matrix_file, matrix)):
            temporary = path.parent / (path.name + ".tmp.npy")
            np.save(temporary, array)
            os.replace(temporary, path)
        meta.write_text(json.dumps({"version": version, "rows": len(ids)}))
        return ids, matrix
