"""Tolerant reading of chat-completions bodies: tool calls in every shape servers send.

A call happened iff `tool_calls` is non-empty (never judged by finish_reason);
`arguments` may be a JSON string, an object or missing; ids may be empty. When no
structured call came back, calls written as text in `content` are recovered.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from readerd.analyze.tools import ALL_TOOLS, split_combined

_WRAPPER = "multi_tool_use.parallel"
_FENCE = re.compile(r"^```[\w-]*\s*|\s*```$")
_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_FUNCTION_TAG = re.compile(r"<function=([\w.\-]+)>(.*?)(?:</function>|(?=<function=)|$)", re.DOTALL)
_PARAMETER = re.compile(
    r"<parameter=([\w.\-]+)>(.*?)(?=</parameter>|<parameter=|</function>|</tool_call>|$)", re.DOTALL
)
_NAME_THEN_JSON = re.compile(
    r"^\s*([A-Za-z_][\w.\-]*)\s*(\{.*\})\s*(?:</function>)?\s*$", re.DOTALL
)
_MISTRAL_ARGS = re.compile(r"([A-Za-z_][\w.\-]*)\[ARGS\]")
_NAME_FIELD = re.compile(r'"name"\s*:\s*"([^"]+)"')


def new_call_id() -> str:
    """A fresh 9-character alphanumeric call id (the strictest servers, Mistral, need this form)."""
    return uuid.uuid4().hex[:9]


@dataclass
class ToolCall:
    """One call as the model made it; `error` says why its arguments are unusable."""

    name: str
    arguments: dict[str, Any] | None
    id: str = field(default_factory=new_call_id)
    error: str | None = None

    def wire(self) -> dict[str, Any]:
        """The call as an assistant message carries it when the history is sent back."""
        args = json.dumps(self.arguments or {}, ensure_ascii=False)
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": args},
        }


@dataclass
class Reply:
    """What one response said: calls (structured or recovered from text) and usage."""

    calls: list[ToolCall]
    content: str = ""
    finish_reason: str = ""
    structured: bool = False
    tokens_in: int = 0
    tokens_out: int = 0


def _int(value: Any) -> int:
    """An int from a usage field that may be missing, null or a float."""
    return int(value) if isinstance(value, int | float) else 0


def content_text(content: Any) -> str:
    """Message content as one string: None, a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def parse_reply(body: Any) -> Reply:
    """Read the first choice of a chat-completions body into a Reply."""
    body = body if isinstance(body, dict) else {}
    usage = usage if isinstance(usage := body.get("usage"), dict) else {}
    choices = choices if isinstance(choices := body.get("choices"), list) else []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = message if isinstance(message := choice.get("message"), dict) else {}
    finish = str(choice.get("finish_reason") or "")
    content = content_text(message.get("content"))
    complete = finish != "length"
    calls = structured_calls(message, complete)
    structured = bool(calls)
    if not calls and content.strip():
        calls = text_calls(content, complete)
    return Reply(
        calls=calls,
        content=content,
        finish_reason=finish,
        structured=structured,
        tokens_in=_int(usage.get("prompt_tokens")),
        tokens_out=_int(usage.get("completion_tokens")),
    )


def structured_calls(message: dict[str, Any], complete: bool = True) -> list[ToolCall]:
    """Calls from `tool_calls` (any shape) or the legacy `function_call`."""
    items = message.get("tool_calls")
    if not isinstance(items, list) or not items:
        legacy = message.get("function_call")
        items = [legacy] if isinstance(legacy, dict) and legacy.get("name") else []
    calls: list[ToolCall] = []
    for item in items:
        if isinstance(item, dict):
            calls += calls_from_object(item, complete, call_id=str(item.get("id") or ""))
    return calls


def calls_from_object(obj: dict[str, Any], complete: bool, call_id: str = "") -> list[ToolCall]:
    """Calls described by one object: OpenAI, legacy, Llama or wrapper shapes."""
    inner = inner if isinstance(inner := obj.get("function"), dict) else obj
    name = inner.get("name") or obj.get("name") or obj.get("recipient_name") or ""
    if not isinstance(name, str) or not name:
        return []
    name = name.removeprefix("functions.")
    raw = _first_present(inner, "arguments", "parameters", "args")
    arguments, error = load_arguments(raw, complete)
    if name == _WRAPPER:
        return unpack_wrapper(arguments or {}, complete)
    return [ToolCall(name=name, arguments=arguments, id=call_id or new_call_id(), error=error)]


def _first_present(obj: dict[str, Any], *keys: str) -> Any:
    """The value of the first key present in obj, else None."""
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def unpack_wrapper(arguments: dict[str, Any], complete: bool) -> list[ToolCall]:
    """The real calls inside a hallucinated `multi_tool_use.parallel` wrapper."""
    uses = arguments.get("tool_uses")
    calls: list[ToolCall] = []
    for use in uses if isinstance(uses, list) else []:
        if isinstance(use, dict) and use.get("recipient_name") != _WRAPPER:
            calls += calls_from_object(use, complete)
    return calls


