"""Log lines: one per event, levels, and no secret anywhere (tracebacks included)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from readerd import logs
from readerd.logs import MASK, RedactingFormatter, Redactor, secrets_from_environment

SECRET = "tok-9f8e7d6c5b4a"


def redact(text: str, *secrets: str) -> str:
    return Redactor(secrets)(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"token {SECRET} expired", "token *** expired"),
        ("GET https://bob:hunter2@example.org/feed", "GET https://***@example.org/feed"),
        ("clone https://ghp_abc123@github.com/x", "clone https://***@github.com/x"),
        ("Authorization: Bearer sk-live.abc_DEF", "Authorization: Bearer ***"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "{'authorization': 'Basic ***'}"),
        ("headers={'Authorization': 'rawtoken'}", "headers={'Authorization': '***'}"),
        ("GET /v1/x?api_key=K3Y&page=2", "GET /v1/x?api_key=***&page=2"),
        (
            '{"access_token": "abc", "consumer_key": "def"}',
            '{"access_token": "***", "consumer_key": "***"}',
        ),
        ("password=pw1 X-Api-Key: k2 llm_token=z", "password=*** X-Api-Key: *** llm_token=***"),
    ],
)
def test_secret_patterns_are_redacted(raw: str, expected: str) -> None:
    assert redact(raw, SECRET) == expected


@pytest.mark.parametrize(
    "text",
    [
        "tokens_in=512 tokens_out=64",
        "the token expired",
        "https://medium.com/@author/post",
        "sync: folder: 3 new, 0 updated",
        "max_tokens: 7",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text, SECRET) == text


def test_longest_secret_wins_and_short_values_are_ignored() -> None:
    redactor = Redactor(["abcd", "abcdefgh", "ab"])
    assert redactor("x abcdefgh y abcd z ab") == f"x {MASK} y {MASK} z ab"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose only handler writes through a RedactingFormatter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(logs.FORMAT, Redactor([SECRET])))
    logger = logging.getLogger("readerd.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_tracebacks_are_redacted_too(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"pocket: refused access_token={SECRET} at https://u:p@h/x")
    except RuntimeError:
        logger.exception("sync failed for %s", SECRET)
    text = stream.getvalue()
    assert SECRET not in text and "u:p@" not in text
    assert text.startswith("ERROR readerd.test_logs: sync failed for ***\nTraceback")
    assert "RuntimeError: pocket: refused access_token=***" in text


def test_one_line_per_event_with_level_and_name(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("sync: %s: %d new", "folder", 3)
    logger.warning("link %s: %s", 7, "fetch: status=404")
    assert stream.getvalue().splitlines() == [
        "INFO readerd.test_logs: sync: folder: 3 new",
        "WARNING readerd.test_logs: link 7: fetch: status=404",
    ]


def test_secrets_come_from_readerd_environment_variables() -> None:
    env = {
        "READERD_POCKET_ACCESS_TOKEN": "a1",
        "OPENAI_API_KEY": "k2",
        "READERD_SMTP_PASSWORD": "p3",
        "READERD_SOURCE": "pocket",
        "GPG_KEY": "not-ours",
    }
    assert sorted(secrets_from_environment(env)) == ["a1", "k2", "p3"]


def test_setup_logging_installs_one_redacting_root_handler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("READERD_LLM_API_KEY", "sk-env-secret-77")
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        logs.setup_logging("DEBUG", secrets=["configured-secret-88"])
        logs.setup_logging("INFO", secrets=[])  # again: still one handler
        assert len(root.handlers) == 1 and root.level == logging.INFO
        logging.getLogger("readerd.x").info("key sk-env-secret-77 and configured-secret-88")
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    err = capsys.readouterr().err
    assert "INFO readerd.x: key *** and ***" in err
