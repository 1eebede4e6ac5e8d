"""Article analysis: tags, summary and key points, from an LLM or the embedded analyser.

make_analyzer(settings) -> Analyzer
    OpenAIAnalyzer   any OpenAI-compatible endpoint, through function calling (openai/)
    OfflineAnalyzer  extractive summary and keyword tags, no network (the default; offline)

tools        the tools' pydantic models and wire schemas
registry     TOOLS: per tool its ask line, its Analysis fields and its offline fallback
extractive   language, best sentences, key-phrase tags: what both analysers share
sentences, keyphrases, summary, wordlists   the offline analyser's parts
breaker      the circuit breaker that stops the LLM stage when the endpoint is down

The two analysers never import each other. ChatClient, model_listed and
probe_tool_choice (openai/) load the openai client on first use, like OpenAIAnalyzer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from readerd.analyze.offline import OfflineAnalyzer, analyze_offline
from readerd.analyze.openai.profiles import PROFILES, ServerProfiles
from readerd.analyze.openai.prompts import PROMPT_VERSION
from readerd.config import Settings
from readerd.errors import ConfigError
from readerd.results import Analysis, ArticleInput

if TYPE_CHECKING:
    from readerd.analyze.openai.analyzer import OpenAIAnalyzer
    from readerd.analyze.openai.client import ChatClient, model_listed
    from readerd.analyze.openai.probe import probe_tool_choice

__all__ = [
    "PROFILES",
    "PROMPT_VERSION",
    "Analyzer",
    "ChatClient",
    "OfflineAnalyzer",
    "OpenAIAnalyzer",
    "ServerProfiles",
    "analyze_offline",
    "make_analyzer",
    "model_listed",
    "probe_tool_choice",
]

#: The names that load the openai client, by their module.
_LAZY = {
    "OpenAIAnalyzer": "readerd.analyze.openai.analyzer",
    "ChatClient": "readerd.analyze.openai.client",
    "model_listed": "readerd.analyze.openai.client",
    "probe_tool_choice": "readerd.analyze.openai.probe",
}


class Analyzer(Protocol):
    """Anything that turns an ArticleInput into an Analysis."""

    name: str  # "offline" | "openai"
    model: str
    prompt_version: str

    async def analyze(self, article: ArticleInput) -> Analysis: ...

    async def check_model(self) -> str | None:
        """Before the first analysis: why the model cannot be used, None when it can."""
        ...


def make_analyzer(settings: Settings) -> Analyzer:
    """The OpenAI analyser when settings.use_llm, else the offline one."""
    if not settings.use_llm:
        return OfflineAnalyzer()
    if not settings.llm_model:
        raise ConfigError("analyze: analyzer=openai needs a model: set READERD_LLM_MODEL")
    from readerd.analyze.openai.analyzer import OpenAIAnalyzer

    return OpenAIAnalyzer(settings)


def __getattr__(name: str) -> Any:
    """The openai-backed names on first use: the openai client takes a second to import."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
