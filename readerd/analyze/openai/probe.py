"""Which tool-choice mode an endpoint honours, found with one tiny request per rung.

`readerd doctor` uses it to say what the analysis will do. Servers differ: OpenAI
and vLLM honour "required"; llama-cpp-python answers "required" and "auto" with
plain text and gives tool calls only for a named choice; some answer 400/500.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from readerd.analyze.openai.client import ChatClient, LLMProblemError
from readerd.analyze.openai.profiles import LADDER
from readerd.analyze.openai.prompts import json_messages, tool_messages
from readerd.analyze.openai.reply import ToolCall, parse_reply
from readerd.analyze.tools import TAG_TOOL, max_tokens_for, salvage, tool_specs
from readerd.errors import ReaderdError
from readerd.results import ArticleInput, LLMCall

PROBE_ARTICLE = ArticleInput(
    url="https://example.org/solar",
    title="Rooftop solar",
    text="Rooftop solar panels doubled in two years, and home batteries now store the surplus.",
    language="en",
)
STRUCTURED = ("tools_required", "tool_named", "tools_auto")  # the rungs with real tool calls
LABELS = {
    "tools_required": "required",
    "tool_named": "named",
    "tools_auto": "auto",
    "json": "JSON mode",
    "text": "plain text",
}


@dataclass
class ProbeResult:
    """The best mode that gave a valid tag_article result, and what the others did."""

    mode: str | None
    notes: list[str] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)

    def summary(self) -> str:
        """'named (required: answered text; ...)' for one doctor line."""
        best = LABELS[self.mode] if self.mode else "none worked"
        return f"{best} ({'; '.join(self.notes)})" if self.notes else best


def _payload(client: ChatClient, mode: str) -> dict[str, object]:
    names = [TAG_TOOL]
    build = json_messages if mode in ("json", "text") else tool_messages
    payload: dict[str, object] = {
        "model": client.model,
        "messages": build(PROBE_ARTICLE, PROBE_ARTICLE.text, names),
        "max_tokens": max_tokens_for(names),
    }
    if mode == "json":
        payload["response_format"] = {"type": "json_object"}
    elif mode != "text":
        payload["tools"] = tool_specs(names)
        named = {"type": "function", "function": {"name": TAG_TOOL}}
        payload["tool_choice"] = {"tools_required": "required", "tools_auto": "auto"}.get(
            mode, named
        )
    return payload


async def probe_tool_choice(client: ChatClient) -> ProbeResult:
    """Try the ladder from the top; stop at the first rung whose answer is a usable call."""
    result = ProbeResult(mode=None)
    for mode in LADDER:
        try:
            exchange = await client.send(_payload(client, mode), mode, result.calls)
        except LLMProblemError as exc:
            result.notes.append(f"{LABELS[mode]}: HTTP {exc.problem.status}")
            continue
        except ReaderdError as exc:
            result.notes.append(f"{LABELS[mode]}: {str(exc).removeprefix('llm: ')[:80]}")
            break
        reply = parse_reply(exchange.body)
        calls = [c for c in reply.calls if c.name == TAG_TOOL and c.arguments]
        if mode in STRUCTURED and not reply.structured:
            calls = []  # a call written as text is a lower rung's success, not this one's
        if mode in STRUCTURED and calls:
            # The server honours the mode. Whether a sampled reply's tags are good is the
            # model's business: the analysis re-asks with the validation error.
            result.mode = mode
            if not any(salvage(c.name, c.arguments or {}) for c in calls):
                result.notes.append(f"{LABELS[mode]}: the call's tags failed validation once")
            return result
        if any(salvage(c.name, c.arguments or {}) for c in calls):
            result.mode = mode
            return result
        result.notes.append(f"{LABELS[mode]}: {_answer(reply.content, calls)}")
    return result


def _answer(content: str | None, calls: list[ToolCall]) -> str:
    if calls:
        return "answered a call whose tags failed validation"
    return f"answered {'text' if content else 'nothing'}"
