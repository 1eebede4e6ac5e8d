"""How fast the `readerd` command starts: `--help`, and `search WORD` on a 2,000-article library.

Run by hand from the repo root:  .venv/bin/python bench/cli_start.py [--articles 2000] [--runs 15]

Each command runs `--runs` times as a fresh process (the installed `readerd` script, as a
user types it); the bench prints the median and the maximum wall time, the bare
interpreter's start for comparison, and the heaviest imports of one run
(`python -X importtime`, cumulative microseconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, like the other benches

WORDS = [
    "solar",
    "energy",
    "compost",
    "garden",
    "bicycle",
    "railway",
    "sleep",
    "memory",
    "water",
    "rain",
    "diet",
    "olive",
    "history",
    "science",
    "kitchen",
    "city",
    "river",
    "mountain",
    "music",
    "school",
    "market",
    "bread",
    "coffee",
]


def build_library(data_dir: Path, articles: int) -> None:
    """`articles` analysed articles in a fresh database under data_dir (offline, no network)."""
    from readerd import store
    from readerd.config import load_settings
    from readerd.results import Analysis, Extracted, FetchedPage, SavedLink
    from readerd.store.database import make_engine, upgrade_database

    settings = load_settings(data_dir=data_dir)
    engine = make_engine(settings)
    upgrade_database(engine)
    urls = [f"https://example.org/a/{i}" for i in range(articles)]
    store.import_links(engine, [SavedLink("import", u, u) for u in urls])
    for due in store.due_links(engine, limit=articles):
        i = due.id
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(400)]
        text = " ".join(words).capitalize() + "."
        page = FetchedPage(due.url, 200, "text/html", b"<html></html>")
        extracted = Extracted(text=text, title=f"Article {i} on {words[0]}", word_count=400)
        content_hash = store.save_article(engine, i, page, extracted)
        analysis = Analysis(
            tags=(words[1], words[2]),
            summary=" ".join(words[:30]) + ".",
            key_points=(" ".join(words[30:40]) + ".",),
            language="en",
            analyzer="offline",
            model="offline",
            prompt_version="bench",
        )
        store.save_analysis(engine, i, analysis, content_hash)
    engine.dispose()


def wall_times(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh processes of command (output discarded, exit 0 required)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def heaviest_imports(args: list[str], env: dict[str, str], top: int = 8) -> list[str]:
    """The `top` slowest top-level imports (cumulative µs) of one run of `readerd args`."""
    code = "import sys; from readerd.cli import main; sys.argv = ['readerd', *sys.argv[1:]]; main()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        depth = len(name) - len(name.lstrip())  # one space, then two more per nesting level
        if cumulative.strip().isdigit() and depth <= 3 and name.strip() != "readerd.cli":
            rows.append((int(cumulative), name.strip()))
    return [f"{name} {us / 1000:.0f} ms" for us, name in sorted(rows, reverse=True)[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    readerd = str(Path(sys.executable).parent / "readerd")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        build_library(data_dir, args.articles)
        print(f"library: {args.articles} articles in {time.perf_counter() - started:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("READERD_", "OPENAI_"))}
        env |= {"READERD_DATA_DIR": str(data_dir), "READERD_SOURCE": "none"}
        # An installed readerd has its bytecode: with PYTHONDONTWRITEBYTECODE set (as in
        # some sandboxes) every run would compile readerd's own modules again.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "readerd --help": [readerd, "--help"],
            "readerd search solar": [readerd, "search", "solar"],
        }
        for label, command in commands.items():
            wall_times(command, env, 1)  # writes the bytecode, warms the page cache
            times = wall_times(command, env, args.runs)
            print(
                f"{label:24} median {statistics.median(times):.3f} s   max {max(times):.3f} s"
                f"   ({args.runs} runs)"
            )
            if label.startswith("readerd"):
                print("    heaviest imports: " + ", ".join(heaviest_imports(command[1:], env)))


if __name__ == "__main__":
    main()
