"""A deterministic OpenAI-compatible /v1/embeddings server, with a little bilingual sense.

Each word is folded and mapped through CONCEPTS (so "railway" and "ferrocarril" are
one concept) and hashed into DIMENSIONS signed buckets; a text's vector is the sum,
normalised. Texts sharing concepts are close, whatever their language: enough to
test ranking by meaning without a model. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers import serve_in_thread

DIMENSIONS = 128
MODEL = "test-embed"
CONCEPTS = {
    "railway": "rail", "railways": "rail", "ferrocarril": "rail", "ferrocarriles": "rail",
    "train": "rail", "trains": "rail", "tren": "rail", "trenes": "rail",
    "bicycle": "bike", "bicicleta": "bike", "bicycles": "bike", "bicicletas": "bike",
    "solar": "sun", "sun": "sun", "placas": "panel", "panels": "panel", "paneles": "panel",
    "battery": "battery", "batteries": "battery", "bateria": "battery", "baterias": "battery",
    "diet": "diet", "dieta": "diet", "olive": "olive", "oliva": "olive",
    "sleep": "sleep", "sueno": "sleep", "compost": "compost", "rain": "rain", "lluvia": "rain",
}  # fmt: skip
_WORD = re.compile(r"\w{3,}")


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def vector_of(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """The deterministic vector of a text."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text):
        concept = CONCEPTS.get(_fold(word), _fold(word))
        digest = hashlib.sha256(concept.encode()).digest()
        weight = 4.0 if concept in CONCEPTS.values() else 1.0
        bucket = int.from_bytes(digest[:4], "big") % dimensions
        vector[bucket] += weight if digest[4] % 2 else -weight
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


@dataclass
class EmbeddingsServer:
    base_url: str = ""
    inputs: list[list[str]] = field(default_factory=list)  # per request
    status: int = 200  # what to answer; 401 or 500 to test failures
    dimensions: int = DIMENSIONS


@contextmanager
def embeddings_server(dimensions: int = DIMENSIONS) -> Iterator[EmbeddingsServer]:
    server = EmbeddingsServer(dimensions=dimensions)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            texts = request["input"] if isinstance(request["input"], list) else [request["input"]]
            server.inputs.append(texts)
            if server.status != 200:
                body: Any = {"error": {"message": "embeddings refused", "type": "test"}}
            else:
                body = {
                    "object": "list",
                    "model": request["model"],
                    "data": [
                        {
                            "object": "embedding",
                            "index": i,
                            "embedding": vector_of(t, server.dimensions),
                        }
                        for i, t in enumerate(texts)
                    ],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                }
            payload = json.dumps(body).encode()
            self.send_response(server.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    with serve_in_thread(Handler) as url:
        server.base_url = url + "/v1"
        yield server
