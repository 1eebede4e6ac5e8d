"""The two analysis tools as pydantic models, and the JSON schemas generated from them.

What we send is not what we validate. Grammar-constrained servers compile the
`parameters` schema into a grammar, and each converter expands length bounds into
repetitions:

- llama.cpp's C++ converter (llama-server, Ollama's `format`) writes `maxLength: n`
  as `char{m,n}` and `minItems`/`maxItems` as `item{m,n}`; its GBNF parser then
  expands every `{m,n}` and refuses a grammar once rules x repetitions passes 2,000
  (MAX_REPETITION_THRESHOLD in llama-grammar.cpp): "number of rules that are going
  to be repeated multiplied by the new repetition exceeds sane defaults".
- llama-cpp-python's Python port writes `maxLength: n` as n nested optional groups,
  which the same C++ parser refuses somewhere past a few hundred; the server then
  generates unconstrained, and version 0.3.36 may crash on the request.
- `pattern` is translated to grammar by both, with its `{m,n}` counts expanded the
  same way; vLLM's guided decoding (xgrammar/outlines) and LM Studio accept all of
  these but compile large counts slowly.

So the wire schema keeps only small bounds: `maxLength` up to WIRE_MAX_LENGTH
(tags, the language code), `maxItems` up to 6, short patterns with counts <= 2.
Long text (summary, key points) goes out unbounded; `max_tokens` on every request
(TOOL_MAX_TOKENS) bounds the generation, and the pydantic models below still
validate every field strictly, clamping over-long text at a sentence boundary.

Small models fail in known ways (tags that echo the prompt or the schema, "Here is
a summary:" openings, duplicated tags). Strict validation rejects them so the model
is asked again; `salvage()` keeps the valid parts when the re-ask fails too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)
from pydantic import field_validator as _field_validator

TAG_TOOL = "tag_article"
SUMMARY_TOOL = "summarize_article"

MAX_TAGS = 5
MAX_TAG_CHARS = 40
MAX_TAG_WORDS = 4  # "1-3 words" asked; four still passes, a sentence does not
MAX_SUMMARY_CHARS = 1200
MIN_KEY_POINTS = 2
MAX_KEY_POINTS = 6
MAX_KEY_POINT_CHARS = 300
WIRE_MAX_LENGTH = 64  # larger maxLength bounds are left out of the schema we send

# Completion tokens one call needs: tags are a few words; a summary of up to
# 5 sentences and 6 key points in Spanish is about 450 tokens of JSON.
TOOL_MAX_TOKENS = {"tag_article": 120, "summarize_article": 640}

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
# Words of our own prompt and schemas: a small model that copies them into tags.
ECHO_TAGS = frozenset(
    {
        "tag", "tags", "tag article", "tag_article", "summarize_article", "summary",
        "summarize", "key points", "key_points", "topic", "topics", "topic tags",
        "article", "articles", "keyword", "keywords", "lower-case", "lower case",
        "existing tags", "string", "language", "tool", "json", "none", "n/a",
        "etiqueta", "etiquetas", "resumen", "artículo", "tema",
    }
)  # fmt: skip
# Openings that restate the task instead of summarising ("Here's a summary:").
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok|claro|por supuesto)[,.!:]?\s*)?"
    r"(?:(?:here(?:'s| is)|this is|below is|aquí (?:tienes|está|va)|este es|a continuación)"
    r"\s+(?:an?\s+|el\s+|un\s+)?(?:short\s+|brief\s+|breve\s+)?"
    r"(?:summary|resumen)\b[^:.\n]{0,60}[:.]|(?:summary|resumen)\s*:)\s*",
    re.IGNORECASE,
)
_INSTRUCTION_WORDS = re.compile(
    r"summarize_article|tag_article|key_points|ISO 639|2-5 sentences|<article>", re.IGNORECASE
)
_WORD = re.compile(r"[^\W\d_]{2,}")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")

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


def _lenient(info: ValidationInfo) -> bool:
    """Whether this validation salvages what it can instead of rejecting (see salvage())."""
    return bool(info.context and info.context.get("lenient"))


def clamp_text(text: str, limit: int) -> str:
    """Text cut to `limit` characters at the last sentence (else word) boundary inside it."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    ends = [m.start() for m in _SENTENCE_END.finditer(cut + " ")]
    if ends and ends[-1] >= limit // 2:
        return cut[: ends[-1]].rstrip()
    return cut.rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


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
    def _clamp(cls, value: Any, info: ValidationInfo) -> Any:
        if not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            return value
        clean = [normalize_tag(t) for t in value]
        echoed = [t for t in clean if t in ECHO_TAGS]
        wordy = [t for t in clean if len(t.split()) > MAX_TAG_WORDS]
        repeated = sorted({t for t in clean if t and clean.count(t) > 1})
        if not _lenient(info):
            if echoed:
                raise ValueError(
                    "tags must name the article's topics, not words of these instructions: "
                    + ", ".join(echoed)
                )
            if repeated:
                raise ValueError("each tag must appear once: repeated " + ", ".join(repeated))
            if wordy:
                raise ValueError(
                    f"a tag is a topic of 1-{MAX_TAG_WORDS - 1} words, not a phrase: "
                    + "; ".join(wordy)
                )
        return normalize_tags(t for t in clean if t not in ECHO_TAGS and t not in wordy)


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
    def _strip_summary(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        text = scrub_text(value)
        if not _lenient(info):
            if _PREAMBLE.match(text):
                raise ValueError(
                    "start the summary with its content, not with a phrase like "
                    "'Here is a summary:'"
                )
            if _INSTRUCTION_WORDS.search(text):
                raise ValueError("the summary repeats these instructions; summarise the article")
        return clamp_text(_PREAMBLE.sub("", text, count=1), MAX_SUMMARY_CHARS)

    @_field_validator("key_points", mode="before")
    @classmethod
    def _clean_points(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(p, str) for p in value):
            points = [
                clamp_text(scrub_text(_BULLET.sub("", p)), MAX_KEY_POINT_CHARS) for p in value
            ]
            # Debris such as "]}," (grammar-valid, wordless) is no point.
            return [p for p in points if _WORD.search(p)][:MAX_KEY_POINTS]
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


def _wire_bounds(node: Any) -> Any:
    """The schema without length bounds too large for grammar converters (see above)."""
    if isinstance(node, dict):
        out = {k: _wire_bounds(v) for k, v in node.items()}
        if isinstance(out.get("maxLength"), int) and out["maxLength"] > WIRE_MAX_LENGTH:
            del out["maxLength"]
        return out
    if isinstance(node, list):
        return [_wire_bounds(v) for v in node]
    return node


def wire_schema(model: type[BaseModel]) -> dict[str, Any]:
    """JSON schema of a tool's arguments as sent (a copy the caller may change)."""
    return copy.deepcopy(_wire_schema(model))


@cache
def _wire_schema(model: type[BaseModel]) -> dict[str, Any]:
    # Generating a pydantic model's JSON schema costs a millisecond or more; every
    # request of every article sends these, and they never change in a process.
    schema = _wire_bounds(_strip_titles(model.model_json_schema()))
    schema.pop("description", None)  # already the tool's description
    schema["additionalProperties"] = False
    return schema


def parameters_schema(name: str) -> dict[str, Any]:
    """JSON schema of one analysis tool's arguments as sent."""
    return wire_schema(TOOL_MODELS[name])


def max_tokens_for(names: Iterable[str]) -> int:
    """Completion tokens a request asking for these tools needs."""
    return sum(TOOL_MAX_TOKENS[n] for n in set(names))


def function_spec(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The chat-completions `tools` entry of a tool: its docstring, its wire schema."""
    description = (model.__doc__ or name).strip()
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": wire_schema(model)},
    }


def tool_spec(name: str) -> dict[str, Any]:
    """The chat-completions `tools` entry of one analysis tool."""
    return function_spec(name, TOOL_MODELS[name])


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


def salvage(name: str, arguments: dict[str, Any]) -> BaseModel | None:
    """The valid parts of rejected arguments (echoed tags dropped, preamble cut), if any."""
    try:
        return TOOL_MODELS[name].model_validate(arguments, context={"lenient": True})
    except ValidationError:
        return None


def describe_error(exc: ValidationError) -> str:
    """A short, model-readable description of a validation error."""
    parts = []
    for err in exc.errors()[:6]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        got = repr(err.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        parts.append(f"{where}: {err['msg']} (got {got})")
    return "; ".join(parts)
