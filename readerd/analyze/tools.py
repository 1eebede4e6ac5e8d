"""The two analysis tools as pydantic models, and the JSON schemas generated from them.

Every field is bounded (maxItems, maxLength, pattern): grammar-constrained servers
(llama.cpp) follow a schema literally, and an unbounded string runs to max_tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic import field_validator as _field_validator

TAG_TOOL = "tag_article"
SUMMARY_TOOL = "summarize_article"

MAX_TAGS = 5
MAX_TAG_CHARS = 40
MAX_SUMMARY_CHARS = 1200
MIN_KEY_POINTS = 2
MAX_KEY_POINTS = 6
MAX_KEY_POINT_CHARS = 300

_SPACES = re.compile(r"\s+")
# Links in a digest come only from the link row: a URL the model wrote (perhaps because
# the article told it to) is removed, as are control characters (terminal escapes).
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://\S*|\bwww\.\S*|\b(?:[a-z0-9-]+\.)+[a-z]{2,}/\S*")
_CONTROL = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
_RUNS = re.compile(r"[ \t]{2,}")
_TAG_EDGES = "#\"'`“”‘’«».,;:!?()[]{}<>*-_ "
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")

TagText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG_CHARS)]
KeyPoint = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_POINT_CHARS)]


def scrub_text(text: str) -> str:
    """Model-written text without URLs or control characters."""
    text = _URL.sub("", _CONTROL.sub("", text))
    return _RUNS.sub(" ", text).replace(" .", ".").strip()


def normalize_tag(tag: str) -> str:
    """Lower-case, collapse whitespace, strip '#', quotes and edge punctuation."""
    return _SPACES.sub(" ", tag).strip(_TAG_EDGES).lower()


def normalize_tags(tags: Iterable[str], limit: int = MAX_TAGS) -> list[str]:
    """Normalised tags without empties, over-long ones, URLs or duplicates, cut to `limit`."""
    out: list[str] = []
    for tag in tags:
        clean = normalize_tag(tag)
        if _URL.search(clean) or _CONTROL.search(clean):
            continue
        if clean and len(clean) <= MAX_TAG_CHARS and clean not in out:
            out.append(clean)
    return out[:limit]


class TagArticle(BaseModel):
    """Tag the article with a few short topic tags, reusing existing tags when they fit."""

    model_config = ConfigDict(extra="ignore")

    tags: list[TagText] = Field(
        min_length=1,
        max_length=MAX_TAGS,
        description="1-5 short lower-case topic tags (1-3 words each); prefer existing tags.",
    )

    @_field_validator("tags", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(t, str) for t in value):
            return normalize_tags(value)
        return value


class SummarizeArticle(BaseModel):
    """Summarise the article: a short summary, its key points and the summary's language."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(
        min_length=1,
        max_length=MAX_SUMMARY_CHARS,
        description="A faithful summary of the article in 2-5 sentences.",
    )
    key_points: list[KeyPoint] = Field(
        min_length=MIN_KEY_POINTS,
        max_length=MAX_KEY_POINTS,
        description="2-6 key points, one short sentence each.",
    )
    language: str = Field(
        min_length=2,
        max_length=2,
        pattern=r"^[a-z]{2}$",
        description="ISO 639-1 code of the language the summary is written in, e.g. 'en', 'es'.",
    )

    @_field_validator("summary", mode="before")
    @classmethod
    def _strip_summary(cls, value: Any) -> Any:
        return scrub_text(value) if isinstance(value, str) else value

    @_field_validator("key_points", mode="before")
    @classmethod
    def _clean_points(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(p, str) for p in value):
            points = [scrub_text(_BULLET.sub("", p)) for p in value]
            return [p for p in points if p][:MAX_KEY_POINTS]
        return value

    @_field_validator("language", mode="before")
    @classmethod
    def _lower_language(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


TOOL_MODELS: dict[str, type[BaseModel]] = {TAG_TOOL: TagArticle, SUMMARY_TOOL: SummarizeArticle}
ALL_TOOLS: tuple[str, ...] = (SUMMARY_TOOL, TAG_TOOL)


def _strip_titles(node: Any) -> Any:
    """The schema without pydantic's 'title' keys (noise for the model)."""
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def parameters_schema(name: str) -> dict[str, Any]:
    """JSON schema of one tool's arguments, generated from its pydantic model."""
    schema = _strip_titles(TOOL_MODELS[name].model_json_schema())
    schema.pop("description", None)  # already the tool's description
    schema["additionalProperties"] = False
    return schema


def tool_spec(name: str) -> dict[str, Any]:
    """The chat-completions `tools` entry of one tool."""
    model = TOOL_MODELS[name]
    description = (model.__doc__ or name).strip()
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": parameters_schema(name),
        },
    }


def tool_specs(names: Iterable[str]) -> list[dict[str, Any]]:
    """The `tools` list for the given tool names, in a stable order."""
    wanted = set(names)
    return [tool_spec(n) for n in ALL_TOOLS if n in wanted]


def combined_schema(names: Iterable[str]) -> dict[str, Any]:
    """One object schema with the fields of every named tool (JSON mode and text mode)."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for name in (n for n in ALL_TOOLS if n in set(names)):
        schema = parameters_schema(name)
        props.update(schema["properties"])
        required += schema.get("required", [])
    return {"type": "object", "properties": props, "required": required}


def split_combined(obj: dict[str, Any], names: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, arguments) for each named tool whose fields appear in a combined object."""
    out = []
    for name in (n for n in ALL_TOOLS if n in set(names)):
        fields = TOOL_MODELS[name].model_fields
        args = {k: v for k, v in obj.items() if k in fields}
        if args:
            out.append((name, args))
    return out


def validate_arguments(name: str, arguments: dict[str, Any]) -> BaseModel:
    """The validated arguments of a call to one of our tools; raises ValidationError."""
    return TOOL_MODELS[name].model_validate(arguments)


def describe_error(exc: ValidationError) -> str:
    """A short, model-readable description of a validation error."""
    parts = []
    for err in exc.errors()[:6]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        got = repr(err.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        parts.append(f"{where}: {err['msg']} (got {got})")
    return "; ".join(parts)
