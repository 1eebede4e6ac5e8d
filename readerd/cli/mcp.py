"""`readerd mcp`: serve the library, read-only, to an MCP client over stdio."""

from __future__ import annotations

from pathlib import Path

import typer

from readerd.cli import context
from readerd.errors import ReaderdError

HELP = (
    "Serve your library to an MCP client (Claude Desktop, an IDE, any agent) over "
    "stdin/stdout, read-only.\n\n"
    "Tools: search_library, get_article, list_tags, get_digest. The database is opened "
    "read-only: the client can search and read, never change anything. Needs the optional "
    "SDK: pip install 'readerd\\[mcp]'. The client starts the command itself; see README.\n\n"
    "\b\nExample client configuration:\n"
    '  {"mcpServers": {"readerd": {\n'
    '    "command": "readerd", "args": ["mcp"],\n'
    '    "env": {"READERD_DATA_DIR": "/home/me/.local/share/readerd"}}}}\n'
)


def register(app: typer.Typer) -> None:
    """Add the `mcp` command to the app."""
    app.command("mcp", help=HELP, short_help="Serve the library read-only to an MCP client.")(mcp)


def mcp() -> None:
    """Serve the library to an MCP client over stdio, read-only."""
    from importlib.util import find_spec

    from readerd.mcp_server import INSTALL_HINT

    if find_spec("mcp") is None:  # before opening anything: one line, exit 2
        from readerd.errors import ConfigError

        raise ConfigError(INSTALL_HINT)
    from readerd.mcp_server import serve

    settings = context.settings()
    database = settings.db_url.removeprefix("sqlite:///")
    if database != settings.db_url and not Path(database).exists():
        raise ReaderdError(
            f"mcp: no library at {database} yet: `readerd run` builds it "
            "(READERD_DATA_DIR says where it is)"
        )
    serve(context.engine(settings, write=False))
