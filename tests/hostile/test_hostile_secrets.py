"""Secrets never leave readerd: DEBUG logs through API, LLM and SMTP failures, servers that echo.

Each hostile server repeats the credential it was sent in its error message, as real
ones sometimes do ("Incorrect API key provided: sk-…"). Afterwards every byte readerd
wrote or printed is searched for the configured secrets, and every file it created
is checked for world access.
"""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from tests.conftest import ReaderdCLI
from tests.hostile.helpers import pocket, rows
from tests.servers.openai_compat import MODEL, AnalysisResponder, OpenAICompatServer, Reply
from tests.servers.smtp import (  # noqa: F401  (smtp_certificates is a fixture)
    Certificates,
    RecordingHandler,
    _EphemeralController,
    _server_context,
    smtp_certificates,
)
from tests.servers.web import WebServer

SECRETS = {
    "READERD_POCKET_CONSUMER_KEY": "ck-5ecret-consumer-8f2b1d",
    "READERD_POCKET_ACCESS_TOKEN": "at-5ecret-token-71c9e4",
    "READERD_LLM_API_KEY": "sk-5ecret-llm-key-3a6d0f",
    "READERD_SMTP_PASSWORD": "pw-5ecret-mail-9e4c2a",
}
SMTP_USER = "reader"


class EchoingHandler(RecordingHandler):
    """An SMTP server that refuses every login and quotes the password back."""

    def authenticate(self, *args: Any) -> AuthResult:
        auth_data = args[-1]
        password = getattr(auth_data, "password", b"").decode("utf-8", "replace")
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 bad login {SMTP_USER}:{password}"
        )


@pytest.fixture
def echoing_smtp(smtp_certificates: Certificates) -> Iterator[int]:  # noqa: F811
    """A STARTTLS server on 127.0.0.1 that echoes passwords; yields its port."""
    handler = EchoingHandler()
    controller = _EphemeralController(
        handler,
        hostname="127.0.0.1",
        port=0,
        authenticator=handler.authenticate,
        auth_require_tls=True,
        tls_context=_server_context(smtp_certificates.server),
        require_starttls=True,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def _echo_key(request: dict[str, Any]) -> Reply:
    """A 400 whose message quotes the API key, as some gateways do."""
    key = SECRETS["READERD_LLM_API_KEY"]
    body = {"error": {"message": f"gateway refused Authorization: Bearer {key} (key={key})"}}
    return Reply(body=body, status=400)


def test_no_secret_in_output_logs_database_digest_or_files(
    readerd_cli: ReaderdCLI,
    web_server: WebServer,
    llm_server: OpenAICompatServer,
    echoing_smtp: int,
    smtp_certificates: Certificates,  # noqa: F811
    tmp_path: Path,
) -> None:
    outputs: list[str] = []

    def run(*args: str, **env: str) -> None:
        result = readerd_cli(*args, check=False, **env)
        outputs.extend([result.stdout, result.stderr])

    with pocket() as source:
        source.consumer_key = SECRETS["READERD_POCKET_CONSUMER_KEY"]
        source.access_token = SECRETS["READERD_POCKET_ACCESS_TOKEN"]
        for name in ("article.html", "gzip"):
            source.add_item(web_server.url(f"/{name}"), name)
        answer = source.answer

        def echo_credentials_once(body: Any) -> Any:
            source.answer = answer  # type: ignore[method-assign]
            token = body.get("access_token") if isinstance(body, dict) else ""
            return 401, {"X-Error": f"Invalid access token {token}", "X-Error-Code": "107"}, None

        source.answer = echo_credentials_once  # type: ignore[method-assign]
        llm_server.script(_echo_key)  # the first analysis is refused, the key quoted back
        llm_server.respond_with(AnalysisResponder())
        state = tmp_path / "state"  # readerd creates its data dir itself
        readerd_cli.env.update(
            SECRETS,
            READERD_DATA_DIR=str(state),
            READERD_SOURCE="pocket",
            READERD_POCKET_URL=source.url,
            READERD_FETCH_ALLOW="127.0.0.1",
            READERD_ANALYZER="openai",
            READERD_LLM_BASE_URL=llm_server.base_url,
            READERD_LLM_MODEL=MODEL,
            READERD_LLM_CONCURRENCY="1",
            READERD_SMTP_HOST="127.0.0.1",
            READERD_SMTP_PORT=str(echoing_smtp),
            READERD_SMTP_SECURITY="starttls",
            READERD_SMTP_CA_FILE=str(smtp_certificates.ca),
            READERD_SMTP_USER=SMTP_USER,
            READERD_DIGEST_FROM="readerd@example.org",
            READERD_DIGEST_TO="reader@example.org",
            READERD_FEED_PATH=str(state / "feed.xml"),
            READERD_LOG_LEVEL="DEBUG",
        )
        run("sync")  # 401, the token quoted back
        run("run", "--once")  # the first analysis: 500s quoting the key
        run("digest", "--send")  # login refused, the password quoted back
        run("doctor")
        for command in (["status"], ["show", "1", "--json"], ["digest", "--list", "--json"],
                        ["digest", "--preview", "--out", str(tmp_path / "preview")]):  # fmt: skip
            run(*command)

    text = "\n".join(outputs)
    assert "unauthorized" in text.lower() or "401" in text  # the failures did happen
    assert "535" in text and "llm: request rejected: status=400" in text
    db = state / "readerd.db"
    states = dict(rows(db, "SELECT status, count(*) FROM link GROUP BY 1"))
    assert states == {"done": 1, "pending": 1}
    assert rows(db, "SELECT status FROM digest_outbox") == [("failed",)]

    files = [p for p in state.rglob("*") if p.is_file()]
    files += [p for p in (tmp_path / "preview").rglob("*") if p.is_file()]
    assert any(p.name == "readerd.db" for p in files)
    blobs = {str(p): p.read_bytes() for p in files} | {"output": text.encode()}
    smtp_plain = base64.b64encode(
        f"\0{SMTP_USER}\0{SECRETS['READERD_SMTP_PASSWORD']}".encode()
    ).decode()
    for name, secret in [*SECRETS.items(), ("AUTH PLAIN", smtp_plain)]:
        leaks = [where for where, data in blobs.items() if secret.encode() in data]
        lines = [line for line in text.splitlines() if secret in line]
        assert leaks == [], f"{name} leaked into {leaks}: {lines[:5]}"

    created = [state, *state.rglob("*"), tmp_path / "preview", *(tmp_path / "preview").rglob("*")]
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in created
             if stat.S_IMODE(p.stat().st_mode) & 0o007}  # fmt: skip
    # The Atom feed is published on purpose (digest/feed.py makes it 0644 for a web server).
    assert loose == {"feed.xml": "0o644"}
