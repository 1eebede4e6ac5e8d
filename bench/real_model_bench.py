"""readerd's analysis through a real llama.cpp server and a real small model, timed.

Run by hand from the repo root, after `bash .ci/real-model-setup`:

    .venv/bin/python bench/real_model_bench.py [--articles 6] [--concurrency 1 2]

For each READERD_LLM_CONCURRENCY value it analyses the same English and Spanish
articles (the bundled samples) with a fresh server profile, so the ladder's first
probe is included, and prints per article: requests, share of tool calls valid on
the first try, prompt and completion tokens, prompt tokens the server reused from
its cache, and wall time. Beside it, the server's own busy time read from its log
(llama.cpp's per-request "prompt eval time" and "eval time"): wall / server time
says how much time readerd adds on top of the model.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trafilatura
from pydantic import ValidationError

from readerd.analyze import OpenAIAnalyzer, ServerProfiles
from readerd.analyze.tools import ALL_TOOLS, validate_arguments
from readerd.config import Settings
from readerd.results import ArticleInput
from tests.servers.llama import (
    ALIAS,
    N_CTX,
    LlamaServer,
    RecordingProxy,
    unavailable,
)

SAMPLES = (
    "en-home-composting.html",
    "es-dieta-mediterranea.html",
    "en-sleep-science.html",
    "es-energia-solar-en-casa.html",
    "en-history-of-the-bicycle.html",
    "es-ferrocarril-en-espana.html",
)
_PROMPT_EVAL = re.compile(r"prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens")
_EVAL = re.compile(r"\beval time =\s+([\d.]+) ms /\s+(\d+) runs")
_PREFIX_HIT = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens")


def articles(count: int) -> list[ArticleInput]:
    """The first `count` bundled HTML samples, extracted, alternating English and Spanish."""
    out = []
    for name in SAMPLES[:count]:
        html = resources.files("readerd.samples").joinpath(name).read_text(encoding="utf-8")
        text = trafilatura.extract(html) or ""
        title = (trafilatura.extract_metadata(html).title) or name
        out.append(ArticleInput(url=f"https://bench.example/{name}", title=title, text=text,
                                language=name[:2]))  # fmt: skip
    return out


def server_time(log: str) -> tuple[float, int, int, int]:
    """(busy seconds, prompt tokens evaluated, tokens generated, prompt tokens from cache)."""
    prompt = [(float(ms), int(n)) for ms, n in _PROMPT_EVAL.findall(log)]
    generated = [(float(ms), int(n)) for ms, n in _EVAL.findall(log)]
    cached = sum(int(hit) for hit, _ in _PREFIX_HIT.findall(log))
    busy = (sum(ms for ms, _ in prompt) + sum(ms for ms, _ in generated)) / 1000
    return busy, sum(n for _, n in prompt), sum(n for _, n in generated), cached


def first_try_validity(proxy: RecordingProxy, urls: list[str]) -> tuple[int, int]:
    """(tool calls valid on the first request asking for them, tools asked), per article."""
    valid = asked = 0
    for url in urls:
        seen: set[str] = set()
        for exchange in proxy.exchanges:
            request = exchange.request or {}
            if not any(url in str(m.get("content")) for m in request.get("messages", [])):
                continue
            choice = request.get("tool_choice")
            names = (
                {choice["function"]["name"]}
                if isinstance(choice, dict)
                else {t["function"]["name"] for t in request.get("tools", [])}
            )
            for name in sorted(names - seen):
                seen.add(name)
                asked += 1
                valid += _valid_call(exchange.response, name)
        if len(seen) < len(ALL_TOOLS):
            asked += len(ALL_TOOLS) - len(seen)
    return valid, asked


def _valid_call(response: Any, name: str) -> bool:
    choices = (response or {}).get("choices") or [{}]
    for call in (choices[0].get("message") or {}).get("tool_calls") or []:
        if call["function"]["name"] != name:
            continue
        try:
            import json

            validate_arguments(name, json.loads(call["function"]["arguments"], strict=False))
            return True
        except (ValidationError, ValueError, TypeError):
            return False
    return False


async def analyse_all(
    analyzer: OpenAIAnalyzer, items: list[ArticleInput], concurrency: int
) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(article: ArticleInput) -> Any:
        async with gate:
            try:
                return await analyzer.analyze(article)
            except Exception as exc:  # reported, not raised: the bench measures what happens
                return exc

    try:
        return await asyncio.gather(*(one(a) for a in items))
    finally:
        await analyzer.aclose()


def run(server: LlamaServer, items: list[ArticleInput], concurrency: int) -> None:
    log_before = len(server.log())
    with RecordingProxy(server.base_url) as proxy, tempfile.TemporaryDirectory() as data:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(data),
            analyzer="openai",
            llm_base_url=proxy.base_url,
            llm_model=ALIAS,
            llm_concurrency=concurrency,
            llm_context_tokens=N_CTX,
        )
        analyzer = OpenAIAnalyzer(settings, profiles=ServerProfiles())
        started = time.monotonic()
        results = asyncio.run(analyse_all(analyzer, items, concurrency))
        wall = time.monotonic() - started
        chats = [e for e in proxy.exchanges if e.path.endswith("/chat/completions")]
        valid, asked = first_try_validity(proxy, [a.url for a in items])
    busy, prompt_eval, generated, cached = server_time(server.log()[log_before:])
    done = [r for r in results if not isinstance(r, Exception)]
    n = len(items)
    usage = [(e.response or {}).get("usage") or {} for e in chats]
    prompt_tokens = sum(u.get("prompt_tokens", 0) for u in usage)
    completion_tokens = sum(u.get("completion_tokens", 0) for u in usage)
    bounded = all("max_tokens" in (e.request or {}) for e in chats)
    print(f"\n## READERD_LLM_CONCURRENCY={concurrency}: {len(done)}/{n} analysed by the model")
    for r in results:
        if isinstance(r, Exception):
            print(f"  failed: {r}")
    rows = [
        ("requests per article", f"{len(chats) / n:.2f} (all with max_tokens: {bounded})"),
        ("tool calls valid on first try", f"{valid}/{asked} = {valid / max(1, asked):.0%}"),
        (
            "prompt tokens per article",
            f"{prompt_tokens / n:.0f} (server evaluated {prompt_eval / n:.0f}, "
            f"reused {cached / n:.0f} from its cache)",
        ),
        ("completion tokens per article", f"{completion_tokens / n:.0f}"),
        ("wall time per article", f"{wall / n:.1f} s"),
        (
            "server busy per article",
            f"{busy / n:.1f} s ({generated / max(busy, 1e-9):.0f} generated tokens per busy s)",
        ),
        (
            "wall / server busy",
            f"{wall / max(busy, 1e-9):.2f} (readerd and queueing add "
            f"{max(0.0, wall - busy) / n:.2f} s per article)",
        ),
    ]
    for label, value in rows:
        print(f"  {label + ':':<32}{value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=6, help="bundled samples to analyse (1-6)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if reason := unavailable():
        sys.exit(f"real_model_bench: {reason}")
    items = articles(max(1, min(args.articles, len(SAMPLES))))
    print(f"# {len(items)} articles through llama-cpp-python, SmolLM2-135M Q4_1, n_ctx {N_CTX}")
    with LlamaServer() as server:
        for concurrency in args.concurrency:
            run(server, items, concurrency)


if __name__ == "__main__":
    main()
