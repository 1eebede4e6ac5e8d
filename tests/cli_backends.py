"""Helpers of the CLI tests that run on both backends (no fixtures here; see conftest's).

`backend_cli` is function-scoped; conftest's `cli_on` makes the same CLI for a fixture
of wider scope (one library read once for a module, on each backend). `shown_location` is where
readerd says the database is: the SQLite file's URL, or the server's with its password
hidden.
"""

from __future__ import annotations

from sqlalchemy.engine.url import make_url

from tests.conftest import ReaderdCLI

#: A password put into the PostgreSQL URL (trust auth ignores it) to be kept out of output.
PASSWORD = "s3cret-pw"


def is_postgresql(cli: ReaderdCLI) -> bool:
    return make_url(cli.database_url).get_backend_name() == "postgresql"


def add_password(cli: ReaderdCLI) -> None:
    """Give a PostgreSQL CLI's URL a password (PASSWORD), as a real deployment's has one."""
    url = make_url(cli.database_url).set(password=PASSWORD)
    cli.env["READERD_DATABASE_URL"] = url.render_as_string(hide_password=False)


def shown_location(cli: ReaderdCLI) -> str:
    """Where readerd says the database is: `sqlite:///<file>`, or the URL, password `***`."""
    if not is_postgresql(cli):
        return f"sqlite:///{cli.db_path}"
    return make_url(cli.database_url).render_as_string(hide_password=True)
