"""Throughput of 1, 2 and 4 workers on one database: PostgreSQL, and SQLite beside it.

Run by hand from the repo root (PostgreSQL's binaries installed, as for the tests):
    .venv/bin/python bench/workers_bench.py [--links 1200] [--latency 0.4] [--series analyze,all]

Each run seeds --links due links (their HTML provided, so nothing is fetched) into a
fresh database, then starts N workers at once, each with its own data directory and
READERD_LLM_CONCURRENCY=4, against a scripted OpenAI-compatible server that answers
every request after --latency seconds. One worker's bound is links × latency / 4.

Two series:
  analyze  the GPU-box role: the links are fetched and extracted first (one untimed
           `readerd worker --stages fetch,extract --once`) and held back a few
           seconds; N long-running `readerd worker --stages analyze --every 1` start
           meanwhile, and the clock runs from the moment the links are due until all
           are analysed (polled every 0.1 s; a worker looks every second, so up to 1 s
           of it is the poll). Throughput of running workers, as on a GPU box, not
           their start-up (imports, a second or two of CPU each, four at once on two
           cores): the latency-bound work the target is about (≥ 3.5× one worker at 4).
  all      N `readerd process` (every stage in every worker): each worker also
           extracts its pages, so on a small machine the series is CPU-bound, and the
           machine's cores, not the database, set its ceiling.
Printed: wall time to drain the queue, links per second, the ratio to one worker,
the machine's busy CPU seconds, and how many LLM requests each article cost (1 when
no link was analysed twice).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from readerd.config import load_settings  # noqa: E402
from readerd.models import utcnow  # noqa: E402
from readerd.store.database import make_engine, upgrade_database  # noqa: E402
from tests.servers.openai_compat import (  # noqa: E402
    MODEL,
    AnalysisResponder,
    OpenAICompatServer,
    article_text,
)
from tests.servers.postgres import find_binaries, throwaway_cluster  # noqa: E402
from tests.test_leases import _add_links  # noqa: E402

COMMANDS = {
    "analyze": ["worker", "--stages", "analyze", "--every", "1"],
    "all": ["process"],
}
HOLD_SECONDS = 6.0  # the workers' start-up, before the extracted links fall due


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent not idle since boot (/proc/stat)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _start_workers(
    commands: list[list[str]], env: dict[str, str], scratch: Path
) -> list[subprocess.Popen[bytes]]:
    runs = []
    for n, command in enumerate(commands):
        home = scratch / f"w{len(list(scratch.glob('w*')))}-{n}"
        home.mkdir()
        runs.append(
            subprocess.Popen(
                [sys.executable, "-m", "readerd", *command],
                env={**env, "READERD_DATA_DIR": str(home)},
                cwd=home,
                stdout=subprocess.DEVNULL,
            )
        )
    return runs


def _run_workers(commands: list[list[str]], env: dict[str, str], scratch: Path) -> None:
    for run in _start_workers(commands, env, scratch):
        if run.wait():
            raise SystemExit(f"a worker exited {run.returncode}")


def _drain_with_running_workers(
    engine: Engine, links: int, workers: int, env: dict[str, str], scratch: Path
) -> float:
    """Seconds from the extracted links falling due to the last one analysed."""
    due_at = utcnow() + timedelta(seconds=HOLD_SECONDS)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE link SET next_attempt_at = :at WHERE status = 'pending'"), {"at": due_at}
        )
    runs = _start_workers([COMMANDS["analyze"]] * workers, env, scratch)
    try:
        time.sleep(max(0.0, (due_at - utcnow()).total_seconds()))
        started = time.perf_counter()
        done = text("SELECT count(*) FROM link WHERE status = 'done'")
        while True:
            with engine.connect() as connection:
                if connection.execute(done).scalar_one() >= links:
                    return time.perf_counter() - started
            if any(run.poll() is not None for run in runs):
                raise SystemExit("a worker exited before the queue was drained")
            time.sleep(0.1)
    finally:
        for run in runs:
            run.send_signal(signal.SIGTERM)
        for run in runs:
            run.wait(timeout=60)


def one_run(
    database_url: str, links: int, workers: int, latency: float, series: str
) -> tuple[float, float, int]:
    """(wall seconds to drain the queue, busy CPU seconds, the most LLM requests any
    one article cost)."""
    scratch = Path(tempfile.mkdtemp(prefix="readerd-workers-"))
    engine = make_engine(load_settings(data_dir=scratch, database_url=database_url))
    upgrade_database(engine)
    _add_links(engine, links)
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
        if series == "analyze":  # the home server's part, done before the clock starts
            _run_workers([["worker", "--stages", "fetch,extract", "--once"]], env, scratch)
            if asked:
                raise SystemExit("the fetch,extract worker asked the model")
        cpu, started = _busy_cpu_seconds(), time.perf_counter()
        if series == "analyze":
            wall = _drain_with_running_workers(engine, links, workers, env, scratch)
        else:
            _run_workers([COMMANDS[series]] * workers, env, scratch)
            wall = time.perf_counter() - started
        cpu = _busy_cpu_seconds() - cpu
    engine.dispose()
    if len(asked) != links:
        raise SystemExit(f"only {len(asked)} of {links} articles reached the model")
    return wall, cpu, max(asked.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=1200)
    parser.add_argument("--latency", type=float, default=0.4)
    parser.add_argument("--series", default="analyze,all", help="analyze, all or both")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.series.split(",") if name.strip()]
    if not chosen or set(chosen) - set(COMMANDS):
        raise SystemExit(f"--series takes {', '.join(COMMANDS)}")
    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL binaries: apt-get install -y postgresql")
    bound = args.links * args.latency / 4
    print(f"{args.links} links, LLM {args.latency * 1000:.0f} ms, 4 in flight per worker; "
          f"one worker's bound {bound:.1f} s; {os.cpu_count()} cores")  # fmt: skip
    with throwaway_cluster(binaries) as cluster:
        for series in chosen:
            for backend in ("postgresql", "sqlite"):
                base = None
                for workers in (1, 2, 4):
                    if backend == "postgresql":
                        url = cluster.url(cluster.fresh_database())
                    else:
                        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'readerd.db'}"
                    wall, cpu, most = one_run(url, args.links, workers, args.latency, series)
                    base = base or wall
                    print(
                        f"{series:8} {backend:10} {workers} worker(s): {wall:6.1f} s wall "
                        f"(bound {bound / workers:5.1f} s), {args.links / wall:5.1f} links/s, "
                        f"{base / wall:4.2f}x one worker, {cpu:5.1f} CPU-s busy, "
                        f"at most {most} request(s) per article",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
