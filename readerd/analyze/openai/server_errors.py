"""What a failed chat-completions response means: auth, model, rate, context, unsupported…

Servers say the same thing in many ways (OpenAI's error codes, llama.cpp's and
vLLM's messages, OpenRouter's metadata, Groq's failed_generation); this reads the
status, headers and body into one `Problem` the client acts on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from readerd.text.times import retry_after_seconds

_CONTEXT = re.compile(
    r"context (length|size|window)|maximum context|too many tokens|prompt is too long"
    r"|reduce the length|exceeds? the (available )?context",
    re.IGNORECASE,
)
_REQUEST_INVALID = re.compile(r"\d+ validation errors?:|\(\s*'body'", re.IGNORECASE)
_MODEL_MISSING = re.compile(
    r"model\W.{0,80}?(does not exist|not found|is not available)|no such model"
    r"|unknown model|invalid model|model_not_found",
    re.IGNORECASE,
)
_UNSUPPORTED = re.compile(
    r"tool_choice|tool choice|tools param|param: tools|--jinja|tool.?call.?parser"
    r"|auto.?tool|(does not|doesn't|not) support\w* (tools|tool|function)|response_format"
    r"|json_object|json_schema|unsupported param",
    re.IGNORECASE,
)
_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+)|n_ctx\D{0,5}(\d+)", re.IGNORECASE)
_TPM = re.compile(r"Limit:? (\d+).{0,40}?Requested:? ~?(\d+)", re.IGNORECASE | re.DOTALL)
_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)(ms|s)\b", re.IGNORECASE)


@dataclass
class Problem:
    """A failed response, classified: what kind, what the server said, what to do."""

    kind: str  # auth | model | rate | context | unsupported | tool_use_failed | server | rejected
    status: int
    message: str
    retry_after: float | None = None
    limit_tokens: int | None = None
    failed_generation: str | None = None


def error_fields(text: str) -> tuple[str, str, str, dict[str, Any]]:
    """(message, code, type, error object) from an error body, flat or wrapped in 'error'."""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300], "", "", {}
    err = body.get("error", body) if isinstance(body, dict) else body
    if not isinstance(err, dict):
        return str(err)[:300], "", "", {}
    message = str(err.get("message") or err.get("detail") or "")
    raw = (err.get("metadata") or {}).get("raw") if isinstance(err.get("metadata"), dict) else None
    if raw:
        message = f"{message}: {raw}"
    return message, str(err.get("code") or ""), str(err.get("type") or ""), err


def retry_after(headers: dict[str, str], message: str) -> float | None:
    """Seconds to wait, from retry-after-ms / retry-after headers or the error message."""
    if value := headers.get("retry-after-ms"):
        try:
            return float(value) / 1000
        except ValueError:
            pass
    if value := headers.get("retry-after"):
        return retry_after_seconds(value)
    if match := _TRY_AGAIN.search(message):
        number = float(match.group(1))
        return number / 1000 if match.group(2).lower() == "ms" else number
    return None


def classify_error(status: int, headers: dict[str, str], text: str) -> Problem:
    """What a non-2xx response means for readerd."""
    message, code, etype, err = error_fields(text)

    def problem(kind: str, **extra: Any) -> Problem:
        return Problem(kind=kind, status=status, message=message or f"status {status}", **extra)

    if status in (401, 403):
        return problem("auth")
    if (
        code == "context_length_exceeded"
        or etype == "exceed_context_size_error"
        or (_CONTEXT.search(message))
    ):
        return problem("context", limit_tokens=_context_limit(message, err))
    if status == 429 or code in ("rate_limit_exceeded", "429"):
        tpm = _TPM.search(message)
        if tpm and int(tpm.group(2)) > int(tpm.group(1)):
            return problem("context", limit_tokens=int(tpm.group(1)))
        return problem("rate", retry_after=retry_after(headers, message))
    if code == "tool_use_failed":
        return problem("tool_use_failed", failed_generation=str(err.get("failed_generation") or ""))
    if status == 404 or (status == 400 and _MODEL_MISSING.search(f"{message} {code}")):
        return problem("model")
    if status in (400, 405, 422, 500, 501) and _UNSUPPORTED.search(message):
        return problem("unsupported")
    if status == 500 and _REQUEST_INVALID.search(message):
        return problem("rejected")  # llama-cpp-python answers a request it cannot read with 500
    return problem("server" if status >= 500 else "rejected")


def _context_limit(message: str, err: dict[str, Any]) -> int | None:
    """The server's context size when the error tells it."""
    if isinstance(err.get("n_ctx"), int):
        return int(err["n_ctx"])
    match = _CONTEXT_LIMIT.search(message)
    return int(match.group(1) or match.group(2)) if match else None
