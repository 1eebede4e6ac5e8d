"""How the CLI shows things: JSON for scripts, tables and panels for people."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from readerd.results import LibraryStats, LinkView

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    """One JSON document on stdout, UTF-8, nothing else."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_error(message: str) -> None:
    """One clear line on stderr."""
    # The message may quote a server or a page: escaped, "[/]" in it is text, not markup.
    err.print(
        f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )


def print_note(message: str) -> None:
    """One informational line on stderr (stdout stays for results)."""
    err.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)


def print_warning(message: str) -> None:
    """One warning line on stderr."""
    err.print(
        f"[yellow]warning:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )


def print_links(links: Sequence[LinkView], empty: str = "No links yet.") -> None:
    """A table of links; `empty` is what to say when there are none."""
    if not links:
        out.print(empty, markup=False, soft_wrap=True)
        return
    snippets = any(link.get("snippet") for link in links)
    table = Table(show_lines=False, pad_edge=False, expand=False)
    table.add_column("id", justify="right")
    table.add_column("status")
    table.add_column("lang")
    table.add_column("title", overflow="fold", max_width=60)
    table.add_column("tags", overflow="fold", max_width=40)
    if snippets:
        table.add_column("why it matched", overflow="fold", max_width=60)
    for link in links:
        cells: list[str | Text] = [
            str(link["id"]),
            _status(link),
            link["language"] or "",
            Text(link["title"] or link["url"]),  # Text: a page's title is never markup
            Text(", ".join(link["tags"])),
        ]
        if snippets:
            cells.append(_highlight(link.get("snippet") or ""))
        table.add_row(*cells)
    out.print(table)


def _highlight(snippet: str) -> Text:
    """A search snippet with its [matched] words in bold (brackets kept for plain terminals)."""
    result = Text()
    for i, part in enumerate(snippet.replace("]", "[").split("[")):
        result.append(f"[{part}]" if i % 2 else part, style="bold" if i % 2 else "")
    return result


def when(iso: str | None) -> str:
    """A stored UTC time as local time: `14:05` today, else `2026-12-03 14:05`."""
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone()
    today = datetime.now().astimezone().date()
    return local.strftime("%H:%M" if local.date() == today else "%Y-%m-%d %H:%M")


def _status(link: LinkView) -> str:
    if link["deleted"]:
        return "deleted"
    if link["status"] == "pending" and link["attempts"]:
        nxt = link.get("next_attempt_at")
        return (
            f"retry ({link['attempts']}) next {when(nxt)}" if nxt else f"retry ({link['attempts']})"
        )
    return str(link["status"])


def print_link(link: LinkView) -> None:
    out.print(f"[bold]{_escape(link['title'] or link['url'])}[/]")
    out.print(link["url"], markup=False)
    facts = [
        link["site_name"],
        link["author"],
        link["published"],
        link["language"],
        f"{link['word_count']} words" if link["word_count"] else None,
    ]
    out.print(" · ".join(f for f in facts if f), markup=False)
    out.print(f"status: {_status(link)} (stage {link['stage']})", markup=False)
    if link.get("next_attempt_at"):
        out.print(f"next attempt: {when(link['next_attempt_at'])}", markup=False)
    if link["last_error"]:
        out.print(f"last error: {link['last_error']}", markup=False, soft_wrap=True)
    if link["tags"]:
        out.print("tags: " + ", ".join(link["tags"]), markup=False)
    width = max(40, min(out.width, 100))
    if link["summary"]:
        out.print()
        out.print("[bold]Summary[/]")
        out.print(
            textwrap.fill(link["summary"], width, initial_indent="  ", subsequent_indent="  "),
            markup=False,
            soft_wrap=True,
        )
    if link["key_points"]:
        out.print()
        out.print("[bold]Key points[/]")
    for point in link["key_points"]:
        wrapped = textwrap.fill(point, width, initial_indent="  • ", subsequent_indent="    ")
        out.print(wrapped, markup=False, soft_wrap=True)
    analysis = link.get("analysis")
    if analysis:
        out.print()
        out.print(
            f"analysed by {analysis['analyzer']} {analysis['model']} "
            f"(prompt {analysis['prompt_version']}, {analysis['tokens_in']}+"
            f"{analysis['tokens_out']} tokens, {analysis['latency_ms']} ms, "
            f"coverage {analysis['coverage']:.0%})",
            markup=False,
        )
        if "tag_article" in analysis["fallbacks"]:
            out.print("tags by the offline analyser: the model gave no valid tags", markup=False)


def print_stats(stats: LibraryStats) -> None:
    out.print(f"links: {stats['links']} (+{stats['deleted']} deleted)", markup=False)
    for label in ("by_status", "by_stage", "languages"):
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(stats[label].items()))
        out.print(f"{label.replace('_', ' ')}: {parts or '-'}", markup=False)
    out.print(f"words extracted: {stats['words']}", markup=False)
    out.print(f"LLM tokens: {stats['tokens_in']} in, {stats['tokens_out']} out", markup=False)
    for source in stats["sources"]:
        out.print(
            f"source {source['source']}: last sync {source['last_sync_at'] or 'never'} "
            f"({source['last_result'] or '-'})",
            markup=False,
        )


def _escape(value: str) -> str:
    return value.replace("[", r"\[")
