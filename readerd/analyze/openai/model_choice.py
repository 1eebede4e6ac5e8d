"""An LLM endpoint set without READERD_LLM_MODEL: ask it, never fall back silently.

Decision: a server that lists exactly one model (a local llama.cpp/Ollama with one
model pulled, the usual home setup) is unambiguous, so that model is used and a note
on stderr says so. Zero or several models are a guess readerd will not make: a
ConfigError (exit 2) names READERD_LLM_MODEL and lists a few ids to choose from.
The offline analyser is never a silent substitute once an endpoint is configured.
"""

from __future__ import annotations

import asyncio

from readerd.config import Settings
from readerd.errors import ConfigError

SHOWN_IDS = 5


def resolve_model(settings: Settings) -> tuple[Settings, str | None]:
    """(settings with a model, a note to show) — or ConfigError naming READERD_LLM_MODEL."""
    if not settings.use_llm or settings.llm_model:
        return settings, None
    from readerd.analyze.openai.client import ChatClient

    client = ChatClient(settings.model_copy(update={"llm_model": "?"}))

    async def ask() -> list[str] | None:
        try:
            return await client.list_models()
        finally:
            await client.aclose()

    ids = asyncio.run(ask()) or []
    if len(ids) == 1:
        note = (
            f"llm: READERD_LLM_MODEL is not set; using {ids[0]}, the only model "
            f"{client.host} serves (set READERD_LLM_MODEL to pin it)"
        )
        return settings.model_copy(update={"llm_model": ids[0]}), note
    if ids:
        shown = ", ".join(ids[:SHOWN_IDS]) + (", …" if len(ids) > SHOWN_IDS else "")
        raise ConfigError(
            f"llm: set READERD_LLM_MODEL: {client.host} serves {len(ids)} models ({shown})"
        )
    raise ConfigError(
        f"llm: set READERD_LLM_MODEL: {client.host} listed no model (GET /models), "
        "so readerd cannot tell which one to use"
    )
