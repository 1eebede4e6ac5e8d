"""`readerd tags`: the tag vocabulary with counts by origin and near-duplicates; `tags merge`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from readerd.cli import console, context

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from readerd.results import TagRow

HELP = (
    "Show every tag, how many links carry it and from where: 'source' tags come from your "
    "read-later service or export, 'ai' tags were chosen by the analyser (re-analysis "
    "replaces only those).\n\n"
    "The 'similar to' column flags near-duplicates: tags whose spellings differ only in case, "
    "accents, separators, a plural or a typo. Fold one into another with "
    "`readerd tags merge OLD NEW`.\n\n"
    "\b\nExamples:\n"
    "  readerd tags                     the table\n"
    "  readerd tags --json              the same, for scripts\n"
    "  readerd tags merge recipe recipes\n"
)
MERGE_HELP = (
    "Relabel every link tagged OLD as NEW and delete OLD.\n\n"
    "Each link keeps the origin of its tag (source or ai); NEW is created when it does not "
    "exist yet, which makes this a rename too. Search is updated for the links concerned.\n\n"
    "\b\nExample:\n"
    "  readerd tags merge photografy photography\n"
)


def register(app: typer.Typer) -> None:
    """Add the `tags` command (and `tags merge`) to the app."""
    tags_app = typer.Typer(no_args_is_help=False, add_completion=False)
    tags_app.callback(
        invoke_without_command=True, help=HELP, short_help="Tags by origin, near-duplicates, merge."
    )(show_tags)
    tags_app.command("merge", help=MERGE_HELP)(merge)
    app.add_typer(tags_app, name="tags")


def tag_rows(engine: Engine) -> list[TagRow]:
    """Every tag with its counts by origin and the tags that look like spellings of it."""
    from readerd.results import TagRow
    from readerd.store.views import tag_counts
    from readerd.text.tags import similar_tags

    rows = tag_counts(engine)
    similar = similar_tags(row["tag"] for row in rows)
    return [TagRow(**row, similar=similar.get(row["tag"], [])) for row in rows]


def show_tags(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout.")
    ] = False,
) -> None:
    """List tags with counts by origin, flagging near-duplicates."""
    if ctx.invoked_subcommand is not None:
        return

    rows = tag_rows(context.read_engine())
    if as_json:
        console.print_json(rows)
        return
    _print_table(rows)


def _print_table(rows: list[TagRow]) -> None:
    if not rows:
        console.out.print("No tags yet.")
        return
    table = Table(pad_edge=False)
    for name in ("tag", "links", "ai"):
        table.add_column(name, justify="left" if name == "tag" else "right")
    table.add_column("source", justify="right")
    table.add_column("similar to", overflow="fold", max_width=50)
    for row in rows:
        table.add_row(
            row["tag"],
            str(row["count"]),
            str(row["ai"]),
            str(row["source"]),
            ", ".join(row["similar"]),
        )
    console.out.print(table)
    flagged = sum(1 for row in rows if row["similar"])
    line = f"{len(rows)} tags"
    if flagged:
        line += f"; {flagged} look like near-duplicates: `readerd tags merge OLD NEW` folds them"
    console.out.print(line, markup=False)


def merge(
    old: Annotated[str, typer.Argument(metavar="OLD", help="The tag to fold away.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="The tag to keep (or create).")],
) -> None:
    """Relabel every link tagged OLD as NEW, keeping origins; OLD is deleted."""
    from readerd.store import merge_tags

    settings = context.settings()
    count = merge_tags(context.engine(settings), old, new)
    console.out.print(
        f"merged {old!r} into {new.strip()!r}: {count} links relabelled", markup=False
    )
