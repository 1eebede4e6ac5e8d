"""What to send: the fallback ladder, what worked per server, and chunks of long texts."""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from readerd.analyze.offline import split_sentences
from readerd.analyze.prompts import estimate_tokens
from readerd.analyze.tools import ALL_TOOLS, SummarizeArticle

# Function calling with both tools and tool_choice "required", then one request per
# tool with a named choice, then "auto", then JSON mode, then plain text.
LADDER = ("tools_required", "tool_named", "tools_auto", "json", "text")
TOOL_MODES = ("tools_required", "tool_named", "tools_auto")


@dataclass
class ServerProfile:
    """What works with one (base URL, model): the ladder rung and a learned context size."""

    mode: str = LADDER[0]
    context_tokens: int | None = None


class ServerProfiles:
    """Profiles per (base URL, model), kept for the process; snapshot/restore to persist them."""

    def __init__(self) -> None:
        self._by_key: dict[str, ServerProfile] = {}

    def get(self, base_url: str, model: str) -> ServerProfile:
        """The profile of one endpoint and model, created on first use."""
        return self._by_key.setdefault(f"{base_url} {model}", ServerProfile())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every profile as plain data, keyed by 'base_url model'."""
        return {key: asdict(profile) for key, profile in self._by_key.items()}

    def restore(self, data: dict[str, dict[str, Any]]) -> None:
        """Load profiles saved by snapshot(); unknown rungs are ignored."""
        for key, fields in data.items():
            if fields.get("mode") in LADDER:
                self._by_key[key] = ServerProfile(**fields)


PROFILES = ServerProfiles()
PROFILES_FILE = "llm_profiles.json"  # in the data dir: what worked survives restarts

log = logging.getLogger(__name__)


def load_profiles(profiles: ServerProfiles, path: Path) -> None:
    """Restore profiles saved by save_profiles(); a missing or damaged file changes nothing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(data, dict):
        return
    clean = {
        str(key): {
            "mode": fields.get("mode"),
            "context_tokens": fields.get("context_tokens")
            if isinstance(fields.get("context_tokens"), int)
            else None,
        }
        for key, fields in data.items()
        if isinstance(fields, dict)
    }
    profiles.restore(clean)


def save_profiles(profiles: ServerProfiles, path: Path) -> None:
    """Write every profile to `path` atomically; a failure is logged, never raised."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(profiles.snapshot(), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("llm: cannot save server profiles to %s: %s", path, exc)


def split_text(text: str, max_tokens: int) -> list[str]:
    """Consecutive chunks of about equal size, each within max_tokens, cut between paragraphs."""
    total = estimate_tokens(text)
    if total <= max_tokens:
        return [text]
    limit = min(max_tokens, math.ceil(total / math.ceil(total / max_tokens) * 1.1))
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in _pieces(text, limit):
        cost = estimate_tokens(piece) + 1
        if current and size + cost > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(piece)
        size += cost
    if current:
        chunks.append("\n".join(current))
    return chunks


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs, with any paragraph over the limit cut into sentences, then hard slices."""
    out: list[str] = []
    for paragraph in (p.strip() for p in text.splitlines()):
        if not paragraph:
            continue
        if estimate_tokens(paragraph) < limit:
            out.append(paragraph)
            continue
        for sentence in split_sentences(paragraph):
            # A sentence still over the limit is sliced: `limit` characters are at most
            # `limit` estimated tokens whatever the script.
            out += [sentence[i : i + limit] for i in range(0, len(sentence), limit)]
    return out


def pack_texts(texts: list[str], room: int) -> list[list[str]]:
    """Consecutive texts grouped so that each group fits in `room` tokens."""
    groups: list[list[str]] = [[]]
    size = 0
    for text in texts:
        cost = estimate_tokens(text) + 1
        if groups[-1] and size + cost > room:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += cost
    return groups


def partial_text(index: int, partial: SummarizeArticle) -> str:
    """One part's summary and key points, as text for the combining request."""
    points = "\n".join(f"- {p}" for p in partial.key_points)
    return f"Part {index}: {partial.summary}\n{points}"


def plan_requests(mode: str, missing: set[str], first: bool) -> list[tuple[set[str], str, Any]]:
    """(tool names, request mode, tool_choice) of the requests one attempt at a rung makes.

    A first attempt asks for everything at once (per the rung); later attempts ask
    for each missing tool alone, by name where the rung allows it.
    """
    ordered = [n for n in ALL_TOOLS if n in missing]

    def named(name: str) -> dict[str, Any]:
        return {"type": "function", "function": {"name": name}}

    if mode == "tools_required" and first:
        return [(set(ordered), mode, "required")]
    if mode in ("tools_required", "tool_named"):
        return [({n}, "tool_named", named(n)) for n in ordered]
    if mode == "tools_auto":
        groups = [set(ordered)] if first else [{n} for n in ordered]
        return [(g, mode, "auto") for g in groups]
    return [(set(ordered), mode, None)]
