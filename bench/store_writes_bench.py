"""Store writes: articles + analyses per second, one by one and batched, as the library grows.

Run by hand from the repo root:
    .venv/bin/python bench/store_writes_bench.py [--sizes 2000,20000,100000] [--pocket 100000]

The library (bench/library.py) is grown to each size with batched writes; at each size
the bench then times `--probe` more articles written one by one (save_article +
save_analysis: two transactions each, as the pipeline writes today) and `--batch-probe`
more written with save_batch (`--batch` articles per transaction), and prints articles/s
and the ratio to the bound (>= 300 articles/s; ratio >= 1.0 meets it). The growth itself
is timed too: the batched rate sustained from 0 to the largest size.

`--pocket N` also times `readerd import` of an N-row Pocket export CSV (a fresh data
dir, the installed command as a user runs it) against its bound (<= 30 s per 100k rows),
then in process store.importing.import_links (new links in plain SQL) on the same file,
and a profile of sync.import_links (what `readerd import` calls today).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library import build_library  # bench/ is not a package: its own folder is on the path

BOUND = 300.0  # articles per second
POCKET_BOUND = 30.0  # seconds for a 100k-row export


def _probe(data_dir: Path, start: int, count: int, *, per_article: bool, batch: int) -> float:
    """Articles per second writing `count` more articles into the library."""
    stats = build_library(data_dir, count, start=start, per_article=per_article, batch=batch)
    return stats.articles / stats.write_seconds


def writes(sizes: list[int], probe: int, batch_probe: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        have, grown, grow_seconds = 0, 0, 0.0
        for size in sizes:
            started = time.perf_counter()
            stats = build_library(data_dir, size - have, start=have, batch=batch)
            grow_seconds += stats.write_seconds
            grown += stats.articles
            print(
                f"grown to {size} articles in {time.perf_counter() - started:.0f} s "
                f"(links {stats.import_seconds:.1f} s, writes {stats.write_seconds:.1f} s)"
            )
            have = size
            one = _probe(data_dir, have, probe, per_article=True, batch=batch)
            have += probe
            many = _probe(data_dir, have, batch_probe, per_article=False, batch=batch)
            have += batch_probe
            print(
                f"  at {size:>7}: one by one {one:6.0f} articles/s ({1000 / one:5.1f} ms each, "
                f"ratio {one / BOUND:.2f})   save_batch x{batch} {many:6.0f} articles/s "
                f"(ratio {many / BOUND:.2f})"
            )
        rate = grown / grow_seconds
        print(
            f"sustained 0 -> {sizes[-1]}: save_batch x{batch} {rate:.0f} articles/s "
            f"(ratio {rate / BOUND:.2f} to {BOUND:.0f}/s)"
        )


def pocket_csv(path: Path, rows: int) -> None:
    """A Pocket export: title,url,time_added,tags,status (as getpocket.com wrote it)."""
    tags = ["python", "cocina", "viajes", "science", "energía", "tren", "read-later"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["title", "url", "time_added", "tags", "status"])
        for i in range(rows):
            chosen = "|".join(tags[(i + k) % len(tags)] for k in range(i % 3))
            status = "archive" if i % 4 == 0 else "unread"
            title = f"Artículo {i} sobre energía" if i % 2 else f"Article {i} on trains"
            url = f"https://site{i % 997}.example/post/{i}?utm_source=pocket"
            out.writerow([title, url, 1_600_000_000 + i * 60, chosen, status])


def pocket_import(rows: int) -> None:
    readerd = str(Path(sys.executable).parent / "readerd")
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "pocket.csv"
        pocket_csv(export, rows)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("READERD_", "OPENAI_"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed readerd has its .pyc files
        env |= {"READERD_DATA_DIR": str(Path(tmp) / "data"), "READERD_SOURCE": "none"}
        started = time.perf_counter()
        done = subprocess.run(
            [readerd, "import", str(export)], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        print(
            f"readerd import of a {rows}-row Pocket CSV: {wall:.1f} s "
            f"(ratio {wall / (POCKET_BOUND * rows / 100_000):.2f} to {POCKET_BOUND:.0f} s per "
            f"100k rows)  exit {done.returncode}: {done.stdout.strip()[:120]}"
        )
        _import_profile(export, Path(tmp), min(rows, 4000))


def _import_profile(export: Path, data_dir: Path, rows: int) -> None:
    """Where the import's time goes: sync.import_links (profiled, first `rows` rows) and
    store.importing.import_links (the whole file), in this process, each on a fresh library."""
    from readerd import store
    from readerd.config import load_settings
    from readerd.sources import read_import_file
    from readerd.store import importing
    from readerd.store.database import make_engine, upgrade_database

    started = time.perf_counter()
    links = read_import_file(export)
    everything = [*links, *links.refused]
    read = time.perf_counter() - started
    engine = make_engine(load_settings(data_dir=data_dir / "fast", _env_file=None))
    upgrade_database(engine)
    started = time.perf_counter()
    report = importing.import_links(engine, everything)
    fast = time.perf_counter() - started
    engine.dispose()
    bound = POCKET_BOUND * len(everything) / 100_000
    print(
        f"  reading the file: {read:.1f} s for {len(everything)} rows; "
        f"store.importing.import_links: {fast:.1f} s ({report.new} new); "
        f"read + store {read + fast:.1f} s, ratio {(read + fast) / bound:.2f} to the bound"
    )
    engine = make_engine(load_settings(data_dir=data_dir / "sync", _env_file=None))
    upgrade_database(engine)
    profile = cProfile.Profile()
    started = time.perf_counter()
    store.import_links(engine, everything[: rows // 2])
    plain = time.perf_counter() - started
    profile.enable()
    store.import_links(engine, everything[rows // 2 : rows])
    profile.disable()
    print(
        f"  sync.import_links (what `readerd import` calls): {plain / (rows // 2) * 1000:.2f} ms "
        f"a row over {rows // 2} rows; its heaviest functions (profiled, next {rows // 2}):"
    )
    stats = pstats.Stats(profile)
    ranked = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:8]  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, own, *_rest) in ranked:
        print(f"    {own:6.2f} s own  {calls:>8} calls  {Path(file).name}:{line} {name}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--probe", type=int, default=200, help="articles written one by one")
    parser.add_argument("--batch-probe", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="articles per transaction")
    parser.add_argument("--pocket", type=int, default=0, help="rows of a Pocket export")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        writes(sizes, args.probe, args.batch_probe, args.batch)
    if args.pocket:
        pocket_import(args.pocket)


if __name__ == "__main__":
    main()
