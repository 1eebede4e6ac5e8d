"""The `readerd` command: thin wrappers that parse, call the library, and print."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from readerd import console, library, store
from readerd.commands import register_all
from readerd.config import Settings, load_settings
from readerd.database import (
    make_engine,
    require_current_schema,
    schema_revisions,
    upgrade_database,
)
from readerd.errors import ConfigError, ReaderdError

app = typer.Typer(
    name="readerd",
    help="Reads your saved links for you: sync, fetch, extract, tag, summarise, search.\n\n"
    "Configuration comes from READERD_* environment variables or a .env file "
    "(see .env.example). With no configuration readerd reads the bundled sample "
    "articles with the offline analyser.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"READERD_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"config: {problems}") from None


def _engine(settings: Settings, *, upgrade: bool = False, write: bool = True) -> Engine:
    engine = make_engine(settings, write=write)
    # A brand-new database is created on first use; an existing one at another
    # revision is left alone (a running daemon may own it) and reported.
    if upgrade or schema_revisions(engine)[0] is None:
        upgrade_database(engine)
    else:
        require_current_schema(engine)
    return engine


def _setup_logging(level: str) -> None:
    from readerd.logs import setup_logging  # one stderr line per event, secrets redacted

    setup_logging(level)


@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Sync, process everything due, exit.")
    ] = False,
) -> None:
    """Run readerd: with --once, one sync and one processing pass; else the daemon."""
    settings = _settings()
    if not once:
        from readerd.daemon import run_daemon  # imported late: only the daemon needs it

        raise typer.Exit(run_daemon(settings))
    engine = _engine(settings, upgrade=True)
    _sync(settings, engine)
    _process(settings, engine)


@app.command()
def sync() -> None:
    """Pull new and changed links from the configured source."""
    settings = _settings()
    _sync(settings, _engine(settings, upgrade=True))


@app.command()
def process() -> None:
    """Fetch, extract and analyse every link that is due."""
    settings = _settings()
    _process(settings, _engine(settings, upgrade=True))


def _sync(settings: Settings, engine: Engine) -> None:
    from readerd.pipeline import sync_links

    report = asyncio.run(sync_links(settings, engine))
    console.out.print(
        f"sync {report.source}: {report.new} new, {report.updated} updated, "
        f"{report.deleted} deleted, {report.unchanged} unchanged",
        markup=False,
    )


def _process(settings: Settings, engine: Engine) -> None:
    from readerd.progress import run_with_progress

    touched: list[int] = []
    report = run_with_progress(settings, engine, on_item=lambda link_id, _: touched.append(link_id))
    if touched:
        console.print_links(library.list_links(engine, ids=touched, limit=len(touched)))
    console.out.print(
        f"processed: {report.done} analysed, {report.skipped_unchanged} unchanged, "
        f"{report.retry} to retry, {report.failed} failed, {report.unsupported} unsupported",
        markup=False,
    )
    if report.llm_stopped:
        console.print_error(f"LLM stage stopped: {report.llm_stopped}")


@app.command("import")
def import_file(
    path: Annotated[
        Path,
        typer.Argument(
            help="Pocket export (CSV, ZIP, ril_export.html) or a list of URLs.",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Add links from a Pocket export or a plain list of URLs; `process` reads them."""
    from readerd.sources import read_import_file

    settings = _settings()
    engine = _engine(settings, upgrade=True)
    links = read_import_file(path)
    report = store.import_links(engine, links)
    console.out.print(
        f"import {path.name}: {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged",
        markup=False,
    )


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help="pending, done, failed or unsupported.")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only links with this tag.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List links, newest first."""
    links = library.list_links(_read_engine(), status=status, tag=tag, limit=limit)
    console.print_json(links) if as_json else console.print_links(links)


@app.command()
def show(
    link_id: Annotated[
        int, typer.Argument(metavar="ID", help="The link's id (see `readerd list`).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Show one link: metadata, summary, key points, tags, status."""
    link = library.get_link(_read_engine(), link_id)
    if link is None:
        raise ReaderdError(f"show: no link with id {link_id}")
    console.print_json(link) if as_json else console.print_link(link)


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help="Words to find in titles, summaries, tags and text.")
    ],
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Full-text search (accent-insensitive, prefix matching), best match first."""
    links = library.search(_read_engine(), query, limit=limit)
    console.print_json(links) if as_json else console.print_links(links)


@app.command()
def stats(as_json: JsonOption = False) -> None:
    """Counts per status, stage and language; LLM tokens; source sync state."""
    data = library.stats(_read_engine())
    console.print_json(data) if as_json else console.print_stats(data)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to this version of readerd."""
    settings = _settings()
    engine = make_engine(settings)
    upgrade_database(engine)
    console.out.print(f"database at {engine.url.render_as_string()} is up to date", markup=False)


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (one SQLite file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Copy the database to PATH, safely while the daemon runs; the copy is mode 600."""
    from readerd.backup import backup_database

    done = backup_database(_settings(), path, force=force)
    console.out.print(
        f"backup written to {done.path}: {done.size} bytes, schema {done.revision}, integrity ok",
        markup=False,
    )


register_all(app)


def _read_engine() -> Engine:
    return _engine(_settings(), write=False)


def main() -> None:
    """Entry point: run the app, turning readerd errors into one line and exit code."""
    os.umask(0o077)  # the database and logs hold private reading data
    level = os.environ.get("READERD_LOG_LEVEL", "WARNING")
    _setup_logging(level)
    try:
        # Without standalone mode, click returns (not raises) the code of typer.Exit.
        code = app(standalone_mode=False)
    except ReaderdError as exc:
        from readerd.logs import redact  # configured secrets never reach the terminal

        console.print_error(redact(str(exc)))
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", None) or getattr(exc, "code", 0)
        sys.exit(code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # usage errors arrive here in non-standalone mode
        if isinstance(exc, DBAPIError):  # e.g. a full disk: one line, no traceback
            console.print_error(f"store: database error: {exc.orig}")
            sys.exit(1)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
