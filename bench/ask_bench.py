"""Search for `ask` at N articles: FTS alone vs hybrid, `search --semantic` from the CLI, ask.

Run by hand from the repo root:
    .venv/bin/python bench/ask_bench.py --data-dir /tmp/lib100k [--articles 100000]

The library in --data-dir is built first if it holds fewer than --articles articles
(bench/library.py). Its vectors (768 dimensions, like nomic-embed-text) are written
straight into vectors.sqlite from the same deterministic function the local embeddings
server uses (tests/servers/embeddings.py), which is fast; every *query* is embedded
over HTTP by that server, as in use.

Prints, against the issue's bounds:
- in process, over the 200 fixed queries of bench/search_bench.py: p50/p95 of FTS alone
  (store.views.search) and of hybrid search (ask.semantic.hybrid_search: FTS + query
  embedding + brute-force cosine + RRF); hybrid p50 <= 80 ms;
- `readerd search WORD --semantic` as a fresh process: median and max, <= 0.5 s;
- `readerd ask` with a scripted model that answers at once: wall time, i.e. readerd's
  own cost of a question (searching, reading, checking), without the model's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from library import build_library  # noqa: E402
from search_bench import _articles, _upgrade, queries  # noqa: E402

DIMENSIONS = 768


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fill_vectors(data_dir: Path, model: str) -> None:
    """A vector for every article lacking one, written straight to vectors.sqlite."""
    from readerd.config import load_settings
    from readerd.store.database import make_engine
    from readerd.store.vectors import VectorStore, embedding_inputs
    from tests.servers.embeddings import vector_of

    engine = make_engine(load_settings(data_dir=data_dir))
    store = VectorStore(data_dir)
    todo = store.stale(embedding_inputs(engine, model=model, max_chars=600), model)
    started = time.perf_counter()
    for first in range(0, len(todo), 1000):
        batch = todo[first : first + 1000]
        store.put(model, [(item, vector_of(item.text, DIMENSIONS)) for item in batch])
    if todo:
        print(f"vectors: {len(todo)} written in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def in_process(data_dir: Path, base_url: str, model: str) -> None:
    from readerd.ask.embeddings import EmbeddingConfig
    from readerd.ask.semantic import hybrid_search
    from readerd.config import load_settings
    from readerd.store import views
    from readerd.store.database import make_engine
    from readerd.store.lite import open_library
    from readerd.store.search import QueryError

    settings = load_settings(data_dir=data_dir, embed_base_url=base_url, embed_model=model)
    engine = make_engine(settings, write=False)
    library = open_library(settings.db_url)
    assert library is not None, "the sqlite3 read path did not open the library"
    fts, lite_fts, hybrid = [], [], []
    config = EmbeddingConfig.of(settings)
    hybrid_search(config, library, "warm up", 10)  # loads the matrix once, as a daemon would
    for query in queries():
        started = time.perf_counter()
        try:
            views.search(engine, query, limit=10)
        except QueryError:
            continue
        fts.append(time.perf_counter() - started)
        started = time.perf_counter()
        library.search(query, limit=10)
        lite_fts.append(time.perf_counter() - started)
        started = time.perf_counter()
        hybrid_search(config, library, query, 10)
        hybrid.append(time.perf_counter() - started)
    rows = (("FTS engine", fts, None), ("FTS sqlite3", lite_fts, None), ("hybrid", hybrid, 0.080))
    for label, times, bound in rows:
        p50, p95 = _percentile(times, 0.5), _percentile(times, 0.95)
        ratio = f"   p50 / bound {p50 / bound:.2f}" if bound else ""
        print(
            f"{label:11} p50 {p50 * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   "
            f"({len(times)} queries){ratio}"
        )
    print(
        "  note: hybrid = the sqlite3 FTS + embedding the query over HTTP + cosine over the "
        "matrix (loaded once per process) + RRF + the views"
    )


def cli(data_dir: Path, base_url: str, model: str, runs: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("READERD_", "OPENAI_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env |= {"READERD_DATA_DIR": str(data_dir), "READERD_SOURCE": "none",
            "READERD_EMBED_BASE_URL": base_url, "READERD_EMBED_MODEL": model}  # fmt: skip
    readerd = str(Path(sys.executable).parent / "readerd")
    command = [readerd, "search", "solar", "--semantic"]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(
        f"readerd search solar --semantic   median {median:.3f} s   max {max(times):.3f} s   "
        f"({runs} runs)   median / 0.5 s bound {median / 0.5:.2f}"
    )


def ask_wall(data_dir: Path, base_url: str, model: str) -> None:
    """One ask with a model that reads the first hit and cites it at once."""
    import json
    import re

    from readerd.analyze.openai.client import ChatClient
    from readerd.ask.conversation import Conversation
    from readerd.ask.library import Library
    from readerd.config import load_settings
    from readerd.store.database import make_engine
    from tests.servers.openai_compat import OpenAICompatServer, call, tool_reply

    def model_reply(request: dict[str, object]) -> object:
        messages = request["messages"]
        assert isinstance(messages, list)
        tools = [m["content"] for m in messages if m.get("role") == "tool"]
        if tools and tools[-1].startswith('{"id"'):
            article = json.loads(tools[-1])
            quote = article["passages"][0][:80]
            return tool_reply(call("answer", {"text": "-", "citations": [
                {"id": article["id"], "quote": quote}]}))  # fmt: skip
        hits = json.loads(re.search(r"its hits:\n(\[.*?\])\n\n", messages[1]["content"], re.S)[1])
        return tool_reply(call("get_article", {"id": hits[0]["id"]}))

    with OpenAICompatServer() as llm:
        llm.respond_with(model_reply)
        settings = load_settings(
            data_dir=data_dir,
            embed_base_url=base_url,
            embed_model=model,
            llm_base_url=llm.base_url,
            llm_model="test-model",
        )
        engine = make_engine(settings)
        from readerd.store.passages import refresh_passages

        started = time.perf_counter()
        cut = refresh_passages(engine)  # once, as after a processing pass; not in ask's time
        print(f"passage index: {cut} articles cut in {time.perf_counter() - started:.1f} s")
        walls = []
        for question in ("¿qué leí sobre energía solar?", "what did I save about gardens?"):
            library = Library(engine, settings=settings)
            started = time.perf_counter()
            result = asyncio.run(Conversation(ChatClient(settings), library, question, 5).run())
            walls.append(time.perf_counter() - started)
            print(
                f"ask {question!r}: {walls[-1]:.2f} s wall, {result.rounds} rounds, "
                f"verified={result.verified} (the scripted model answers at once)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    from tests.servers.embeddings import embeddings_server

    have = _articles(args.data_dir)
    if have < args.articles:
        build_library(args.data_dir, args.articles - have, start=have, progress=True)
    _upgrade(args.data_dir)
    model = "bench-embed"
    fill_vectors(args.data_dir, model)
    with embeddings_server(DIMENSIONS) as server:
        print(f"library: {max(have, args.articles)} articles, {DIMENSIONS}-dimension vectors")
        in_process(args.data_dir, server.base_url, model)
        cli(args.data_dir, server.base_url, model, args.runs)
        ask_wall(args.data_dir, server.base_url, model)


if __name__ == "__main__":
    main()
