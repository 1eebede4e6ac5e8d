"""Article analysis: tags, summary and key points, from an LLM or the embedded analyser.

make_analyzer(settings) -> Analyzer
    OpenAIAnalyzer   any OpenAI-compatible endpoint, through function calling
    OfflineAnalyzer  extractive summary and keyword tags, no network (the default)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from readerd.analyze.llm_plan import PROFILES, ServerProfiles
from readerd.analyze.offline import OfflineAnalyzer, analyze_offline
from readerd.analyze.prompts import PROMPT_VERSION
from readerd.config import Settings
from readerd.errors import ConfigError
from readerd.results import Analysis, ArticleInput

if TYPE_CHECKING:
    from readerd.analyze.llm import OpenAIAnalyzer

__all__ = [
    "PROFILES",
    "PROMPT_VERSION",
    "Analyzer",
    "OfflineAnalyzer",
    "OpenAIAnalyzer",
    "ServerProfiles",
    "analyze_offline",
    "make_analyzer",
]


class Analyzer(Protocol):
    """Anything that turns an ArticleInput into an Analysis."""

    name: str  # "offline" | "openai"
    model: str
    prompt_version: str

    async def analyze(self, article: ArticleInput) -> Analysis: ...


def make_analyzer(settings: Settings) -> Analyzer:
    """The OpenAI analyser when settings.use_llm, else the offline one."""
    if not settings.use_llm:
        return OfflineAnalyzer()
    if not settings.llm_model:
        raise ConfigError("analyze: analyzer=openai needs a model: set READERD_LLM_MODEL")
    from readerd.analyze.llm import OpenAIAnalyzer

    return OpenAIAnalyzer(settings)


def __getattr__(name: str) -> Any:
    """OpenAIAnalyzer on first use: the openai client takes about a second to import."""
    if name == "OpenAIAnalyzer":
        from readerd.analyze.llm import OpenAIAnalyzer

        return OpenAIAnalyzer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
