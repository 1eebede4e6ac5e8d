"""The `readerd` command: thin wrappers that parse, call the library, and print.

links    run, sync, process, import, list, show, search, stats
worker   worker --stages: processing only, for several workers on one database
db       db upgrade, db backup, db restore
status   status, doctor
digest   digest --preview/--send/--list
llm      llm-log, reprocess
tags     tags, tags merge
mcp      mcp: the library, read-only, to an MCP client (readerd.mcp_server)
context  settings(), engine(), read_engine(): what every command module imports
console  how results are printed; progress: the bar around a processing pass

Start-up is part of the interface: importing this package loads Typer and the command
modules, nothing else. Each command imports what it needs (settings, SQLAlchemy,
the pipeline) when it runs, so `readerd --help` never loads them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated

import typer

from readerd import __version__, exit_codes
from readerd.cli import (
    ask,
    console,
    context,
    db,
    digest,
    links,
    llm,
    mcp,
    status,
    tags,
    worker,
    writeback,
)
from readerd.errors import ConfigError, ReaderdError

#: Every command module, in the order `readerd --help` lists their commands.
COMMAND_MODULES = (links, worker, ask, db, status, digest, llm, tags, writeback, mcp)

#: Commands that only read the library: they need its location, not the validated
#: settings, and start without importing pydantic (see readerd/environment.py).
READ_COMMANDS = frozenset({"list", "show", "search"})

app = typer.Typer(
    name="readerd",
    help="Reads your saved links for you: sync, fetch, extract, tag, summarise, search.\n\n"
    "Configuration comes from READERD_* environment variables or a .env file "
    "(see .env.example). With no configuration readerd reads the bundled sample "
    "articles with the offline analyser.",
    epilog=exit_codes.EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        console.out.print(f"readerd {__version__}", markup=False)
        raise typer.Exit(exit_codes.OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version, exit."
        ),
    ] = False,
) -> None:
    """Reads your saved links for you."""


for _module in COMMAND_MODULES:
    _module.register(app)


def command_names() -> list[str]:
    """Every command line `readerd` accepts, sub-commands as "db upgrade", in help order."""
    import typer.main

    group = typer.main.get_command(app)
    names: list[str] = []

    def walk(command: object, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            names.append(prefix + name)
            walk(sub, prefix + name + " ")

    walk(group, "")
    return names


def _warn_about_settings(command: str | None) -> None:
    """Once per command: every unknown READERD_* name, every setting that cannot take effect.

    A read command is told only of unknown names: the others are about syncing and
    analysing, which it does not do, and checking them would cost it its fast start.
    """
    from readerd.cli.config_check import ineffective_settings, unknown_variables

    warnings = unknown_variables()
    if command not in READ_COMMANDS:
        with contextlib.suppress(ConfigError):  # invalid settings are the command's to report
            warnings += ineffective_settings(context.settings())
    for warning in warnings:
        console.print_warning(warning)


def main() -> None:
    """Entry point: run the app, turning readerd errors into one line and exit code."""
    os.umask(0o077)  # the database and logs hold private reading data
    context.reset()
    from readerd.logs import setup_logging  # one stderr line per event, secrets redacted

    # The settings' secrets join the redactor when the settings are first loaded.
    setup_logging(os.environ.get("READERD_LOG_LEVEL", "WARNING"))
    if not {"--help", "--version"} & set(sys.argv[1:]):
        _warn_about_settings(next((a for a in sys.argv[1:] if not a.startswith("-")), None))
    try:
        # Without standalone mode, click returns (not raises) the code of typer.Exit.
        code = app(standalone_mode=False)
    except ReaderdError as exc:
        from readerd.logs import redact  # configured secrets never reach the terminal

        console.print_error(redact(str(exc)))
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit as exc:
        sys.exit(exc.code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # usage errors arrive here in non-standalone mode
        _database_error(exc)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click's usage errors
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


def _database_error(exc: Exception) -> None:
    """A database error (e.g. a full disk) is one line naming the database, no traceback."""
    if "sqlalchemy" not in sys.modules:
        return
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        console.print_error(f"store: database error at {context.database_where()}: {exc.orig}")
        sys.exit(1)
