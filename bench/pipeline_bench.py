"""500 links through local servers with set latencies: wall time against the concurrency bound.

Run by hand from the repo root:  .venv/bin/python bench/pipeline_bench.py [--links 500]

The bound is what perfect pipelining would take: the slower of the two concurrent
stages, N × latency / concurrency. The ratio wall / bound says how close readerd gets
(1.0 is ideal; extraction CPU time and SQLite writes are the overhead). On a small
machine the offline analyser is CPU-bound rather than latency-bound, so the bench also
prints the machine's busy CPU time divided by its cores, and the ratio against the
larger of the two floors.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readerd import store
from readerd.config import load_settings
from readerd.pipeline import process_due
from readerd.results import SavedLink
from readerd.store.database import make_engine, upgrade_database
from tests.servers.openai_compat import MODEL, AnalysisResponder, OpenAICompatServer, Reply
from tests.servers.web import start_web_server

SAMPLES = [
    "en-home-composting.html",
    "es-dieta-mediterranea.html",
    "en-sleep-science.html",
    "es-energia-solar-en-casa.html",
]


def _busy_cpu_seconds() -> float:
    """Busy CPU time of the whole machine (/proc/stat), workers of every kind included."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _serve(links: int, latency: float, ports: multiprocessing.Queue[int]) -> None:
    """Serve `links` article pages, each after `latency` seconds, until terminated."""
    web, _stop = start_web_server()
    bodies = [resources.files("readerd.samples").joinpath(n).read_bytes() for n in SAMPLES]
    for i in range(links):
        web.add(f"/a{i}.html", bodies[i % len(bodies)] + f"<!-- {i} -->".encode(), delay=latency)
    ports.put(web.port)
    threading.Event().wait()


def _serve_llm(latency: float, urls: multiprocessing.Queue[str]) -> None:
    """An OpenAI-compatible server answering every analysis after `latency` s, until killed."""
    llm = OpenAICompatServer().start()
    responder = AnalysisResponder()

    def respond(request: dict[str, Any]) -> Reply:
        # The latency is the whole answer's: the scripted analysis (tens of ms of Python
        # on a long article) is part of it, as a model's own work is, not added to it.
        started = time.monotonic()
        body = responder(request)
        return Reply(body=body, delay=max(0.0, latency - (time.monotonic() - started)))

    llm.respond_with(respond)
    urls.put(llm.base_url)
    threading.Event().wait()


def _run(
    links: int,
    fetch_latency: float,
    llm_latency: float,
    fetch_conc: int,
    llm_conc: int,
    use_llm: bool,
) -> None:
    # The article server runs in a process of its own, so its threads do not compete
    # with readerd's event loop for one interpreter lock and skew the figure.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(links, fetch_latency, ports), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    urls = [f"http://127.0.0.1:{port}/a{i}.html" for i in range(links)]
    # The LLM server too: in this process its JSON work would take readerd's GIL.
    llm_urls: multiprocessing.Queue[str] = multiprocessing.Queue()
    llm = multiprocessing.Process(target=_serve_llm, args=(llm_latency, llm_urls), daemon=True)
    llm.start()
    llm_base_url = llm_urls.get(timeout=30)
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            "data_dir": Path(data_dir),
            "fetch_allow": ["127.0.0.1"],
            "fetch_concurrency": fetch_conc,
            "llm_concurrency": llm_conc,
            "analyzer": "openai" if use_llm else "offline",
        }
        if use_llm:
            env |= {"llm_base_url": llm_base_url, "llm_model": MODEL, "llm_api_key": "sk-bench"}
        settings = load_settings(**env)
        engine = make_engine(settings)
        upgrade_database(engine)
        store.import_links(engine, [SavedLink("import", u, u) for u in urls])
        busy_before, started = _busy_cpu_seconds(), time.perf_counter()
        report = asyncio.run(process_due(settings, engine))
        wall = time.perf_counter() - started
        busy = _busy_cpu_seconds() - busy_before
    server.terminate()
    llm.terminate()
    fetch_bound = links * fetch_latency / fetch_conc
    llm_bound = links * llm_latency / llm_conc if use_llm else 0.0
    bound = max(fetch_bound, llm_bound)
    label = f"llm {llm_latency * 1000:.0f} ms ×{llm_conc}" if use_llm else "offline analyser"
    print(
        f"{links} links, fetch {fetch_latency * 1000:.0f} ms ×{fetch_conc}, {label}: "
        f"{report.done} done, {report.failed} failed, {report.retry} retry"
    )
    print(
        f"  wall {wall:.2f} s   bound {bound:.2f} s   ratio {wall / bound:.2f}   "
        f"({links / wall:.1f} links/s)"
    )
    stages = ", ".join(f"{k} {v:.1f}" for k, v in sorted(report.seconds.items()))
    print(f"  stage seconds, summed over items in flight: {stages}")
    cores = os.cpu_count() or 1
    floor = busy / cores
    print(
        f"  machine busy {busy:.1f} CPU-s on {cores} cores (servers included): "
        f"CPU floor {floor:.2f} s; wall / max(bound, floor) = {wall / max(bound, floor):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=500)
    parser.add_argument("--fetch-latency", type=float, default=0.2)
    parser.add_argument("--llm-latency", type=float, default=0.4)
    parser.add_argument("--fetch-concurrency", type=int, default=8)
    parser.add_argument("--llm-concurrency", type=int, default=4)
    args = parser.parse_args()
    for use_llm in (True, False):
        _run(
            args.links,
            args.fetch_latency,
            args.llm_latency,
            args.fetch_concurrency,
            args.llm_concurrency,
            use_llm,
        )


if __name__ == "__main__":
    main()
