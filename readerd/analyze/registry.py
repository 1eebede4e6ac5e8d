"""The analysis tools as a registry: what each asks the model for and gives the Analysis.

Prompts and the OpenAI analyser loop over TOOLS: the ask line of every tool in a
request, the system line about the existing tags for the tools that use them, how a
validated result becomes Analysis fields, and what stands in when the model never made
a valid call (a tool without a fallback is required: no valid call, no analysis). A new
tool is its pydantic model and wire bounds in tools.py plus one entry here, and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from readerd.analyze.extractive import article_language, keyword_tags
from readerd.analyze.tools import (
    ALL_TOOLS,
    MAX_SUMMARY_CHARS,
    MAX_TAGS,
    SUMMARY_TOOL,
    TAG_TOOL,
    TOOL_MODELS,
    SummarizeArticle,
    TagArticle,
)
from readerd.results import ArticleInput

#: (what is asked about, "the whole article" or "this part only"; JSON mode) -> the line
AskLine = Callable[[str, bool], str]


@dataclass(frozen=True)
class Tool:
    """One analysis tool."""

    name: str
    ask: AskLine
    fields: Callable[[Any], dict[str, Any]]  # a validated result -> Analysis fields
    #: Analysis fields without the model (article, text analysed); None: the tool is required.
    fallback: Callable[[ArticleInput, str], dict[str, Any]] | None = None
    uses_vocabulary: bool = False  # the system prompt lists the existing tags

    @property
    def model(self) -> type[BaseModel]:
        """The pydantic model its arguments are validated against."""
        return TOOL_MODELS[self.name]


def _summary_ask(what: str, json_mode: bool) -> str:
    lead = (
        "Fill summary, key_points and language with" if json_mode else f"Call {SUMMARY_TOOL} with"
    )
    return (
        f"- {lead} a summary of {what} (at most {MAX_SUMMARY_CHARS} characters, "
        "2-5 sentences), 2-6 key points (one short sentence each) and the language code."
    )


def _tag_ask(_what: str, json_mode: bool) -> str:
    lead = "Fill tags with" if json_mode else f"Call {TAG_TOOL} with"
    return f"- {lead} 1-{MAX_TAGS} short lower-case topic tags (1-3 words each)."


def _summary_fields(result: SummarizeArticle) -> dict[str, Any]:
    return {
        "summary": result.summary,
        "key_points": tuple(result.key_points),
        "language": result.language,
    }


def _tag_fields(result: TagArticle) -> dict[str, Any]:
    return {"tags": tuple(result.tags)}


def _offline_tags(article: ArticleInput, text: str) -> dict[str, Any]:
    language = article_language(article)
    tags = keyword_tags(text, language, title=article.title, vocabulary=article.vocabulary)
    return {"tags": tags}


#: Every tool, in the order requests list them.
TOOLS: dict[str, Tool] = {
    SUMMARY_TOOL: Tool(SUMMARY_TOOL, _summary_ask, _summary_fields),
    TAG_TOOL: Tool(TAG_TOOL, _tag_ask, _tag_fields, fallback=_offline_tags, uses_vocabulary=True),
}
assert tuple(TOOLS) == ALL_TOOLS, "tools.ALL_TOOLS and the registry list the same tools"


def ask_lines(names: set[str], what: str, json_mode: bool) -> list[str]:
    """One line per requested tool (or group of JSON fields), saying what to give."""
    return [tool.ask(what, json_mode) for tool in TOOLS.values() if tool.name in names]


def uses_vocabulary(names: set[str]) -> bool:
    """Whether any of these tools is told the existing tags."""
    return any(TOOLS[name].uses_vocabulary for name in names if name in TOOLS)


def analysis_fields(
    got: dict[str, BaseModel], article: ArticleInput, text: str
) -> tuple[dict[str, Any], list[str]]:
    """Analysis fields from every valid result, fallbacks for the rest; and what is missing.

    The missing names are required tools with no valid call (the analysis cannot be made).
    The tools a fallback stood in for are named in the "fallbacks" field, so the stored
    analysis says which of its parts are not the model's.
    """
    fields: dict[str, Any] = {}
    missing, stood_in = [], []
    for tool in TOOLS.values():
        result = got.get(tool.name)
        if isinstance(result, tool.model):
            fields.update(tool.fields(result))
        elif tool.fallback is not None:
            fields.update(tool.fallback(article, text))
            stood_in.append(tool.name)
        else:
            missing.append(tool.name)
    fields["fallbacks"] = tuple(stood_in)
    return fields, missing
