"""`readerd mcp`: a real MCP client (the official SDK) and `python -m readerd mcp` on stdio."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult
from sqlalchemy.exc import DBAPIError

from readerd.config import Settings
from readerd.mcp_server import refuse_writes
from readerd.store import merge_tags
from readerd.store.database import make_engine
from readerd.store.views import tag_counts
from tests.conftest import ReaderdCLI
from tests.servers.smtp import StartServer

TOOLS = {"search_library", "get_article", "list_tags", "get_digest"}


def _session(cli: ReaderdCLI, talk: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Start `python -m readerd mcp` as an MCP client does, and talk to it over stdio."""

    async def run() -> Any:
        server = StdioServerParameters(
            command=sys.executable,
            args=["-m", "readerd", "mcp"],
            env={**cli.base_env(), **cli.env},
            cwd=str(cli.data_dir),
        )
        async with (
            stdio_client(server) as (read, write),
            ClientSession(read, write, timedelta(seconds=60)) as session,
        ):
            await session.initialize()
            return await talk(session)

    return asyncio.run(run())


def _data(result: CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    [content] = result.content
    assert content.type == "text"
    data: dict[str, Any] = json.loads(content.text)  # what every client can read
    assert result.structuredContent == data  # and the same as structured content
    return data


def _error(result: CallToolResult) -> str:
    assert result.isError
    return " ".join(c.text for c in result.content if c.type == "text")


def test_a_client_searches_reads_and_lists_tags(backend_cli: ReaderdCLI) -> None:
    readerd_cli = backend_cli
    readerd_cli("run", "--once")

    async def talk(session: ClientSession) -> dict[str, Any]:
        listed = await session.list_tools()
        calls = {
            "tools": {tool.name: tool for tool in listed.tools},
            "search": await session.call_tool("search_library", {"query": "compost"}),
            "tags": await session.call_tool("list_tags", {}),
            "no digest": await session.call_tool("get_digest", {"date": "2026-01-01"}),
            "unknown": await session.call_tool("get_article", {"id": 999}),
            "too many": await session.call_tool("search_library", {"query": "x", "limit": 50}),
            "bad date": await session.call_tool("get_digest", {"date": "01/01/2026"}),
        }
        [hit] = _data(calls["search"])["hits"]
        calls["article"] = await session.call_tool(
            "get_article", {"id": hit["id"], "query": "smell"}
        )
        return calls

    calls = _session(readerd_cli, talk)
    assert set(calls["tools"]) == TOOLS
    assert all(tool.annotations.readOnlyHint for tool in calls["tools"].values())

    [hit] = _data(calls["search"])["hits"]
    assert hit["url"].endswith("en-home-composting.html")
    assert hit["title"] == "Home Composting Without the Smell"
    assert "[composting]" in hit["snippet"] and "composting" in hit["tags"]

    article = _data(calls["article"])
    assert (article["id"], article["title"]) == (hit["id"], hit["title"])
    assert article["url"] == hit["url"] and article["summary"]
    assert article["passages"] and all(article["passages"])
    assert any("smell" in passage.casefold() for passage in article["passages"])

    tags = {row["tag"]: row for row in _data(calls["tags"])["tags"]}
    assert tags["composting"]["count"] == 1 and len(tags) >= 7

    assert _data(calls["no digest"]) == {
        "date": "2026-01-01",
        "found": False,
        "message": "no digest was made for 2026-01-01",
        "digest_dates": [],
    }
    assert "no article with id 999" in _error(calls["unknown"])
    assert "less than or equal to 10" in _error(calls["too many"])
    assert "date must be a date such as 2026-01-31, not '01/01/2026'" in _error(calls["bad date"])


def test_get_digest_lists_the_articles_of_a_sent_digest(
    readerd_cli: ReaderdCLI, start_smtp: StartServer
) -> None:
    smtp = start_smtp()
    readerd_cli("run", "--once")
    readerd_cli(
        "digest", "--send", "--date", "2026-11-22",
        READERD_SMTP_HOST=smtp.host, READERD_SMTP_PORT=str(smtp.port),
        READERD_SMTP_SECURITY="none", READERD_DIGEST_FROM="digest@example.org",
        READERD_DIGEST_TO="me@example.org",
    )  # fmt: skip

    async def talk(session: ClientSession) -> tuple[CallToolResult, CallToolResult]:
        return (
            await session.call_tool("get_digest", {"date": "2026-11-22"}),
            await session.call_tool("get_digest", {"date": "2026-11-21"}),
        )

    sent, other_day = _session(readerd_cli, talk)
    digest = _data(sent)
    assert digest["found"] and digest["status"] == ["sent"] and digest["subject"]
    urls = {article["url"].rsplit("/", 1)[-1] for article in digest["articles"]}
    assert "en-home-composting.html" in urls and len(urls) == 7
    assert all(article["title"] and article["summary"] for article in digest["articles"])
    missing = _data(other_day)
    assert (missing["found"], missing["digest_dates"]) == (False, ["2026-11-22"])
    assert missing["message"] == "no digest was made for 2026-11-21"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_session_leaves_the_database_as_it_was(readerd_cli: ReaderdCLI) -> None:
    readerd_cli("run", "--once")
    before = _digest(readerd_cli.db_path)

    async def talk(session: ClientSession) -> None:
        for name, arguments in [
            ("search_library", {"query": "compost solar bicycle", "limit": 10}),
            ("get_article", {"id": 1}),
            ("list_tags", {}),
            ("get_digest", {"date": "2026-11-22"}),
        ]:
            await session.call_tool(name, arguments)

    _session(readerd_cli, talk)
    assert _digest(readerd_cli.db_path) == before


def test_the_servers_database_connections_refuse_writes(backend_cli: ReaderdCLI) -> None:
    readerd_cli = backend_cli
    readerd_cli("run", "--once")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=readerd_cli.data_dir, database_url=readerd_cli.database_url
    )
    engine = refuse_writes(make_engine(settings, write=False))
    with pytest.raises(DBAPIError, match=r"readonly database|read-only transaction"):
        merge_tags(engine, "composting", "compost")
    assert "composting" in {row["tag"] for row in tag_counts(engine)}
    engine.dispose()