def load_arguments(raw: Any, complete: bool) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments as a dict from a JSON string, an object or nothing; else an error."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    if isinstance(raw, dict):
        return raw, None
    if not isinstance(raw, str):
        return None, f"arguments must be a JSON object, got {type(raw).__name__}"
    value, error = load_json(raw, complete)
    if error:
        return None, error
    if not isinstance(value, dict):
        return None, "arguments must be a JSON object"
    return value, None


def load_json(text: str, complete: bool) -> tuple[Any, str | None]:
    """The first JSON value in text; a complete answer missing closing brackets is mended."""
    text = _FENCE.sub("", text.strip())
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None, "no JSON found"
    # strict=False: grammar-constrained servers (llama.cpp) let raw newlines into strings.
    decoder = json.JSONDecoder(strict=False)
    try:
        return decoder.raw_decode(text, start)[0], None
    except json.JSONDecodeError:
        pass
    closers = _missing_closers(text[start:])
    if not complete or closers is None:
        return None, "arguments are not valid JSON (cut off?)"
    try:
        return decoder.raw_decode(text[start:] + closers)[0], None
    except json.JSONDecodeError:
        return None, "arguments are not valid JSON"


def _missing_closers(text: str) -> str | None:
    """Brackets that would close text, or None when it ends inside a string."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped = not escaped and ch == "\\"
            in_string = escaped or ch != '"'
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    return None if in_string or not stack else "".join(reversed(stack))


def text_calls(content: str, complete: bool = True) -> list[ToolCall]:
    """Calls written as text: <tool_call>, [TOOL_CALLS], <function=…>, bare JSON, or fields."""
    if "<tool_call>" in content:
        calls: list[ToolCall] = []
        for block in _TOOL_CALL_BLOCK.findall(content):
            calls += _calls_in_fragment(block, complete)
        return calls
    if "[TOOL_CALLS]" in content:
        return _mistral_calls(content.split("[TOOL_CALLS]", 1)[1], complete)
    return _calls_in_fragment(content, complete)


def _calls_in_fragment(text: str, complete: bool) -> list[ToolCall]:
    """Calls in one fragment: Qwen/Llama XML, `name{json}`, a JSON call or fields object."""
    if "<function=" in text:
        return [_xml_call(name, body, complete) for name, body in _FUNCTION_TAG.findall(text)]
    if match := _NAME_THEN_JSON.match(text):
        args, error = load_arguments(match.group(2), complete)
        return [ToolCall(name=match.group(1), arguments=args, error=error)]
    value, error = load_json(text, complete)
    if error:
        name = _NAME_FIELD.search(text)
        return [ToolCall(name=name.group(1), arguments=None, error=error)] if name else []
    return _calls_in_value(value, complete)


def _calls_in_value(value: Any, complete: bool) -> list[ToolCall]:
    """Calls in a parsed JSON value: a call, a list of calls, or an object of tool fields."""
    if isinstance(value, list):
        return [
            c for item in value if isinstance(item, dict) for c in _calls_in_value(item, complete)
        ]
    if not isinstance(value, dict):
        return []
    if "name" in value or isinstance(value.get("function"), dict):
        return calls_from_object(value, complete)
    return [ToolCall(name=n, arguments=a) for n, a in split_combined(value, ALL_TOOLS)]


def _xml_call(name: str, body: str, complete: bool) -> ToolCall:
    """A call from `<function=name>` followed by JSON or `<parameter=x>value` pairs."""
    if body.strip().startswith("{"):
        loaded, error = load_arguments(body, complete)
        return ToolCall(name=name, arguments=loaded, error=error)
    args: dict[str, Any] = {}
    for key, raw in _PARAMETER.findall(body):
        value, error = load_json(raw, True) if raw.strip()[:1] in "[{" else (None, "text")
        args[key] = value if error is None else _scalar(raw.strip())
    return ToolCall(name=name, arguments=args)


def _scalar(text: str) -> Any:
    """A parameter value: a JSON number/bool/null when it is one, else the text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, int | float | bool) or value is None else text


def _mistral_calls(rest: str, complete: bool) -> list[ToolCall]:
    """Calls after [TOOL_CALLS]: a JSON list, or `name[ARGS]{json}` pieces."""
    calls: list[ToolCall] = []
    for piece in rest.split("[TOOL_CALLS]"):
        if match := _MISTRAL_ARGS.match(piece.strip()):
            args, error = load_arguments(piece.strip()[match.end() :], complete)
            calls.append(ToolCall(name=match.group(1), arguments=args, error=error))
        else:
            calls += _calls_in_fragment(piece, complete)
    return calls
