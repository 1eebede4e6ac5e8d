"""Throughput of 1, 2 and 4 workers on one database: PostgreSQL, and SQLite beside it.

Run by hand from the repo root (PostgreSQL's binaries installed, as for the tests):
    .venv/bin/python bench/workers_bench.py [--links 600] [--latency 0.4]

Each run seeds --links due links (their HTML provided, so nothing is fetched) into a
fresh database, then starts N `readerd process` workers at once, each with its own
data directory and READERD_LLM_CONCURRENCY=4, against a scripted OpenAI-compatible
server that answers every request after --latency seconds. The work is latency-bound:
one worker's bound is links × latency / 4. Printed: wall time to drain the queue,
links per second, the ratio to one worker (target ≥ 3.5 at 4 workers on PostgreSQL),
and how many LLM requests each article cost (1 when no link was analysed twice).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from readerd.config import load_settings  # noqa: E402
from readerd.store.database import make_engine, upgrade_database  # noqa: E402
from tests.servers.openai_compat import (  # noqa: E402
    MODEL,
    AnalysisResponder,
    OpenAICompatServer,
    article_text,
)
from tests.servers.postgres import find_binaries, throwaway_cluster  # noqa: E402
from tests.test_leases import _add_links  # noqa: E402


def one_run(database_url: str, links: int, workers: int, latency: float) -> tuple[float, int]:
    """(wall seconds to drain the queue, the most LLM requests any one article cost)."""
    scratch = Path(tempfile.mkdtemp(prefix="readerd-workers-"))
    engine = make_engine(load_settings(data_dir=scratch, database_url=database_url))
    upgrade_database(engine)
    _add_links(engine, links)
    engine.dispose()
    asked: Counter[str] = Counter()
    responder = AnalysisResponder()

    def respond(request: dict[str, Any]) -> Any:
        asked[article_text(request).split("Story ")[1].split(":")[0]] += 1
        time.sleep(latency)
        return responder(request)

    with OpenAICompatServer() as llm:
        llm.respond_with(respond)
        env = {k: v for k, v in os.environ.items() if not k.startswith("READERD_")}
        env |= {
            "READERD_DATABASE_URL": database_url,
            "READERD_SOURCE": "none",
            "READERD_LLM_BASE_URL": llm.base_url,
            "READERD_LLM_MODEL": MODEL,
            "READERD_LLM_CONCURRENCY": "4",
            "READERD_LOG_LEVEL": "ERROR",
        }
        started = time.perf_counter()
        runs = []
        for n in range(workers):
            home = scratch / f"w{n}"
            home.mkdir()
            runs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "readerd", "process"],
                    env={**env, "READERD_DATA_DIR": str(home)},
                    cwd=home,
                    stdout=subprocess.DEVNULL,
                )
            )
        for run in runs:
            run.wait()
        wall = time.perf_counter() - started
    if len(asked) != links:
        raise SystemExit(f"only {len(asked)} of {links} articles reached the model")
    return wall, max(asked.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.4)
    args = parser.parse_args()
    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL binaries: apt-get install -y postgresql")
    bound = args.links * args.latency / 4
    print(f"{args.links} links, LLM {args.latency * 1000:.0f} ms, 4 in flight per worker; "
          f"one worker's bound {bound:.1f} s")  # fmt: skip
    with throwaway_cluster(binaries) as cluster:
        for backend in ("postgresql", "sqlite"):
            base = None
            for workers in (1, 2, 4):
                if backend == "postgresql":
                    url = cluster.url(cluster.fresh_database())
                else:
                    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'readerd.db'}"
                wall, most = one_run(url, args.links, workers, args.latency)
                base = base or wall
                print(
                    f"{backend:10} {workers} worker(s): {wall:6.1f} s wall, "
                    f"{args.links / wall:5.1f} links/s, {base / wall:4.2f}x one worker, "
                    f"at most {most} request(s) per article"
                )


if __name__ == "__main__":
    main()
