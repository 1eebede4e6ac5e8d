"""`readerd ask "QUESTION"`: answered from your articles, every citation checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from readerd import exit_codes
from readerd.cli import console, context

if TYPE_CHECKING:
    from readerd.ask.conversation import AskResult
    from readerd.ask.extractive import Found
    from readerd.ask.library import Library

HELP = (
    "Ask your library a question; the answer comes from your saved articles, with sources.\n\n"
    "readerd searches for the question, lets the model (READERD_LLM_*) search and read "
    "more, and checks every citation itself: the article must be one the search found, "
    "the quote must occur in its text. An answer with no citation that holds is printed "
    "as unverified, with the articles found. Without a model, ask prints the passages "
    "that match best. Every request goes in `readerd llm-log`.\n\n"
    "\b\nExamples:\n"
    '  readerd ask "what did I save about mixture-of-experts?"\n'
    '  readerd ask "¿qué leí sobre placas solares y baterías?" --since 2026-01-01\n'
    '  readerd ask "compost in winter" --tag garden --json\n'
)
NO_MODEL = (
    "no model is configured (READERD_LLM_BASE_URL, READERD_LLM_MODEL): these are the "
    "passages that match best; a model would write an answer from them"
)


EMBED_HELP = (
    "Embed analysed articles for `search --semantic` and `ask` (READERD_EMBED_*).\n\n"
    "One vector per article, from its title, summary, tags and opening text (at most "
    "READERD_EMBED_MAX_CHARS), kept in vectors.sqlite beside the database. An article "
    "is embedded again only when that input or the model changed; `run` and the daemon "
    "embed new articles after each processing pass. --all embeds every article again."
)


def register(app: typer.Typer) -> None:
    """Add the `ask` and `embed` commands to the app."""
    app.command("ask", help=HELP, short_help="Ask your library; answers cite your articles.")(ask)
    app.command("embed", help=EMBED_HELP, short_help="Embed articles for semantic search.")(embed)


def embed(
    everything: Annotated[
        bool, typer.Option("--all", help="Embed every article again, changed or not.")
    ] = False,
) -> None:
    from readerd.ask.semantic import embed_library
    from readerd.cli.progress import progress_bar
    from readerd.errors import AnalysisError, ConfigError

    settings = context.settings()
    if not settings.use_embeddings:
        raise ConfigError("embed: set READERD_EMBED_BASE_URL and READERD_EMBED_MODEL first")
    engine = context.engine(settings)
    with progress_bar("embedding") as advance:
        try:
            report = embed_library(settings, engine, everything=everything, on_progress=advance)
        except AnalysisError as exc:
            console.print_error(str(exc))
            raise typer.Exit(exit_codes.ITEMS_FAILED) from None
    console.out.print(
        f"embedded: {report.embedded}, unchanged: {report.unchanged}, removed: {report.removed}",
        markup=False,
    )


def ask(
    question: Annotated[str, typer.Argument(help="The question, in any language.")],
    tag: Annotated[str | None, typer.Option(help="Only articles with this tag.")] = None,
    since: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Only articles saved since then.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10, help="Articles the first search brings (1-10).")
    ] = 5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout.")
    ] = False,
) -> None:
    from datetime import date

    from readerd.ask.library import Library

    if since is not None:
        try:
            date.fromisoformat(since)
        except ValueError:
            console.print_error(f"ask: --since {since!r} is not a date such as 2026-01-31")
            raise typer.Exit(exit_codes.USAGE) from None
    settings = context.settings()
    library = Library(context.engine(settings), tag=tag, since=since, settings=settings)
    if not settings.use_llm:
        from readerd.ask.extractive import matching_passages

        found = matching_passages(library, question, limit)
        _print_passages(question, found, as_json)
        return
    result = _converse(library, question, limit)
    _print_answer(result, as_json)


def _converse(library: Library, question: str, limit: int) -> AskResult:
    import asyncio

    from readerd.analyze.openai.client import ChatClient
    from readerd.ask.conversation import Conversation
    from readerd.errors import AnalysisError
    from readerd.store import queue

    client = ChatClient(context.analysing_settings())
    conversation = Conversation(client, library, question, limit)

    async def run() -> AskResult:
        try:
            return await conversation.run()
        finally:
            await client.aclose()

    try:
        result = asyncio.run(run())
    except AnalysisError as exc:
        queue.log_llm_calls(library.engine, None, conversation.result.calls)
        from readerd.ask.extractive import matching_passages

        console.print_error(f"ask: {exc}")
        found = matching_passages(library, question, limit)
        _print_passages(question, found, False, note="the passages that match best, unanswered")
        raise typer.Exit(exit_codes.ITEMS_FAILED) from None
    queue.log_llm_calls(library.engine, None, result.calls)
    return result


def _print_answer(result: AskResult, as_json: bool) -> None:
    if as_json:
        console.print_json(result.document())
        return
    say = console.out.print
    if not result.verified:
        console.print_note("unverified: no citation could be checked against your articles")
    say(result.answer or "(the model gave no answer)", markup=False, soft_wrap=True)
    if result.citations:
        say()
        for number, c in enumerate(result.citations, 1):
            site = f" — {c.site}" if c.site else ""
            say(f'[{number}] {c.title}{site} — {c.url} — "{c.quote}"', markup=False, soft_wrap=True)
    elif result.hits:
        say("\nArticles found:", markup=False)
        for hit in result.hits:
            say(f"  #{hit.id} {hit.title} — {hit.url}", markup=False, soft_wrap=True)


def _print_passages(question: str, found: list[Found], as_json: bool, note: str = NO_MODEL) -> None:
    if as_json:
        console.print_json(
            {
                "question": question,
                "answer": None,
                "verified": False,
                "note": note,
                "passages": [
                    {"id": f.hit.id, "title": f.hit.title, "url": f.hit.url, "passage": f.passage}
                    for f in found
                ],
            }
        )
        return
    console.print_note(note)
    if not found:
        console.out.print(f"Nothing in your library matches {question!r}.", markup=False)
    for number, item in enumerate(found, 1):
        console.out.print(
            f"[{number}] {item.hit.title} — {item.hit.url}\n    {' '.join(item.passage.split())}\n",
            markup=False,
            soft_wrap=True,
        )
