"""Logging to stderr, one line per event, with every secret redacted from the final text.

The redaction runs on the fully formatted record (message, arguments, traceback),
so no code path can log a token by accident: configured secret values, URL
credentials, Authorization headers and key=value pairs named like secrets.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable

FORMAT = "%(levelname)s %(name)s: %(message)s"
TTY_FORMAT = "%(asctime)s " + FORMAT  # journald adds the time itself
MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would blank out ordinary words
NOISY = (
    "httpx",
    "httpcore",
    "openai",
    "trafilatura",
    "htmldate",
    "courlan",
    "apscheduler",
    "alembic",
)
_SECRET_ENV = re.compile(r"^(READERD|OPENAI)_\w*(KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
_SECRET_NAMES = (
    r"api[_-]?key|access[_-]?token|refresh[_-]?token|consumer[_-]?key|client[_-]?secret"
    r"|password|passwd|secret|token"
)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@'\"<>]+@")  # scheme://user:pass@ or token@
_AUTH_HEADER = re.compile(
    r"""(?i)(\bauthorization['"]?\s*[:=]\s*['"]?)((?:bearer|basic|digest|token)\s+)?[^\s'",;}]+"""
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{4,}")
_KEY_VALUE = re.compile(  # api_key=…, "access_token": "…", X-Api-Key: …, llm_token=…
    rf"""(?i)(?<![a-z0-9])({_SECRET_NAMES})(['"]?\s*[:=]\s*['"]?)(?!\*\*\*)[^\s'"&,;}}]+"""
)


def _redact_patterns(text: str) -> str:
    text = _URL_CREDENTIALS.sub(MASK + "@", text)
    text = _AUTH_HEADER.sub(lambda m: m[1] + (m[2] or "") + MASK, text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    return _KEY_VALUE.sub(rf"\1\2{MASK}", text)


class Redactor:
    """Replaces known secret values and secret-looking patterns in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._literal: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also redact these values from now on."""
        new = {s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_CHARS}
        if not new - self._secrets:
            return
        self._secrets |= new
        ordered = sorted(self._secrets, key=len, reverse=True)  # longest first: no partial leaks
        self._literal = re.compile("|".join(re.escape(s) for s in ordered))

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced by ***."""
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        return _redact_patterns(text)


class RedactingFormatter(logging.Formatter):
    """A Formatter whose final output (traceback included) goes through a Redactor."""

    def __init__(self, fmt: str, redactor: Redactor) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then redact; a failure to redact drops the message, not the line."""
        text = super().format(record)
        try:
            return self.redactor(text)
        except Exception:  # never let redaction crash logging, never leak on error
            return f"{record.levelname} {record.name}: <message withheld: redaction failed>"


REDACTOR = Redactor()


def secrets_from_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Values of READERD_*/OPENAI_* variables named like secrets (…_KEY, …_TOKEN, …_PASSWORD)."""
    env = os.environ if environ is None else environ
    return [value for name, value in env.items() if _SECRET_ENV.search(name) and value]


def redact(text: str) -> str:
    """Redact `text` with the process-wide redactor (for output that is not a log line)."""
    return REDACTOR(text)


def add_secrets(secrets: Iterable[str]) -> None:
    """Redact these values from every log line from now on."""
    REDACTOR.add(secrets)


def setup_logging(level: str = "WARNING", secrets: Iterable[str] = ()) -> None:
    """One stderr handler on the root logger with a redacting formatter; replaces others.

    `secrets` are the settings' (the settings are built once, by the caller, and their
    secrets also join the redactor when cli.context loads them).
    """
    REDACTOR.add(secrets_from_environment())
    REDACTOR.add(secrets)
    numeric = logging.getLevelName(level.strip().upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    fmt = TTY_FORMAT if sys.stderr.isatty() else FORMAT
    handler.setFormatter(RedactingFormatter(fmt, REDACTOR))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    for name in NOISY:  # their INFO/DEBUG chatter drowns ours; DEBUG shows ours only
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