def test_a_read_only_data_directory_is_served(readerd_cli: ReaderdCLI) -> None:
    readerd_cli("run", "--once")
    for path in readerd_cli.data_dir.iterdir():
        path.chmod(0o400 if path.is_file() else 0o500)
    readerd_cli.data_dir.chmod(0o500)
    try:

        async def talk(session: ClientSession) -> CallToolResult:
            return await session.call_tool("search_library", {"query": "compostaje compost"})

        [hit] = _data(_session(readerd_cli, talk))["hits"]
    finally:
        readerd_cli.data_dir.chmod(0o700)
    assert hit["url"].endswith("en-home-composting.html")


def test_without_the_sdk_mcp_says_how_to_install_it(
    readerd_cli: ReaderdCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "mcp" or m.startswith("mcp.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "mcp", None)
    result = readerd_cli("mcp", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: mcp: the MCP server needs the mcp extra: pip install 'readerd[mcp]'"
    ]


def test_without_a_library_mcp_says_so_and_creates_nothing(readerd_cli: ReaderdCLI) -> None:
    result = readerd_cli("mcp", check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: mcp: no library at {readerd_cli.db_path} yet")
    assert not readerd_cli.db_path.exists()


def test_the_cli_starts_without_importing_the_sdk() -> None:
    code = "import sys, readerd.cli; print('mcp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_help_names_the_extra_and_a_client_configuration(readerd_cli: ReaderdCLI) -> None:
    result = readerd_cli("mcp", "--help")
    assert "pip install 'readerd[mcp]'" in " ".join(result.stdout.split())
    assert '"command": "readerd", "args": ["mcp"]' in result.stdout
