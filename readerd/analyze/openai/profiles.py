"""What to send: the fallback ladder, what worked per server, and chunks of long texts."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from readerd.analyze.sentences import split_sentences
from readerd.analyze.tools import ALL_TOOLS, SummarizeArticle
from readerd.text.passages import estimate_tokens

# Function calling with both tools and tool_choice "required", then one request per
# tool with a named choice, then "auto", then JSON mode, then plain text.
LADDER = ("tools_required", "tool_named", "tools_auto", "json", "text")
TOOL_MODES = ("tools_required", "tool_named", "tools_auto")


REPROBE_AFTER = 24 * 3600.0  # seconds: a lower rung is re-tested from the top once a day


@dataclass
class ServerProfile:
    """What works with one (base URL, model): ladder rung, context size, token parameter.

    `probed_at` is when the top of the ladder was last tried, so a server upgraded
    to support a better rung is noticed; `fingerprint` is the model's entry in the
    server's /models list, so a model swapped under the same name is re-probed too.
    """

    mode: str = LADDER[0]
    context_tokens: int | None = None
    probed_at: float | None = None
    fingerprint: str | None = None
    token_param: str = "max_tokens"  # OpenAI's newer models want max_completion_tokens

    def start_rung(self, now: float | None = None) -> str:
        """The rung to start at: the remembered one, or the top when a re-probe is due."""
        now = time.time() if now is None else now
        if self.probed_at is None or now - self.probed_at >= REPROBE_AFTER:
            self.probed_at = now
            return LADDER[0]
        # The top rung is tried on every article anyway: leaving probed_at alone keeps
        # the profile unchanged, so it is not written to disk once per article.
        return self.mode

    def saw_model(self, fingerprint: str) -> None:
        """Record the model's /models entry; a changed one sends the ladder back to the top."""
        if self.fingerprint is not None and fingerprint != self.fingerprint:
            self.mode, self.context_tokens, self.probed_at = LADDER[0], None, None
        self.fingerprint = fingerprint


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
        str(key): _clean_profile(fields) for key, fields in data.items() if isinstance(fields, dict)
    }
    profiles.restore(clean)


def _clean_profile(fields: dict[str, Any]) -> dict[str, Any]:
    """The known fields of a saved profile, each of the right type or left out."""

    def typed(name: str, kind: type | tuple[type, ...]) -> Any:
        value = fields.get(name)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    out: dict[str, Any] = {
        "mode": fields.get("mode"),
        "context_tokens": typed("context_tokens", int),
        "probed_at": typed("probed_at", (int, float)),
        "fingerprint": typed("fingerprint", str),
    }
    if fields.get("token_param") in ("max_tokens", "max_completion_tokens"):
        out["token_param"] = fields["token_param"]
    return out


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
