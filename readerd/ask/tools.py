"""The tools of `readerd ask`, from pydantic models: the schema sent and the validation done."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator

from readerd.analyze.tools import function_spec

SEARCH_TOOL = "search_library"
ARTICLE_TOOL = "get_article"
ANSWER_TOOL = "answer"
MAX_HITS = 10


class SearchLibrary(BaseModel):
    """Search the user's saved articles by words (any language). Returns, per hit: id, title, date, tags and a snippet."""  # noqa: E501

    query: str = Field(min_length=1, max_length=200, description="a few words to look for")
    limit: int = Field(default=5, ge=1, le=MAX_HITS)
    tag: str | None = Field(default=None, max_length=60, description="only articles with it")
    since: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="only saved on or after"
    )

    @field_validator("since")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)
        return value


class GetArticle(BaseModel):
    """Read one article the search returned: title, URL, summary and its passages most relevant to `query`."""  # noqa: E501

    id: int = Field(ge=1)
    query: str | None = Field(default=None, max_length=200, description="what to look for in it")


class Citation(BaseModel):
    id: int = Field(ge=1, description="the article's id, as a tool returned it")
    quote: str = Field(
        min_length=1, max_length=300, description="words copied exactly from that article"
    )


class Answer(BaseModel):
    """Finish: the answer to the question, in the question's language, and the quotes it rests on."""  # noqa: E501

    text: str = Field(min_length=1, max_length=3000)
    citations: list[Citation] = Field(default_factory=list, max_length=5)


TOOLS: dict[str, type[BaseModel]] = {
    SEARCH_TOOL: SearchLibrary,
    ARTICLE_TOOL: GetArticle,
    ANSWER_TOOL: Answer,
}
#: Completion tokens a reply may take: a search or a read is one short call, an answer more.
MAX_TOKENS = 900


def specs(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The `tools` list offering these tools."""
    return [function_spec(name, TOOLS[name]) for name in names]
