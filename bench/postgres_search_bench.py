"""Search at N articles on PostgreSQL beside SQLite, and `db copy` at that size.

Run by hand from the repo root, on a library bench/library.py built:
    .venv/bin/python bench/postgres_search_bench.py --data-dir /tmp/lib100k

Starts a throwaway PostgreSQL cluster (tests/servers/postgres.py), copies the SQLite
library into it with `readerd db copy` (timed: every table, the tsvector index
rebuilt, the counts checked), then runs the 200 fixed queries of bench/search_bench.py
on both: p50/p95/p99 in process (store.views.search on PostgreSQL, the sqlite3 read
path the CLI uses on SQLite), and how often the first hit agrees.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_bench import _upgrade, queries  # noqa: E402

from readerd.config import load_settings  # noqa: E402
from readerd.store.database import make_engine  # noqa: E402
from readerd.store.lite import open_library  # noqa: E402
from readerd.store.search import QueryError  # noqa: E402
from readerd.store.views import EngineLibrary  # noqa: E402
from tests.servers.postgres import find_binaries, throwaway_cluster  # noqa: E402


def _percentiles(times: list[float]) -> str:
    ordered = sorted(times)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"p50 {at(0.5):6.1f} ms   p95 {at(0.95):6.1f} ms   p99 {at(0.99):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL binaries: apt-get install -y postgresql")
    _upgrade(args.data_dir)
    settings = load_settings(data_dir=args.data_dir)
    with throwaway_cluster(binaries) as cluster:
        url = cluster.url(cluster.fresh_database())
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "readerd", "db", "copy", "--to", url],
            env={"READERD_DATA_DIR": str(args.data_dir), "PATH": "/usr/bin:/bin"},
            check=True,
        )
        print(f"db copy: {time.perf_counter() - started:.1f} s")
        postgres = EngineLibrary(make_engine(load_settings(data_dir=args.data_dir,
                                                           database_url=url)))  # fmt: skip
        sqlite = open_library(settings.db_url)
        assert sqlite is not None
        timings: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        agree = compared = 0
        for query in queries():
            firsts = []
            for name, library in (("sqlite", sqlite), ("postgresql", postgres)):
                started = time.perf_counter()
                try:
                    hits = library.search(query, limit=20)
                except QueryError:
                    break
                timings[name].append(time.perf_counter() - started)
                firsts.append(hits[0]["id"] if hits else None)
            if len(firsts) == 2:
                compared += 1
                agree += firsts[0] == firsts[1]
        for name, times in timings.items():
            print(f"{name:10} {_percentiles(times)}   ({len(times)} queries)")
        print(f"the same first hit for {agree} of {compared} queries")
        postgres.__exit__()


if __name__ == "__main__":
    main()
