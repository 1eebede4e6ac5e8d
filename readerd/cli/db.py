"""`readerd db upgrade`, `db backup`, `db restore` and `db copy`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from readerd.cli import console, context


def register(app: typer.Typer) -> None:
    """Add the `db` group to the app."""
    db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    db_app.command("backup")(db_backup)
    db_app.command("restore")(db_restore)
    db_app.command("copy", help=COPY_HELP, short_help="Copy the library into PostgreSQL.")(db_copy)
    app.add_typer(db_app, name="db")


def db_upgrade() -> None:
    """Create or migrate the database schema to this version of readerd."""
    from readerd.store.database import make_engine, schema_revisions, upgrade_database

    settings = context.settings()
    engine = make_engine(settings)
    where = engine.url.render_as_string()
    before, head = schema_revisions(engine)
    upgrade_database(engine)
    if before is None:
        message = f"created the database at {where} (schema {head})"
    elif before != head:
        message = f"database at {where} upgraded from schema {before} to {head}"
    else:
        message = f"database at {where} is up to date (schema {head})"
    console.out.print(message, markup=False, soft_wrap=True)


COPY_HELP = (
    "Copy this SQLite library into an empty PostgreSQL database, then check the counts.\n\n"
    "Links, articles, analyses, tags and aliases, the LLM call log, the digest outbox, "
    "sync cursors and write-back state are copied with their ids, in one transaction (a "
    "failed copy leaves the target empty); the full-text index is rebuilt there. Stop "
    "the daemon first, then point READERD_DATABASE_URL at the target.\n\n"
    "Example: readerd db copy --to 'postgresql+psycopg://readerd@/readerd?host=/run/postgresql'"
)


def db_copy(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The target's URL: postgresql+psycopg://USER[:PASSWORD]@HOST/DB."
        ),
    ],
) -> None:
    from readerd.errors import ConfigError
    from readerd.store.copy import copy_library
    from readerd.store.database import make_engine, server_engine

    try:
        target = server_engine(to)
    except ConfigError as exc:
        raise ConfigError(f"db copy: --to: {exc}") from None
    source = make_engine(context.settings(), write=False)
    where = target.url.render_as_string()  # the password shown as ***
    report = copy_library(source, target)
    counts = ", ".join(f"{n} {table}" for table, n in report.rows.items() if n)
    console.out.print(
        f"copied to {where}: {counts or 'an empty library'}; every count checked",
        markup=False,
        soft_wrap=True,
    )
    console.out.print(
        "next: stop using this SQLite file and set READERD_DATABASE_URL to the target",
        markup=False,
    )


def db_backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (one SQLite file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Copy the database to PATH, safely while the daemon runs; the copy is mode 600."""
    from readerd.store.backup import backup_database

    done = backup_database(context.settings(), path, force=force)
    console.out.print(
        f"backup written to {done.path}: {done.size} bytes, schema {done.revision}, integrity ok",
        markup=False,
    )


def db_restore(
    path: Annotated[Path, typer.Argument(help="A copy written by `readerd db backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the current database if there is one.")
    ] = False,
) -> None:
    """Put a backup back as the database; stop the daemon first."""
    from readerd.store.backup import restore_database

    done = restore_database(context.settings(), path, force=force)
    console.out.print(
        f"restored {path} to {done.path}: schema {done.revision}, integrity ok",
        markup=False,
        soft_wrap=True,
    )
